"""Seed import path alias package: the optimizer lives in ``codedag.graph``."""
