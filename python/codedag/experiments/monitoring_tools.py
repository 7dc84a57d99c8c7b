"""Seed-compatible alias: ``from codedag.experiments.monitoring_tools import ExperimentMonitor``
works as ``from experiments.monitoring_tools import ExperimentMonitor`` did in seed 001."""

from .monitor import ExperimentMonitor, MetricsLogger, ResourceMonitor, Timer

__all__ = ["Timer", "ResourceMonitor", "MetricsLogger", "ExperimentMonitor"]
