"""Seed-compatible import path: ``from codedag.migration.api import PipelineMigrator``."""

from .migrator import PipelineMigrator

__all__ = ["PipelineMigrator"]
