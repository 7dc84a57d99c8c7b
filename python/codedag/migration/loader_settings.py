"""A plan's worker count and threads per worker, applied to the user's DataLoader and taken back.

Opt-in (``PipelineMigrator.from_plan(plan, loader=loader, apply_workers=True)``): a plan's
``parallelism`` says how many workers the DataLoader should use and how many intra-op threads
(torch and the BLAS libraries numpy and OpenCV load) each worker may run. More threads than free
cores in every worker makes them wait on each other (1.4-1.75x slower measured on a real audio
pipeline); torch limits its own threads to one per worker, but not BLAS.

``apply`` records the loader attributes it changes (``num_workers``, ``prefetch_factor``,
``worker_init_fn``) and ``restore`` puts back the identical objects. Persistent workers started
before (or under the other setting) still run the code they started with, so both shut them down:
the next ``iter(loader)`` starts workers that see the current setting.
"""

from __future__ import annotations

from typing import Any

_ABSENT = object()
_CHANGED = ("num_workers", "prefetch_factor", "worker_init_fn", "batch_size", "batch_sampler")


class WorkerThreads:
    """A picklable worker_init_fn: limits the worker's torch and BLAS threads, then calls the user's."""

    def __init__(self, threads: int, user_init: Any, forked: bool = False):
        self.threads, self.user_init, self.forked = threads, user_init, forked

    def __call__(self, worker_id: int) -> None:
        limit_threads(self.threads, forked=self.forked)
        if self.user_init is not None:
            self.user_init(worker_id)


def _starts_by_fork(loader: Any) -> bool:
    """Whether ``loader``'s workers are forked (they inherit the parent's OpenMP state)."""
    import multiprocessing

    context = loader.multiprocessing_context
    method = context.get_start_method() if context is not None else multiprocessing.get_start_method()
    return method == "fork"


def limit_threads(threads: int, forked: bool = False) -> None:
    """This process's torch intra-op threads and every loaded BLAS/OpenMP pool (threadpoolctl).
    In a forked worker torch keeps one thread and OpenMP pools are left alone: libgomp is not
    fork-safe, and a parallel region in the child of a parent that used its OpenMP team waits
    forever at the team barrier (seen: a forked worker given 2 threads hung in reflection_pad1d).
    BLAS pools (re-created after fork) still get ``threads``."""
    import torch

    torch.set_num_threads(1 if forked else threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without threadpoolctl only torch's threads are limited
        return
    threadpool_limits(limits=threads, user_api="blas" if forked else None)


def shut_down_workers(loader: Any) -> None:
    """Ends the persistent workers a DataLoader keeps between epochs (they run the code and settings
    they started with); the next iter() starts fresh ones."""
    iterator = loader.__dict__.get("_iterator")
    if iterator is None:
        return
    shutdown = getattr(iterator, "_shutdown_workers", None)
    if callable(shutdown):
        shutdown()
    loader.__dict__["_iterator"] = None


class LoaderSettings:
    """The worker count and threads of a plan on one DataLoader, applied and restored; with
    ``batch_size`` (an explicit opt-in: another batch size changes training, not only its speed)
    the batch size too, on a loader that batches with torch's own BatchSampler."""

    def __init__(self, loader: Any, workers: int, threads_per_worker: int | None, batch_size: int | None = None):
        from torch.utils.data import BatchSampler, DataLoader, IterableDataset

        if not isinstance(loader, DataLoader):
            raise _input_error(f"apply_workers needs the torch DataLoader to change, not {type(loader).__name__}")
        if isinstance(loader.dataset, IterableDataset) and workers != loader.num_workers:
            # Each worker iterates the whole IterableDataset unless the dataset shards itself:
            # another worker count would change the data, not just its speed.
            raise _input_error(f"the plan asks for {workers} DataLoader workers, but this loader's dataset is an "
                               f"IterableDataset whose stream depends on the worker count "
                               f"({loader.num_workers} now); leave apply_workers off for it")
        if batch_size is not None:
            if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
                raise _input_error(f"the batch size to apply must be a whole number of at least 1, got {batch_size!r}")
            if loader.batch_size is None or type(loader.batch_sampler) is not BatchSampler:
                raise _input_error("this DataLoader's batches come from its own batch_sampler (or it does not batch), "
                                   "so its batch size cannot be changed; leave apply_batch_size off for it")
        self.loader, self.workers, self.threads = loader, workers, threads_per_worker
        self.batch_size = None if batch_size == loader.batch_size else batch_size
        self._saved: dict[str, Any] | None = None

    def apply(self) -> None:
        if self._saved is not None:
            return
        loader = self.loader
        self._saved = {name: loader.__dict__.get(name, _ABSENT) for name in _CHANGED}
        shut_down_workers(loader)
        d = loader.__dict__
        d["num_workers"] = self.workers
        if self.workers > 0 and loader.prefetch_factor is None:
            d["prefetch_factor"] = 2  # torch's default when workers are given at construction
        if self.batch_size is not None:
            from torch.utils.data import BatchSampler

            # DataLoader refuses batch_size/batch_sampler assignments after construction (its own
            # guard); the attributes are what its iterators read, so they are set underneath it.
            d["batch_size"] = self.batch_size
            d["batch_sampler"] = BatchSampler(loader.sampler, self.batch_size, loader.drop_last)
        if self.workers > 0 and self.threads is not None:
            d["worker_init_fn"] = WorkerThreads(self.threads, self._saved["worker_init_fn"]
                                                if self._saved["worker_init_fn"] is not _ABSENT else None,
                                                forked=_starts_by_fork(loader))

    def restore(self) -> None:
        if self._saved is None:
            return
        shut_down_workers(self.loader)
        for name, value in self._saved.items():
            if value is _ABSENT:
                self.loader.__dict__.pop(name, None)
            else:
                self.loader.__dict__[name] = value
        self._saved = None

    @property
    def applied(self) -> bool:
        return self._saved is not None


def _input_error(message: str) -> Exception:
    from .. import _core

    return _core.InputError(message)
