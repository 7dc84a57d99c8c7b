"""torch.utils.data glue for the tracer: trace inside DataLoader workers and tell the parent which
batches it consumed. How it works (docs/tracer.md, "DataLoader workers"):

- Workers start (and prefetch) when the iterator is created, often before the traced ``next()``.
  So iterators created while an EnhancedTracer exists are *armed*: their workers get a picklable
  ``worker_init_fn`` wrapper (fork and spawn alike) that starts a tracer session in the worker and
  wraps each fetch: the first ``window`` batches of every epoch are traced, each root-level call
  that returns is streamed to ``<stream dir>/worker-<id>.jsonl`` (C++ StreamWriter), then the hook
  is removed for the rest of the epoch so training is not slowed.
- In the parent, ``_process_data`` (multiprocess) and ``_next_data`` (single process) report each
  batch consumed while a tracer is active: (stream dir, epoch, batch index). The tracer merges the
  matching worker records by context key when its DAG is built (C++ merge_streams).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import warnings
import weakref

_lock = threading.Lock()
_installed = False
_tracers: weakref.WeakSet = weakref.WeakSet()  # tracers alive: iterators created now are armed
_active = None  # the tracer currently tracing in this process (set by EnhancedTracer.start)
DEFAULT_EXTRA_WINDOW = 2


def set_active(tracer) -> None:
    global _active
    _active = tracer


def register(tracer) -> None:
    _tracers.add(tracer)
    install()


def install() -> None:
    """Patches torch.utils.data once per process (only if torch is importable)."""
    global _installed
    with _lock:
        if _installed:
            return
        try:
            from torch.utils.data import dataloader
        except Exception:
            return
        _installed = True
        mp = dataloader._MultiProcessingDataLoaderIter
        sp = dataloader._SingleProcessDataLoaderIter
        mp_init, mp_reset, mp_process, mp_next = mp.__init__, mp._reset, mp._process_data, mp._next_data
        sp_next = sp._next_data

        def __init__(self, loader, *args, **kwargs):
            tracers = list(_tracers)
            if not tracers:
                return mp_init(self, loader, *args, **kwargs)
            window = max(t._worker_window(loader) for t in tracers)
            config = tracers[0]._worker_config()
            stream_dir = tempfile.mkdtemp(prefix="codedag-trace-")
            self._codedag_stream = stream_dir
            original = loader.worker_init_fn
            loader.worker_init_fn = WorkerTracing(original, stream_dir, config, window)
            try:
                mp_init(self, loader, *args, **kwargs)
            finally:
                loader.worker_init_fn = original
            weakref.finalize(self, shutil.rmtree, stream_dir, True)

        def _reset(self, loader, first_iter=False):
            self._codedag_epoch = getattr(self, "_codedag_epoch", 0) + 1
            return mp_reset(self, loader, first_iter)

        def _process_data(self, data, worker_idx):
            tracer = _active
            if tracer is not None:
                stream = getattr(self, "_codedag_stream", None)
                if stream is None:
                    tracer._unarmed_batch()
                else:
                    # _next_data advanced _rcvd_idx just before handing the batch over (in-order mode).
                    tracer._consumed_batch(stream, self._codedag_epoch, self._rcvd_idx - 1, self._num_workers)
            return mp_process(self, data, worker_idx)

        def mp_next_data(self):
            try:
                return mp_next(self)
            except StopIteration:
                raise
            except BaseException:
                # A worker died (or raised) while we waited for batch _rcvd_idx: keep what it streamed.
                tracer, stream = _active, getattr(self, "_codedag_stream", None)
                if tracer is not None and stream is not None:
                    tracer._consumed_batch(stream, self._codedag_epoch, self._rcvd_idx, self._num_workers)
                raise

        def _next_data(self):
            tracer = _active
            if tracer is not None:
                tracer._consumed_batch(None, 0, 0, 0)
            return sp_next(self)

        mp.__init__, mp._reset, mp._process_data, mp._next_data = __init__, _reset, _process_data, mp_next_data
        sp._next_data = _next_data


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
        state = {"epoch": 0}
        window = self.window

        from torch.utils.data import _DatasetKind

        create = _DatasetKind.create_fetcher

        def create_fetcher(*args, **kwargs):
            state["epoch"] += 1  # once at start, once per epoch of persistent workers
            fetcher = create(*args, **kwargs)
            fetch = fetcher.fetch

            def traced_fetch(possibly_batched_index):
                idx = sys._getframe(1).f_locals.get("idx")  # the worker loop's batch index
                if not isinstance(idx, int) or idx >= window:
                    return fetch(possibly_batched_index)
                session.set_batch(state["epoch"], idx)
                session.start()
                try:
                    return fetch(possibly_batched_index)
                finally:
                    session.stop()
                    session.finish_batch()

            fetcher.fetch = traced_fetch
            return fetcher

        _DatasetKind.create_fetcher = staticmethod(create_fetcher)


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
