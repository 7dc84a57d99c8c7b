"""Measured constants for the cost model on this machine, before the optimizer decides.

The device model's ``batch_speedup`` (cpu_ns / time of the same work on ``batch:cpu``) defaults to
1.0, which can never justify moving work to the main process. The closed loop measures it instead:
an optimistic model finds the suffix that *could* move, that candidate plan is applied to a few
batches with every planned step timed both ways (per sample, as the workers run it, and over the
batch, as the migrated run does, on the threads the workers leave free), and the ratio becomes the
model's ``batch_speedup``. With a training step, its time becomes ``train_ns["batch:cpu"]``.

Two constants of the machine come with it: the cores the job may use (``cores``: cgroup quota and
affinity, read by the engine) and the main process's cost of taking one batch from a worker
process (``worker_handoff_ns``, measured on batches already waiting in the queue), so the optimizer
can weigh worker counts, 0 included.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from torch.utils.data import DataLoader, IterableDataset

from .. import _core
from ..migration import PipelineMigrator

OPTIMISTIC_BATCH_SPEEDUP = 16.0


def available_cores() -> float:
    """CPUs this process may use (the engine reads the cgroup quota and the affinity mask)."""
    return float(_core.available_cpus()["cores"])


def copy_of(loader: DataLoader, workers: int, **changes: Any) -> DataLoader:
    """A DataLoader over the same data, batches and collation, with ``workers`` workers."""
    options: dict[str, Any] = dict(num_workers=workers, collate_fn=loader.collate_fn,
                                   worker_init_fn=loader.worker_init_fn)
    if workers:
        options["multiprocessing_context"] = loader.multiprocessing_context
    if isinstance(loader.dataset, IterableDataset) or loader.batch_sampler is None:
        options.update(batch_size=loader.batch_size, drop_last=loader.drop_last)
    else:
        options["batch_sampler"] = loader.batch_sampler
    options.update(changes)
    return DataLoader(loader.dataset, **options)


def measure_worker_handoff(loader: DataLoader, batches: int = 3) -> tuple[float, str]:
    """Main-process ns to take one batch that is already waiting in a worker's queue (unpickling,
    mapping its shared memory), and how it was measured. One worker prefetches while the main
    process waits; the median ``next()`` of the waiting batches is the hand-off."""
    single = copy_of(loader, 1, prefetch_factor=batches + 1, persistent_workers=False)
    it = iter(single)
    times: list[int] = []
    try:
        t0 = time.perf_counter()
        next(it)  # worker start-up and the first batch
        first = time.perf_counter() - t0
        time.sleep(min(5.0, max(0.05, 1.5 * (batches + 1) * first)))  # let the worker fill its queue
        times = []
        for _ in range(batches):
            t0 = time.perf_counter_ns()
            next(it)
            times.append(time.perf_counter_ns() - t0)
    except StopIteration:
        pass
    finally:
        shutdown = getattr(it, "_shutdown_workers", None)
        if callable(shutdown):
            shutdown()
    if not times:
        return 0.0, "not measured: the DataLoader has too few batches"
    times.sort()
    return float(times[len(times) // 2]), f"median of {len(times)} waiting batches from one worker"


def calibrate_device_model(loader: DataLoader, dag: Any, k: int = 2, coarsen_max_depth: int = 5,
                           batches: int = 2, step: Callable[[Any], Any] | None = None,
                           cores: float | None = None, handoff: bool = True) -> tuple[Any, dict]:
    """Returns (DeviceModel, details): the measured batch speedup (1.0 and the reason when nothing
    could be timed), the cores and the worker hand-off cost."""
    import codedag

    workers = loader.num_workers
    cores = available_cores() if cores is None else cores
    model = codedag.DeviceModel.defaults(workers=max(1, workers))
    model.workers = workers
    model.cores = cores
    details: dict[str, Any] = {"cores": cores}
    if handoff:
        try:
            model.worker_handoff_ns, details["worker_handoff"] = measure_worker_handoff(loader)
        except Exception as exc:  # e.g. a dataset that cannot go to a worker: the model keeps 0
            details["worker_handoff"] = f"not measured: one worker could not load: {type(exc).__name__}: {exc}"
        details["worker_handoff_ns"] = model.worker_handoff_ns
    single = copy_of(loader, 0)
    if step is not None:
        train_ns = _time_step(single, step)
        model.train_ns = {"batch:cpu": train_ns}
        details["train_ns"] = train_ns

    probe = codedag.DeviceModel.from_dict(model.to_dict())
    probe.batch_speedup = OPTIMISTIC_BATCH_SPEEDUP
    probe.workers = max(1, workers)
    manager = codedag.OptimizerManager(k=k, coarsen_max_depth=coarsen_max_depth, device_model=probe, gpu_count=0,
                                       workers=max(1, workers))
    result = manager.optimize(dag)
    candidate = manager.get_migration_plan(result["optimized_partitions"], result["coarsened_dag"], gpu_count=0)
    moved = sorted(key for key, executor in candidate.get("context_device_map", {}).items() if executor != "cpu")
    details["candidate"] = moved
    if not moved:
        details["why"] = "no context is eligible to leave the DataLoader workers"
        return model, details

    threads = max(1, int(cores) - workers)
    migrator = PipelineMigrator.from_plan(candidate, batch_threads=threads)
    with migrator:
        if not migrator.batched:
            skipped = "; ".join(f"{k}: {v}" for k, v in migrator.stats["reasons"].items())
            details["why"] = f"no planned context could run batched ({skipped or 'none resolved'})"
            return model, details
        iterator = iter(single)
        measured = -1  # the probe batch is not timed
        try:
            next(iterator)  # the probe batch decides which steps vectorise
            measured = 0
            with migrator.timing_steps():
                for _ in range(batches):
                    next(iterator)
                    measured += 1
        except StopIteration:
            pass
        finally:
            del iterator
    timings = migrator.step_timings
    per_sample = sum(t["per_sample_ns"] for t in timings.values())
    batched = sum(t["batch_ns"] for t in timings.values())
    if measured < 0:
        details["why"] = "the DataLoader yields no batches"
        return model, details
    if not timings:
        details["why"] = ("no planned step ran in the main process (their calls were not deferred: "
                          f"{'; '.join(f'{k}: {v}' for k, v in migrator.stats['fallback_reasons'].items()) or 'the planned functions were not called while loading'})")
        return model, details
    if not measured or batched <= 0:
        details["why"] = (f"the DataLoader has too few batches to time the candidate plan (needs {batches + 1}, "
                          f"had {max(0, measured + 1)})")
        return model, details
    model.batch_speedup = per_sample / batched
    details.update(batch_speedup=model.batch_speedup, batch_threads=threads, timed_batches=measured,
                   timings=timings, vectorised=dict(migrator.stats["vectorised"]),
                   draws_randomness=dict(migrator.stats["stochastic"]))
    return model, details


def _time_step(loader: DataLoader, step: Callable[[Any], Any], batches: int = 3) -> float:
    times = []
    for i, batch in enumerate(loader):
        t0 = time.perf_counter_ns()
        step(batch)
        if i:  # the first step warms up
            times.append(time.perf_counter_ns() - t0)
        if len(times) >= batches:
            break
    return float(sorted(times)[len(times) // 2]) if times else 0.0
