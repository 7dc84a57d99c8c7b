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
from dataclasses import dataclass
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


MAX_ROUNDS = 3
REFUSED = "codedag: its value reaches code outside the plan (seen by the deferral gate)"


@dataclass
class Calibration:
    """What calibration learned: the device model, the details reported, and the DAG the optimizer
    must plan on (the measured batch times of the steps tried, and the steps the deferral gate
    refused pinned to the workers), so that the plan is made of steps that can defer."""

    model: Any
    details: dict
    dag: Any


def calibrate_device_model(loader: DataLoader, dag: Any, k: int = 2, coarsen_max_depth: int = 5,
                           batches: int = 2, step: Callable[[Any], Any] | None = None,
                           cores: float | None = None, handoff: bool = True) -> tuple[Any, dict]:
    """Returns (DeviceModel, details): the measured batch speedup (1.0 and the reason when nothing
    could be timed), the cores and the worker hand-off cost. ``calibrate`` also gives the DAG to plan on."""
    found = calibrate(loader, dag, k, coarsen_max_depth, batches, step, cores, handoff)
    return found.model, found.details


def calibrate(loader: DataLoader, dag: Any, k: int = 2, coarsen_max_depth: int = 5, batches: int = 2,
              step: Callable[[Any], Any] | None = None, cores: float | None = None,
              handoff: bool = True) -> Calibration:
    """Measures the machine's constants and the candidate steps, in rounds: an optimistic model (every
    step not measured yet is assumed ``OPTIMISTIC_BATCH_SPEEDUP`` times faster over the batch)
    proposes the steps that could leave the workers; they run on a few batches in the main process,
    each timed per sample and over the batch; the steps the deferral gate refuses (their values go to
    code outside the plan) are pinned to the workers and each measured step gets its measured batch
    time. The next round plans on what was learned, until no new step is proposed (at most
    ``MAX_ROUNDS``): a Compose whose last transform draws randomness cannot vectorise as a whole,
    but its deterministic transforms can, on their own."""
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

    base = dag_dict(dag)
    timings: dict[str, dict] = {}
    refused: dict[str, str] = {}
    vectorised: dict[str, bool] = {}
    stochastic: dict[str, list] = {}
    rounds: list[dict] = []
    tried_keys: set[str] = set()
    threads = max(1, int(cores) - workers)
    why = ""
    planned_dag = codedag.Dag.from_dict(base)
    for _ in range(MAX_ROUNDS):
        planned_dag = codedag.Dag.from_dict(annotate(base, timings, refused, tried_keys))
        probe = codedag.DeviceModel.from_dict(model.to_dict())
        probe.batch_speedup = OPTIMISTIC_BATCH_SPEEDUP
        probe.workers = max(1, workers)
        manager = codedag.OptimizerManager(k=k, coarsen_max_depth=coarsen_max_depth, device_model=probe,
                                           gpu_count=0, workers=max(1, workers))
        result = manager.optimize(planned_dag)
        candidate = manager.get_migration_plan(result["optimized_partitions"], result["coarsened_dag"], gpu_count=0)
        moved = sorted(key for key, executor in candidate.get("context_device_map", {}).items() if executor != "cpu")
        if not moved:
            why = why or "no context is eligible to leave the DataLoader workers"
            break
        if all(key in timings for key in moved) or any(r["candidate"] == moved for r in rounds):
            break  # every step proposed was measured (or this candidate was tried): nothing new to learn
        tried_keys.update(moved)
        tried = _try_candidate(single, candidate, batches, threads)
        rounds.append({"candidate": moved, **{key: v for key, v in tried.items() if key in ("why", "refused")}})
        details["candidate"] = moved
        timings.update(tried["timings"])
        refused.update(tried["refused"])
        vectorised.update(tried["vectorised"])
        stochastic.update(tried["stochastic"])
        if not tried["timings"] and not tried["refused"]:
            why = tried["why"]
            break
        why = tried["why"] if not timings else ""
    details["rounds"] = rounds
    if refused:
        details["pinned_to_workers"] = dict(refused)
    per_sample = sum(t["per_sample_ns"] for t in timings.values())
    batched = sum(t["batch_ns"] for t in timings.values())
    if not timings or batched <= 0:
        details["why"] = why or "no planned step ran in the main process"
        return Calibration(model, details, codedag.Dag.from_dict(annotate(base, timings, refused, tried_keys)))
    model.batch_speedup = per_sample / batched
    details.update(batch_speedup=model.batch_speedup, batch_threads=threads, timings=timings,
                   vectorised=vectorised, draws_randomness=stochastic)
    return Calibration(model, details, codedag.Dag.from_dict(annotate(base, timings, refused, tried_keys)))


