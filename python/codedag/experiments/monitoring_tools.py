from codedag.monitor import ExperimentMonitor, MetricsLogger, ResourceMonitor, Timer  # noqa: F401  seed path alias
