"""EnhancedTracer: trace one DataLoader batch (or any code) into the pipeline DAG (SPEC §1).

The hook, the context tree, the worker stream merge, the DAG builder and the Chrome trace writer
are C++ (codedag._core.TraceSession / TraceTree); this class holds the options, the DataLoader glue
and the hand-off to the experiment store.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import warnings

from codedag import _core, libraries

from . import _dataloader
from ._integrations import attach_to_experiment, covered_functions
from ._rules import default_rules

_start_lock = threading.Lock()


class _TracingContext:
    """`with tracer.tracing_context():` — a class, not a generator, so no frame of ours lingers."""

    __slots__ = ("_tracer",)

    def __init__(self, tracer: EnhancedTracer):
        self._tracer = tracer

    def __enter__(self) -> EnhancedTracer:
        self._tracer.start()
        return self._tracer

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._tracer._stop(failed_block=exc_type is not None)
        return False  # exceptions propagate unchanged


class DagBuilder:
    """The seed's ``tracer.dag_builder``: ``.dag`` is the DAG built from what was traced."""

    def __init__(self, tracer: EnhancedTracer):
        self._tracer = tracer

    @property
    def dag(self) -> _core.Dag:
        return self._tracer.dag


class EnhancedTracer:
    """Records calls, times and data flow of the code run inside ``tracing_context()`` (or between
    ``start()`` and ``stop()``), including DataLoader workers, and builds the pipeline DAG.

    max_depth: contexts deeper than this (counted from the frame that entered tracing, in recorded
    levels) are not recorded; their time stays in their recorded ancestor.
    track_memory: record bytes of returned values and of data edges.
    include / exclude: shell patterns on "<module>.<qualname>" or the file, to record functions the
    defaults fold away, or fold functions they record.
    worker_batches: how many batches per epoch DataLoader workers trace (default: what the loader
    prefetches plus 2, at least the batches you trace right after creating the iterator). With several
    tracers alive when ``iter(loader)`` runs, its workers trace the widest of their windows.
    """

    def __init__(
        self,
        max_depth: int = 10,
        track_memory: bool = True,
        include: list[str] | None = None,
        exclude: list[str] | None = None,
        worker_batches: int | None = None,
        max_spans: int = 1_000_000,
    ):
        if not isinstance(max_depth, int) or max_depth < 1:
            raise _core.InputError(f"EnhancedTracer: max_depth must be an integer >= 1 (got {max_depth!r})")
        self.max_depth = max_depth
        self.track_memory = bool(track_memory)
        self.include = list(include or [])
        self.exclude = list(exclude or [])
        self.worker_batches = worker_batches
        self._config = dict(
            max_depth=max_depth,
            track_memory=self.track_memory,
            include=self.include,
            exclude=self.exclude,
            max_spans=max_spans,
            **default_rules(),
        )
        self._session = _core.TraceSession(**self._config)
        self._nesting = 0
        self._owner_thread = None
        self._batches = 0
        self._consumed: list[tuple[str, int, int]] = []
        self._worker_tree = _core.TraceTree()
        self._worker_pids: set[int] = set()
        self._registry_available = False
        self._workers = 0
        self._warned_unarmed = False
        self._unarmed_batches = 0
        self._untraced_batches = 0
        self._diagnostics: list[str] = []
        self._dag = None
        self._tree = None
        _dataloader.register(self)

    # ---- tracing ---------------------------------------------------------------------------

    def tracing_context(self) -> _TracingContext:
        """Context manager: trace the block. Nested uses of the same tracer are one trace."""
        return _TracingContext(self)

    def start(self) -> None:
        with _start_lock:
            if self._nesting:
                if self._owner_thread != threading.get_ident():
                    raise _core.StateError(
                        "EnhancedTracer.start(): this tracer is active in another thread; one tracer traces "
                        "one thread's block (threads started inside it are traced too)"
                    )
                self._nesting += 1
                return
            _dataloader.register(self)  # again, if a failed trace retired it
            self._session.start()  # StateError if another tracer/profiler is installed
            self._nesting = 1
            self._owner_thread = threading.get_ident()
            self._dag = self._tree = None
            _dataloader.set_active(self)

    def stop(self) -> None:
        """Ends tracing. Raises codedag.StateError when the hook failed while tracing (it then
        stopped recording; what it recorded before is kept): everything is detached first."""
        self._stop(failed_block=False)

    def _stop(self, failed_block: bool) -> None:
        with _start_lock:
            if self._nesting == 0:
                return
            self._nesting -= 1
            if self._nesting:
                return
            try:
                self._session.stop()
            finally:
                self._owner_thread = None
                if _dataloader.active() is self:
                    _dataloader.set_active(None)
        failure = self._session.failure
        if failed_block or failure:
            # A failed trace leaves nothing armed behind: DataLoaders made from now on are untouched
            # (the exception's traceback may keep this tracer alive for a long time).
            _dataloader.retire(self)
        self._merge_worker_streams()
        if failure and failed_block:
            self._note(failure)  # a warning: never mask the traced code's own exception
        elif failure:
            self._diagnostics.append(failure)
            raise _core.StateError(
                f"EnhancedTracer: {failure}. Recording stopped there; the DAG keeps what was recorded "
                "before (tracer.dag). This is a bug in CodeDAG's tracer: please report it with the message."
            )

    @property
    def active(self) -> bool:
        return self._nesting > 0

    def reset(self) -> None:
        """Forget everything traced so far."""
        if self.active:
            raise _core.StateError("EnhancedTracer.reset() while tracing: stop() first")
        self._session.clear()
        self._consumed.clear()
        self._worker_tree = _core.TraceTree()
        self._worker_pids = set()
        self._batches = 0
        self._unarmed_batches = self._untraced_batches = 0
        self._diagnostics = []
        self._dag = self._tree = None

    # ---- results ---------------------------------------------------------------------------

    @property
    def dag_builder(self) -> DagBuilder:
        """The seed's ``tracer.dag_builder.dag``. Made on demand: an attribute would tie the tracer
        into a reference cycle, and a tracer must go away (and stop arming DataLoaders) when the last
        reference to it does, not at the next garbage collection."""
        return DagBuilder(self)

    def _merge_worker_streams(self) -> None:
        """Merges what DataLoader workers streamed for the batches consumed so far. Done at stop():
        a consumed batch's records are on disk before its data reached us, and the iterator (which
        owns the stream directory) may be gone by the time the DAG is asked for."""
        by_stream: dict[int, tuple[_dataloader.StreamDir, list[tuple[int, int]]]] = {}
        for stream, epoch, batch in self._consumed:  # the StreamDir objects keep the files until here
            by_stream.setdefault(id(stream), (stream, []))[1].append((epoch, batch))
        self._consumed.clear()
        for stream, batches in by_stream.values():
            stats = self._worker_tree.merge_streams(stream.streams(), batches)
            self._worker_pids.update(stats["worker_pids"])
            missing = len(batches) - stats["batches_found"]
            if missing:
                self._note(
                    f"{missing} batch(es) consumed while tracing have no worker records (their workers wrote "
                    "nothing: killed before the first traced call returned?)"
                )
            # A torn last line alone is a live worker writing a batch nobody consumed yet (workers run
            # ahead of the loop); a consumed batch cut short shows as partial (or missing) instead.
            if stats["partial_batches"]:
                self._note(
                    f"{stats['partial_batches']} traced batch(es) were not finished by their worker (killed?); "
                    "the DAG keeps what was streamed before it stopped"
                )
        for message in self._worker_tree.diagnostics:
            self._note(message)

    def _note(self, message: str) -> None:
        """A problem of this trace: warned once, and kept in tracer.diagnostics and dag.meta."""
        if message in self._diagnostics:
            return
        self._diagnostics.append(message)
        warnings.warn(f"codedag: {message}", RuntimeWarning, stacklevel=4)

    @property
    def diagnostics(self) -> list[str]:
        """Problems met while tracing (a worker that died mid-batch, a hook failure, batches traced
        without their workers): also in ``dag.meta["diagnostics"]``."""
        return list(self._diagnostics)

    @property
    def tree(self) -> _core.TraceTree:
        """The named context tree: this process's contexts, then the workers' merged by key."""
        if self._tree is None:
            tree = self._session.resolve()
            tree.merge(self._worker_tree)
            covered = covered_functions()
            if covered is not None:
                tree.apply_coverage(sorted(set(covered.values())))
            self._registry_available = covered is not None
            self._tree = tree
        return self._tree

    @property
    def dag(self) -> _core.Dag:
        """The pipeline DAG (codedag.dag/1) of what was traced; numbers per traced batch."""
        if self.active:
            raise _core.StateError("EnhancedTracer.dag while tracing: leave tracing_context() (or stop()) first")
        if self._dag is None:
            tree = self.tree
            torch = sys.modules.get("torch")
            meta = {
                "batches": max(self._batches, 1),
                "consumed_batches": self._batches,
                "workers": self._workers,
                "python": platform.python_version(),
                "max_depth": self.max_depth,
                "producer": "codedag.EnhancedTracer",
                "events": self._session.events,
            }
            if self._unarmed_batches:
                meta["unarmed_batches"] = self._unarmed_batches
            if self._untraced_batches:
                meta["untraced_worker_batches"] = self._untraced_batches
            if self._diagnostics:
                meta["diagnostics"] = list(self._diagnostics)
            if torch is not None:
                meta["torch"] = str(torch.__version__).split("+")[0]
            # The one library decision, made once per module and carried on every node.
            decisions = {module: tuple(libraries.decide(module)[:2]) for module in tree.modules()}
            self._dag = tree.build_dag(
                batches=max(self._batches, 1),
                registry_available=self._registry_available,
                meta=meta,
                libraries=decisions,
            )
        return self._dag

    def save(self, path: str | os.PathLike) -> str:
        """Writes the DAG (codedag.dag/1) and attaches it to the running experiment, if any."""
        path = os.fspath(path)
        self.dag.save(path)
        attach_to_experiment("dag", path)
        return path

    def save_chrome_trace(self, path: str | os.PathLike) -> str:
        """Chrome trace event JSON (open in https://ui.perfetto.dev or chrome://tracing)."""
        if self.active:
            raise _core.StateError("save_chrome_trace() while tracing: stop() first")
        path = os.fspath(path)
        tree = self.tree
        names = {os.getpid(): "main process"}
        for pid in sorted(self._worker_pids):
            names[pid] = f"DataLoader worker (pid {pid})"
        tree.save_chrome_trace(path, names)
        attach_to_experiment("trace", path)
        return path

    # ---- DataLoader glue (called by _dataloader) ---------------------------------------------

    def _worker_window(self, loader) -> int:
        if self.worker_batches is not None:
            return int(self.worker_batches)
        prefetch = loader.prefetch_factor or 2
        return prefetch * max(loader.num_workers, 1) + _dataloader.DEFAULT_EXTRA_WINDOW

    def _worker_config(self) -> dict:
        return dict(self._config)

    def _consumed_batch(self, stream, epoch: int, batch: int, workers: int) -> None:
        self._batches += 1
        self._workers = max(self._workers, workers)
        if stream is not None:
            self._consumed.append((stream, epoch, batch))

    def _unarmed_batch(self) -> None:
        self._batches += 1
        self._unarmed_batches += 1
        if not self._warned_unarmed:
            self._warned_unarmed = True
            _dataloader.warn_unarmed()

    def _untraced_worker_batch(self, epoch: int, batch: int, window: int) -> None:
        self._batches += 1
        self._untraced_batches += 1
        self._note(
            f"batch {batch} of epoch {epoch} was fetched untraced: DataLoader workers trace the first {window} "
            "batches of each epoch; pass EnhancedTracer(worker_batches=N) with N larger, or trace right after "
            "iter(loader)"
        )

    def __repr__(self) -> str:
        state = "tracing" if self.active else "idle"
        return f"<EnhancedTracer max_depth={self.max_depth} {state} batches={self._batches}>"