def _try_candidate(single: DataLoader, candidate: dict, batches: int, threads: int) -> dict:
    """Runs ``candidate`` on a probe batch and ``batches`` timed ones in this process: the step
    timings, the steps the deferral gate refused (key -> reason), and why nothing was timed."""
    migrator = PipelineMigrator.from_plan(candidate, batch_threads=threads)
    out: dict[str, Any] = {"timings": {}, "refused": {}, "vectorised": {}, "stochastic": {}, "why": ""}
    with migrator:
        if not migrator.batched:
            skipped = "; ".join(f"{k}: {v}" for k, v in migrator.stats["reasons"].items())
            out["why"] = f"no planned context could run batched ({skipped or 'none resolved'})"
            return out
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
    stats = migrator.stats
    reasons = stats["fallback_reasons"]
    out["refused"] = {key: reasons.get(key, "runs in place") for key, ok in migrator._gate.decided.items()
                      if ok is False}
    out["vectorised"], out["stochastic"] = dict(stats["vectorised"]), dict(stats["stochastic"])
    timings = migrator.step_timings
    if measured < 0:
        out["why"] = "the DataLoader yields no batches"
    elif not timings:
        out["why"] = ("no planned step ran in the main process (their calls were not deferred: "
                      f"{'; '.join(f'{k}: {v}' for k, v in reasons.items()) or 'the planned functions were not called while loading'})")
    elif not measured or sum(t["batch_ns"] for t in timings.values()) <= 0:
        out["why"] = (f"the DataLoader has too few batches to time the candidate plan (needs {batches + 1}, "
                      f"had {max(0, measured + 1)})")
    else:
        out["timings"] = timings
    return out


def annotate(dag: dict, timings: dict[str, dict], refused: dict[str, str], steps: set[str] = frozenset()) -> dict:
    """A copy of the DAG dict with what calibration learned: each measured step's nodes (its own and
    those it runs, down to the next planned step of ``steps``: a transform inside a Compose is
    judged on its own) get ``batch_ns`` = their
    ``cpu_ns`` times the step's measured batch/per-sample ratio; a refused step's nodes are not
    eligible to leave the workers (a call-site key "caller->callee": the callee's contexts under
    that caller)."""
    import copy

    out = copy.deepcopy(dag)
    nodes = out.get("nodes", [])
    by_id = {n["id"]: n for n in nodes}
    children: dict[Any, list[dict]] = {}
    for n in nodes:
        if n.get("parent") is not None:
            children.setdefault(n["parent"], []).append(n)

    def names(n: dict) -> set[str]:
        return {n.get("qualname", "")} | set(n.get("members") or [])

    def matches(n: dict, key: str) -> bool:
        if "->" in key:
            caller, callee = key.split("->", 1)
            parent = by_id.get(n.get("parent"))
            return n.get("qualname") == callee and parent is not None and parent.get("qualname") == caller
        return key in names(n)

    for key in refused:
        for n in nodes:
            if matches(n, key):
                n["gpu_eligible"] = False
                n["blocked_by"] = [REFUSED] + [b for b in n.get("blocked_by") or [] if b != REFUSED]
    own = set(timings) | set(steps)
    for key, t in timings.items():
        if t.get("per_sample_ns", 0) <= 0:
            continue
        ratio = t["batch_ns"] / t["per_sample_ns"]
        stack = [n for n in nodes if matches(n, key)]
        while stack:
            n = stack.pop()
            n["batch_ns"] = float(n.get("cpu_ns", 0.0)) * ratio
            stack.extend(c for c in children.get(n["id"], []) if not (names(c) & own))
    return out


def dag_dict(dag: Any) -> dict:
    """The codedag.dag/1 dict of a Dag, of what wraps one (``.dag``: the tracer's builder) or of a dict."""
    if isinstance(dag, dict):
        return dag
    return getattr(dag, "dag", dag).to_dict()


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
