"""What batched mode changes in torch.utils.data while a plan is applied (and restores after), through
codedag.dataloader_hooks, the one module that patches torch.utils.data:

- ``default_collate_fn_map[Deferred]``: collation turns per-sample deferred chains into one
  ``DeferredBatch`` (``default_collate`` and every collate built on ``collate()`` consult this map).
- ``_BaseDataLoaderIter.__next__``: after the batch arrives in the main process, deferred parts are
  evaluated on their executor. With ``num_workers=0`` it also marks the fetch so planned calls defer.
- ``_MultiProcessingDataLoaderIter.__init__``: workers started while the plan is applied get a
  ``worker_init_fn`` that installs the plan in the worker. Forked workers already carry the patched
  functions; spawned ones re-import everything and need it. A shared flag lets ``restore()`` turn
  deferral off in persistent workers that outlive the plan.
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

from .. import dataloader_hooks
from .deferral_gate import DeferralGate, SharedDecisions, watch_fetcher
from .deferred import Deferred, DeferredBatch, collate_deferred, is_evaluating
from .fork_memory import workers_starting
from .worker_report import WorkerFallbacks, set_worker_report

_fetch = threading.local()
# Set in a worker by WorkerPlanInstaller: the shared on/off flag of the plan applied there.
_worker_flag: Any = None


def in_main_fetch() -> bool:
    return getattr(_fetch, "depth", 0) > 0


def should_defer() -> bool:
    """True where a batched planned call must be deferred: inside a DataLoader fetch, i.e. in a
    worker whose plan is on, or in a single-process iterator's ``__next__`` in this process."""
    if is_evaluating():
        return False
    from torch.utils.data import get_worker_info

    if get_worker_info() is not None:
        return _worker_flag is None or bool(_worker_flag.value)
    return in_main_fetch()


def _replace_batches(data: Any, evaluate, path: str = "") -> Any:
    """Evaluates every DeferredBatch in a collated batch; ``evaluate(batch, path)`` gets where it
    sits ("[0]", "['spec']", ...) so verification can name the contexts behind each output."""
    if isinstance(data, DeferredBatch):
        return evaluate(data, path)
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(_replace_batches(d, evaluate, f"{path}[{i}]") for i, d in enumerate(data)))
    if isinstance(data, (tuple, list)):
        out = [_replace_batches(d, evaluate, f"{path}[{i}]") for i, d in enumerate(data)]
        return tuple(out) if isinstance(data, tuple) else out
    if isinstance(data, dict):
        return {k: _replace_batches(v, evaluate, f"{path}[{k!r}]") for k, v in data.items()}
    return data


def _batched_gate() -> DeferralGate | None:
    """The deferral gate of the batched plan applied in this process, if any."""
    from .migrator import applied_migrators

    return next((m._gate for m in applied_migrators() if m._hooks is not None), None)


class WorkerPlanInstaller:
    """A picklable worker_init_fn: installs the plan in a spawned worker, then calls the user's."""

    def __init__(self, plan: dict, options: dict, flag: Any, user_init: Any, report: WorkerFallbacks | None = None,
                 decisions: SharedDecisions | None = None):
        self.plan, self.options, self.flag, self.user_init, self.report = plan, options, flag, user_init, report
        self.decisions = decisions

    def __call__(self, worker_id: int) -> None:
        global _worker_flag
        _worker_flag = self.flag
        set_worker_report(self.report)
        from .migrator import PipelineMigrator, applied_migrators

        if not applied_migrators():  # spawn: a fresh interpreter; fork: already patched
            migrator = PipelineMigrator.from_plan(self.plan, **self.options)
            migrator._in_worker = True
            migrator._gate.shared = self.decisions  # what the other processes learned, and will learn
            migrator.apply()
        # What reaches collation decides which planned calls may defer here (deferral_gate.py).
        dataloader_hooks.on_worker_fetchers(lambda fetcher: watch_fetcher(fetcher, _batched_gate))
        if self.user_init is not None:
            self.user_init(worker_id)


class PlanLoaderHook(dataloader_hooks.LoaderHook):
    """One batched plan's steps into the DataLoader (codedag.dataloader_hooks owns the patches; only
    one batched plan can be applied at a time, enforced by the migrator)."""

    rank = 0  # nearest to torch: the tracer's worker set-up runs around the plan's

    def __init__(self, migrator: Any):
        self.migrator = migrator
        self.flag = multiprocessing.get_context("spawn").RawValue("b", 1)
        self.report = WorkerFallbacks(list(migrator.plan["context_device_map"]))

    def install(self, in_worker: bool = False) -> None:
        """Collation of deferred values, and outside a spawned worker the iterator hooks."""
        dataloader_hooks.add_collate(Deferred, collate_deferred)
        if not in_worker:  # in a spawned worker nothing but collation happens
            dataloader_hooks.add(self)
        self.flag.value = 1

    def remove(self) -> None:
        self.flag.value = 0  # persistent workers started under the plan stop deferring
        dataloader_hooks.remove(self)
        dataloader_hooks.remove_collate(Deferred)

    def wrap_worker_init(self, iterator: Any, loader: Any, worker_init_fn: Any) -> Any:
        workers_starting(iterator, loader)  # keep the forked workers' memory shared (fork_memory.py)
        migrator = self.migrator
        return WorkerPlanInstaller(migrator.plan, migrator.options, self.flag, worker_init_fn, self.report,
                                   migrator._gate.shared)

    def around_next(self, iterator: Any, next_batch: Any) -> Any:
        from torch.utils.data import dataloader

        single = isinstance(iterator, dataloader._SingleProcessDataLoaderIter)
        if single:
            watch_fetcher(iterator._dataset_fetcher, _batched_gate)
            _fetch.depth = getattr(_fetch, "depth", 0) + 1
        try:
            data = next_batch()
        finally:
            if single:
                _fetch.depth -= 1
        workers = getattr(iterator, "_num_workers", 0)
        migrator = self.migrator
        if workers:
            migrator._warn_worker_fallbacks()
        return _replace_batches(data, lambda batch, path: migrator._evaluate_batch(batch, workers, path))
