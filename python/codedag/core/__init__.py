"""The core area of CodeDAG: the tracer (``EnhancedTracer``) that turns a DataLoader batch into the
pipeline DAG. See docs/tracer.md."""

from .tracer import EnhancedTracer

__all__: list[str] = ["EnhancedTracer"]
