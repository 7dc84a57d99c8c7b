"""Monitoring of training runs: batch times, loss and accuracy, and a C++ resource sampler (CPU,
memory, GPUs, container limits), saved in seed 001's result JSON and compared in an HTML/SVG report.
See docs/monitoring.md.
"""

from .experiment_monitor import (
    ExperimentMonitor,
    MetricsLogger,
    ResourceMonitor,
    Timer,
    compare_results,
    render_report,
)

__all__ = [
    "ExperimentMonitor",
    "MetricsLogger",
    "ResourceMonitor",
    "Timer",
    "compare_results",
    "render_report",
]
