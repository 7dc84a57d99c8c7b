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
- The stream directory belongs to a ``StreamDir`` object that the iterator and every tracer that
  consumed one of its batches hold: it is removed when the last of them lets go, so a throwaway
  iterator (``next(iter(loader))`` inside the traced block, collected before ``stop()``) loses
  nothing — the tracer, not the iterator, owns what its workers streamed.
- Every patch of torch.utils.data is made by ``codedag.dataloader_hooks``; this module registers
  one ``LoaderHook`` there while any EnhancedTracer is alive and not retired (a trace that ended in
  an error retires its tracer: new DataLoaders are not armed by it).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile
import threading
import warnings
import weakref

from .. import dataloader_hooks

_lock = threading.RLock()  # re-entrant: a tracer collected during register() runs _tracer_gone here
_tracers: weakref.WeakSet = weakref.WeakSet()  # tracers alive and not retired: iterators made now are armed
_armed: set[int] = set()  # ids of those tracers; the hook stays registered while any is there
_active = None  # the tracer currently tracing in this process (set by EnhancedTracer.start)
DEFAULT_EXTRA_WINDOW = 2


def set_active(tracer) -> None:
    global _active
    _active = tracer


def active():
    return _active


def register(tracer) -> None:
    """Arms iterators created from now on while ``tracer`` lives (only if torch is importable).
    Registering again after ``retire`` arms them again."""
    if importlib.util.find_spec("torch") is None:
        return
    with _lock:
        if id(tracer) in _armed:
            return
        _tracers.add(tracer)
        _armed.add(id(tracer))
        dataloader_hooks.add(_HOOK)
    weakref.finalize(tracer, _tracer_gone, id(tracer))


def retire(tracer) -> None:
    """``tracer`` arms no more iterators (its trace failed); the hook goes when no tracer needs it.
    Batches of iterators it armed before are still merged when it traces them."""
    _tracer_gone(id(tracer))
    _tracers.discard(tracer)


def _tracer_gone(key: int) -> None:
    with _lock:
        if key not in _armed:
            return
        _armed.discard(key)
        if not _armed:
            dataloader_hooks.remove(_HOOK)


class StreamDir:
    """A directory DataLoader workers stream into. Held by the iterator that made it and by every
    tracer that consumed a batch from it; removed when the last holder is gone."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="codedag-trace-")
        weakref.finalize(self, shutil.rmtree, self.path, True)

    def streams(self) -> list[str]:
        try:
            names = os.listdir(self.path)
        except OSError:
            return []
        return sorted(os.path.join(self.path, n) for n in names if n.endswith(".jsonl"))


class _TracerHook(dataloader_hooks.LoaderHook):
    """The tracer's steps into torch.utils.data (codedag.dataloader_hooks owns the patches)."""

    rank = 10  # outside the migrator's worker set-up: a traced worker traces the planned code too

    def wrap_worker_init(self, iterator, loader, worker_init_fn):
        tracers = list(_tracers)
        if not tracers:
            return worker_init_fn
        window = max(t._worker_window(loader) for t in tracers)
        config = tracers[0]._worker_config()
        stream = StreamDir()
        iterator._codedag_stream = stream
        iterator._codedag_window = window
        return WorkerTracing(worker_init_fn, stream.path, config, window)

    def batch_arrived(self, iterator, epoch, index):
        tracer = _active
        if tracer is None:
            return
        stream = getattr(iterator, "_codedag_stream", None)
        if stream is None:
            tracer._unarmed_batch()
        elif index >= iterator._codedag_window:
            tracer._untraced_worker_batch(epoch, index, iterator._codedag_window)
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
        # The fetch wrapper lives on torch's _DatasetKind until the interpreter's very end, later than
        # nanobind's check for live objects: a spawned worker (which exits through Python's
        # finalisation) printed "nanobind: leaked 1 instances ... TraceSession" to the user's terminal.
        # The session is let go at exit instead (its batches are already on disk).
        holder = [session]
        atexit.register(holder.clear)
        del session

        def traced(epoch, index, fetch):
            if index is None or index >= window or not holder:
                return fetch()
            session = holder[0]
            # Tracing never breaks the user's fetch: a problem becomes a diagnostic the parent reports.
            session.set_batch(epoch, index)
            try:
                session.start()
            except Exception as exc:  # noqa: BLE001 - any failure to start is reported, not raised
                session.add_diagnostic(f"worker {worker_id}: tracing could not start ({exc}); batch {index} untraced")
                session.finish_batch()
                return fetch()
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
