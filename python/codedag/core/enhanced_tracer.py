from codedag.trace.tracer import DagBuilder, EnhancedTracer  # noqa: F401  seed path alias
