"""torch.utils.data glue for the tracer: trace inside DataLoader workers and tell the parent which
batches it consumed. How it works (docs/tracer.md, "DataLoader workers"):

- Workers start (and prefetch) when the iterator is created, often before the traced ``next()``.
  So iterators created while an EnhancedTracer exists are *armed*: their workers get a picklable
  ``worker_init_fn`` wrapper (fork and spawn alike) that starts a tracer session in the worker and
  wraps each fetch: the first ``window`` batches of every epoch are traced, each root-level call
  that returns is streamed to ``<stream dir>/worker-<id>.jsonl`` (C++ StreamWriter), then the hook
  is removed for the rest of the epoch so training is not slowed.
- In the parent, the iterator reports each batch consumed while a tracer is active: (stream dir,
  epoch, batch index). The tracer merges the matching worker records by context key when its DAG
  is built (C++ merge_streams).
- Every patch of torch.utils.data is made by ``codedag.dataloader_hooks``; this module registers
  one ``LoaderHook`` there while any EnhancedTracer is alive.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
import warnings
import weakref

from .. import dataloader_hooks

_lock = threading.RLock()  # re-entrant: a tracer collected during register() runs _tracer_gone here
_tracers: weakref.WeakSet = weakref.WeakSet()  # tracers alive: iterators created now are armed
_alive = 0  # tracers not yet collected; the hook stays registered while any is
_active = None  # the tracer currently tracing in this process (set by EnhancedTracer.start)
DEFAULT_EXTRA_WINDOW = 2


def set_active(tracer) -> None:
    global _active
    _active = tracer


def active():
    return _active


def register(tracer) -> None:
    """Arms iterators created from now on while ``tracer`` lives (only if torch is importable)."""
    global _alive
    if importlib.util.find_spec("torch") is None:
        return
    with _lock:
        _tracers.add(tracer)
        _alive += 1
        dataloader_hooks.add(_HOOK)
    weakref.finalize(tracer, _tracer_gone)


def _tracer_gone() -> None:
    global _alive
    with _lock:
        _alive -= 1
        if _alive == 0:
            dataloader_hooks.remove(_HOOK)


class _TracerHook(dataloader_hooks.LoaderHook):
    """The tracer's steps into torch.utils.data (codedag.dataloader_hooks owns the patches)."""

    rank = 10  # outside the migrator's worker set-up: a traced worker traces the planned code too

    def wrap_worker_init(self, iterator, loader, worker_init_fn):
        tracers = list(_tracers)
        if not tracers:
            return worker_init_fn
        window = max(t._worker_window(loader) for t in tracers)
        config = tracers[0]._worker_config()
        stream_dir = tempfile.mkdtemp(prefix="codedag-trace-")
        iterator._codedag_stream = stream_dir
        weakref.finalize(iterator, shutil.rmtree, stream_dir, True)
        return WorkerTracing(worker_init_fn, stream_dir, config, window)

    def batch_arrived(self, iterator, epoch, index):
        tracer = _active
        if tracer is None:
            return
        stream = getattr(iterator, "_codedag_stream", None)
        if stream is None:
            tracer._unarmed_batch()
        else:
            tracer._consumed_batch(stream, epoch, index, iterator._num_workers)

    def batch_lost(self, iterator, epoch, index):
        # A worker died (or raised) while we waited for this batch: keep what it streamed.
        tracer, stream = _active, getattr(iterator, "_codedag_stream", None)
        if tracer is not None and stream is not None:
            tracer._consumed_batch(stream, epoch, index, iterator._num_workers)

    def single_process_batch(self, iterator):
        tracer = _active
        if tracer is not None:
            tracer._consumed_batch(None, 0, 0, 0)


_HOOK = _TracerHook()


class WorkerTracing:
    """worker_init_fn wrapper (picklable for spawn): runs the user's init, then traces fetches."""

    def __init__(self, original, stream_dir: str, config: dict, window: int):
        self.original = original
        self.stream_dir = stream_dir
        self.config = config
        self.window = window

    def __call__(self, worker_id: int) -> None:
        from codedag import _core

        _core._trace_after_fork()  # a forked worker inherits the parent's hook: drop it
        if self.original is not None:
            self.original(worker_id)
        session = _core.TraceSession(**self.config)
        session.stream_to(os.path.join(self.stream_dir, f"worker-{worker_id}.jsonl"), worker_id, 0, -1)
        window = self.window

        def traced(epoch, index, fetch):
            if index is None or index >= window:
                return fetch()
            session.set_batch(epoch, index)
            session.start()
            try:
                return fetch()
            finally:
                session.stop()
                session.finish_batch()

        dataloader_hooks.wrap_worker_fetches(traced)


def discard_inherited_hook() -> None:
    from codedag import _core

    _core._trace_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=discard_inherited_hook)


def warn_unarmed() -> None:
    warnings.warn(
        "codedag: this DataLoader's workers were started before any EnhancedTracer existed, so their "
        "__getitem__/transform/collate calls are not captured. Create the EnhancedTracer before "
        "iter(loader) (or iterate inside tracing_context()).",
        RuntimeWarning,
        stacklevel=4,
    )
