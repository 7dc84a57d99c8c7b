"""Live patching: apply a codedag.plan/1 to unchanged code (``PipelineMigrator``) and take it back.
See docs/migration.md."""

from .migrator import PipelineMigrator

__all__ = ["PipelineMigrator"]
