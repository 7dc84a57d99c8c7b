"""The migration area: apply a codedag.plan/1 to unchanged code (``PipelineMigrator``), the strategy
registry of tensor implementations of library calls (``register_strategy``), verification of
migrated outputs against the baseline (``verify``) and the closed loop (``optimize_pipeline``)."""

from .closed_loop import OptimizationResult, optimize_pipeline
from .migrator import PipelineMigrator
from .registry import register as register_strategy
from .verify import VerificationReport, verify

__all__ = ["OptimizationResult", "PipelineMigrator", "VerificationReport", "optimize_pipeline",
           "register_strategy", "verify"]
