"""Measured constants for the cost model on this machine, before the optimizer decides.

The device model's ``batch_speedup`` (cpu_ns / time of the same work on ``batch:cpu``) defaults to
1.0, which can never justify moving work to the main process. The closed loop measures it instead:
an optimistic model finds the suffix that *could* move, that candidate plan is applied to a few
batches with every planned step timed both ways (per sample, as the workers run it, and over the
batch, as the migrated run does, on the threads the workers leave free), and the ratio becomes the
model's ``batch_speedup``. With a training step, its time becomes ``train_ns["batch:cpu"]``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from torch.utils.data import DataLoader

from ..migration import PipelineMigrator

OPTIMISTIC_BATCH_SPEEDUP = 16.0


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def calibrate_device_model(loader: DataLoader, dag: Any, k: int = 2, coarsen_max_depth: int = 5,
                           batches: int = 2, step: Callable[[Any], Any] | None = None) -> tuple[Any, dict]:
    """Returns (DeviceModel or None, details). None when nothing could move (then the defaults stand)."""
    import codedag

    workers = max(1, loader.num_workers)
    probe = codedag.DeviceModel.defaults(workers=workers)
    probe.batch_speedup = OPTIMISTIC_BATCH_SPEEDUP
    manager = codedag.OptimizerManager(k=k, coarsen_max_depth=coarsen_max_depth, device_model=probe, gpu_count=0,
                                       workers=workers)
    result = manager.optimize(dag)
    candidate = manager.get_migration_plan(result["optimized_partitions"], result["coarsened_dag"], gpu_count=0)
    moved = sorted(key for key, executor in candidate.get("context_device_map", {}).items() if executor != "cpu")
    if not moved:
        return None, {"why": "no context is eligible to leave the DataLoader workers", "candidate": []}

    threads = max(1, _cores() - loader.num_workers)
    migrator = PipelineMigrator.from_plan(candidate, batch_threads=threads)
    single = DataLoader(loader.dataset, batch_size=loader.batch_size, collate_fn=loader.collate_fn, num_workers=0)
    with migrator:
        if not migrator.batched:
            return None, {"why": "the candidate plan has no batched context", "candidate": moved}
        iterator = iter(single)
        next(iterator)  # the probe batch decides which steps vectorise
        measured = 0
        with migrator.timing_steps():
            for _ in range(batches):
                try:
                    next(iterator)
                except StopIteration:
                    break
                measured += 1
        del iterator
    timings = migrator.step_timings
    per_sample = sum(t["per_sample_ns"] for t in timings.values())
    batched = sum(t["batch_ns"] for t in timings.values())
    if not measured or batched <= 0:
        return None, {"why": "too few batches to time the candidate plan", "candidate": moved}
    model = codedag.DeviceModel.defaults(workers=workers)
    model.batch_speedup = per_sample / batched
    details = {"candidate": moved, "batch_speedup": model.batch_speedup, "batch_threads": threads,
               "timed_batches": measured, "timings": timings, "vectorised": dict(migrator.stats["vectorised"])}
    if step is not None:
        train_ns = _time_step(single, step)
        model.train_ns = {"batch:cpu": train_ns}
        details["train_ns"] = train_ns
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
