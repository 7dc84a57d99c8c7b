"""Seed import path alias package: monitoring lives in ``codedag.monitor``."""
