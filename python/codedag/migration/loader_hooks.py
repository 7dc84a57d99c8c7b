"""What batched mode changes in torch.utils.data while a plan is applied (and restores after):

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

from torch.utils.data import _utils, dataloader

from .deferred import Deferred, DeferredBatch, collate_deferred, is_evaluating

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


class WorkerPlanInstaller:
    """A picklable worker_init_fn: installs the plan in a spawned worker, then calls the user's."""

    def __init__(self, plan: dict, options: dict, flag: Any, user_init: Any):
        self.plan, self.options, self.flag, self.user_init = plan, options, flag, user_init

    def __call__(self, worker_id: int) -> None:
        global _worker_flag
        _worker_flag = self.flag
        from .migrator import PipelineMigrator, applied_migrators

        if not applied_migrators():  # spawn: a fresh interpreter; fork: already patched
            migrator = PipelineMigrator.from_plan(self.plan, **self.options)
            migrator._in_worker = True
            migrator.apply()
        if self.user_init is not None:
            self.user_init(worker_id)


class LoaderHooks:
    """Installs and removes the three hooks for one migrator (reference counted across migrators
    would be overkill: only one batched plan can be applied at a time, enforced by the migrator)."""

    def __init__(self, migrator: Any):
        self.migrator = migrator
        self.flag = multiprocessing.get_context("spawn").RawValue("b", 1)
        self._saved: list[tuple[Any, str, Any]] = []

    def install(self, in_worker: bool = False) -> None:
        """All three hooks; in a spawned worker only collation (nothing else happens there)."""
        migrator = self.migrator
        collate_map = _utils.collate.default_collate_fn_map
        if in_worker:
            collate_map[Deferred] = collate_deferred
            return
        base_next = dataloader._BaseDataLoaderIter.__next__
        mp_init = dataloader._MultiProcessingDataLoaderIter.__init__
        flag = self.flag

        def __next__(self_iter):
            single = isinstance(self_iter, dataloader._SingleProcessDataLoaderIter)
            if single:
                _fetch.depth = getattr(_fetch, "depth", 0) + 1
            try:
                data = base_next(self_iter)
            finally:
                if single:
                    _fetch.depth -= 1
            workers = getattr(self_iter, "_num_workers", 0)
            return _replace_batches(data, lambda batch, path: migrator._evaluate_batch(batch, workers, path))

        def __init__(self_iter, loader, *args, **kwargs):
            user_init = loader.worker_init_fn
            loader.__dict__["worker_init_fn"] = WorkerPlanInstaller(
                migrator.plan, migrator.options, flag, user_init
            )
            try:
                mp_init(self_iter, loader, *args, **kwargs)
            finally:
                loader.__dict__["worker_init_fn"] = user_init

        __next__.__wrapped__ = base_next
        __init__.__wrapped__ = mp_init
        self._saved = [
            (dataloader._BaseDataLoaderIter, "__next__", base_next),
            (dataloader._MultiProcessingDataLoaderIter, "__init__", mp_init),
        ]
        dataloader._BaseDataLoaderIter.__next__ = __next__
        dataloader._MultiProcessingDataLoaderIter.__init__ = __init__
        collate_map[Deferred] = collate_deferred
        self.flag.value = 1

    def remove(self) -> None:
        self.flag.value = 0  # persistent workers started under the plan stop deferring
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved = []
        _utils.collate.default_collate_fn_map.pop(Deferred, None)
