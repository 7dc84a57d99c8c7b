"""Monitoring of training runs: batch times, loss and accuracy, and a C++ resource sampler (CPU,
memory, GPUs, container limits), saved in seed 001's result JSON and compared in an HTML/SVG report.

The seed's import path ``experiments.monitoring_tools`` lives on as
``codedag.experiments.monitoring_tools``.
"""

from .monitor import ExperimentMonitor, MetricsLogger, ResourceMonitor, Timer, compare_results, render_report

__all__ = [
    "ExperimentMonitor",
    "MetricsLogger",
    "ResourceMonitor",
    "Timer",
    "compare_results",
    "render_report",
]
