"""Seed-compatible import path: ``from codedag.optimizer.optimizer_manager import OptimizerManager``."""

from .manager import OptimizerManager, evaluate_plan

__all__ = ["OptimizerManager", "evaluate_plan"]
