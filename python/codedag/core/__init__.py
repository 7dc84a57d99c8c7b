"""Seed import path alias package: the tracer lives in ``codedag.trace``."""
