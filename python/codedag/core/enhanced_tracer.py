"""Seed-compatible import path: ``from codedag.core.enhanced_tracer import EnhancedTracer``."""

from .tracer import DagBuilder, EnhancedTracer

__all__ = ["EnhancedTracer", "DagBuilder"]
