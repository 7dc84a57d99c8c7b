"""Tracing: ``EnhancedTracer`` turns a DataLoader batch (workers included) into the pipeline DAG.

The hook, context tree, worker-stream merge and DAG builder are C++ (``codedag._core``); this
package holds the options, the DataLoader glue and the hand-off to the experiment store.
See docs/tracer.md.
"""

from .tracer import EnhancedTracer

__all__: list[str] = ["EnhancedTracer"]
