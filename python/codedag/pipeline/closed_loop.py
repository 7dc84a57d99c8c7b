"""The closed loop: trace -> optimize -> plan -> apply -> verify -> measure -> keep or restore.

A plan is kept only when the migrated pipeline gives the baseline's outputs (``verify``) and
measurably more batches per second; otherwise it is restored and the result says why. Predicted
(cost model) and measured speedups are reported side by side, and the result is stored with the
running ``codedag.Experiment`` when there is one.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from torch.utils.data import DataLoader

from ..graph import load_plan
from ..migration import PipelineMigrator
from .verification import verify


def measure_batches_per_second(loader: DataLoader, batches: int, step: Callable[[Any], Any] | None = None,
                               warmup: int = 1) -> float:
    """Iterates a fresh iterator for ``warmup + batches`` batches (fewer if the loader is shorter),
    running ``step(batch)`` on each; batches/s after the warm-up (worker start-up and the
    vectorisation probe are not part of the steady state being compared)."""
    it = iter(loader)
    n = 0
    start = None
    try:
        for _ in range(warmup):
            batch = next(it)
            if step is not None:
                step(batch)
        start = time.perf_counter()
        for _ in range(batches):
            batch = next(it)
            if step is not None:
                step(batch)
            n += 1
    except StopIteration:
        pass
    finally:
        del it  # shuts non-persistent workers down before the next measurement
    if start is None or n == 0:
        raise ValueError(f"the DataLoader has too few batches to measure (needs more than {warmup})")
    return n / (time.perf_counter() - start)


def compare_throughput(loader: DataLoader, migrator: PipelineMigrator, batches: int = 10, repeats: int = 3,
                       step: Callable[[Any], Any] | None = None) -> dict:
    """Baseline and migrated batches/s, measured alternately ``repeats`` times (so drift in the
    machine's load hits both), medians and their ratio."""
    base, mig = [], []
    for _ in range(repeats):
        base.append(measure_batches_per_second(loader, batches, step))
        with migrator:
            mig.append(measure_batches_per_second(loader, batches, step))
    b, m = statistics.median(base), statistics.median(mig)
    return {"baseline_batches_per_s": b, "migrated_batches_per_s": m, "measured_speedup": m / b,
            "baseline_runs": base, "migrated_runs": mig, "batches": batches, "repeats": repeats,
            "workers": loader.num_workers}


def trace_and_plan(loader: DataLoader, k: int = 2, max_depth: int = 10, coarsen_max_depth: int = 5,
                   gpu_count: int | None = None, export_dir: str | None = None, calibrate: bool = True,
                   step: Callable[[Any], Any] | None = None) -> tuple[dict, dict]:
    """Traces one batch of ``loader``, calibrates the device model by measurement (see
    calibration.py) and asks the optimizer for a plan: (plan, optimizer result + calibration)."""
    import codedag

    tracer_cls = getattr(codedag, "EnhancedTracer", None)
    manager_cls = getattr(codedag, "OptimizerManager", None)
    if tracer_cls is None or manager_cls is None:
        missing = "EnhancedTracer" if tracer_cls is None else "OptimizerManager"
        raise RuntimeError(f"codedag.{missing} is not available in this build; pass plan=... to optimize_pipeline")
    tracer = tracer_cls(max_depth=max_depth, track_memory=True)
    iterator = iter(loader)
    with tracer.tracing_context():
        next(iterator)
    del iterator
    dag = tracer.dag_builder.dag if hasattr(tracer, "dag_builder") else tracer.dag
    if gpu_count is None:
        import torch

        gpu_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    model, calibration = (None, {"why": "calibration off"})
    if calibrate:
        from .calibration import calibrate_device_model

        model, calibration = calibrate_device_model(loader, dag, k, coarsen_max_depth, step=step)
    manager = manager_cls(k=k, coarsen_max_depth=coarsen_max_depth, device_model=model, gpu_count=gpu_count,
                          workers=max(1, loader.num_workers))
    result = manager.optimize(dag, export_dir=export_dir)
    plan = manager.get_migration_plan(partitions=result["optimized_partitions"], dag=result["coarsened_dag"],
                                      gpu_count=gpu_count)
    summary = {k: v for k, v in result.items() if k not in ("coarsened_dag", "plan", "optimized_partitions")}
    summary["calibration"] = calibration
    summary["dag_nodes"] = len(dag.nodes)
    return plan, summary


class OptimizationResult(dict):
    """What the closed loop decided (a JSON-serialisable dict) plus the live ``migrator`` (applied
    when the plan was kept)."""

    migrator: PipelineMigrator | None = None

    @property
    def kept(self) -> bool:
        return bool(self["kept"])


def _moves_something(plan: dict) -> bool:
    return any(device != "cpu" for device in plan.get("context_device_map", {}).values())


def optimize_pipeline(dataloader: DataLoader, plan: Any = None, *, k: int = 2, max_depth: int = 10,
                      coarsen_max_depth: int = 5, gpu_count: int | None = None, verify_batches: int = 3,
                      measure_batches: int = 10, repeats: int = 3, min_speedup: float = 1.05,
                      step: Callable[[Any], Any] | None = None, seed: int = 0, export_dir: str | None = None,
                      keep: bool = True, quiet: bool = False, calibrate: bool = True,
                      **migrator_options: Any) -> OptimizationResult:
    """Runs the closed loop on ``dataloader`` and returns an OptimizationResult.

    ``plan``: skip tracing/optimizing and try this codedag.plan/1 (dict or path). ``step``: a
    training step run on every measured batch (its time is part of both measurements, as in
    training). ``calibrate`` measures the batch speedup of the candidate suffix before optimizing
    (calibration.py). A plan is kept when it verifies and its measured speedup is at least
    ``min_speedup``; with ``keep`` it is then left applied (``result.migrator``), else restored."""
    from .._term import Terminal

    term = Terminal() if not quiet else None
    t0 = time.perf_counter()
    if term:
        term.header("codedag closed loop", {"workers": dataloader.num_workers, "batch size": dataloader.batch_size,
                                            "verify batches": verify_batches, "measure batches": measure_batches,
                                            "repeats": repeats, "min speedup": min_speedup})
    optimizer_result: dict = {}
    if plan is None:
        plan, optimizer_result = trace_and_plan(dataloader, k, max_depth, coarsen_max_depth, gpu_count, export_dir,
                                                calibrate=calibrate, step=step)
        if term:
            cal = optimizer_result.get("calibration", {})
            moved = sum(1 for v in plan.get("context_device_map", {}).values() if v != "cpu")
            term.ok(f"traced {optimizer_result.get('dag_nodes')} contexts, optimized: {moved} to move"
                    + (f" (measured batch speedup {cal['batch_speedup']:.2f}x)" if "batch_speedup" in cal else
                       f" ({cal.get('why', '')})"))
    plan = load_plan(plan)
    predicted = plan.get("predicted_speedup", optimizer_result.get("predicted_speedup"))
    result = OptimizationResult(kept=False, reason="", plan=plan, predicted_speedup=predicted,
                                measured_speedup=None, verification=None, apply_stats=None,
                                optimizer={k: v for k, v in optimizer_result.items()})

    def finish(kept: bool, reason: str, migrator: PipelineMigrator | None) -> OptimizationResult:
        result["kept"], result["reason"] = kept, reason
        result["seconds"] = time.perf_counter() - t0
        if migrator is not None:
            if kept and keep:
                migrator.apply()
            elif migrator.is_applied():
                migrator.restore()
            result["apply_stats"] = {k: v for k, v in migrator.stats.items()}
        result.migrator = migrator
        if export_dir:
            os.makedirs(export_dir, exist_ok=True)
            _write_json(os.path.join(export_dir, "closed_loop.json"), result)
        _store_with_experiment(result)
        if term:
            (term.ok if kept else term.fail)(("kept the plan: " if kept else "plan not kept: ") + reason)
            term.table(["", "predicted", "measured"],
                       [["speedup", _fmt(predicted), _fmt(result.get("measured_speedup"))],
                        ["batches/s", "", f"{_rate(result.get('baseline_batches_per_s'))} -> "
                                          f"{_rate(result.get('migrated_batches_per_s'))}"]])
            term.summary("closed loop", 1 if kept else 0, 0 if kept else 1, result["seconds"])
        return result

    if not _moves_something(plan):
        return finish(False, "the plan keeps every context in the DataLoader workers: nothing to migrate", None)
    migrator = PipelineMigrator.from_plan(plan, **migrator_options)
    stats = migrator.apply()
    migrator.restore()
    if stats["patched"] == 0:
        why = "; ".join(f"{k}: {v}" for k, v in stats["reasons"].items()) or "no planned context resolved"
        return finish(False, f"no planned context could be applied ({why})", migrator)

    report = verify(dataloader, plan, batches=verify_batches, seed=seed, migrator=migrator)
    result["verification"] = dict(report)
    if term:
        (term.ok if report.ok else term.fail)(
            f"verification over {report['batches']} batch(es): {'outputs equal' if report.ok else 'outputs differ'}"
            + (f" (stochastic, compared by distribution: {', '.join(report['stochastic_contexts'])})"
               if report["stochastic_contexts"] else ""))
    if not report.ok:
        names = ", ".join(report["mismatching_contexts"]) or "outputs not produced by a planned context"
        return finish(False, f"migrated outputs differ from the baseline (contexts: {names})", migrator)

    measured = compare_throughput(dataloader, migrator, measure_batches, repeats, step)
    result.update(measured)
    if term:
        term.info(f"baseline {measured['baseline_batches_per_s']:.2f} batches/s, migrated "
                  f"{measured['migrated_batches_per_s']:.2f} batches/s (median of {repeats})")
    if measured["measured_speedup"] < min_speedup:
        return finish(False, f"measured speedup {measured['measured_speedup']:.2f}x is below the required "
                             f"{min_speedup:.2f}x", migrator)
    return finish(True, f"verified and {measured['measured_speedup']:.2f}x faster", migrator)


def _rate(x: Any) -> str:
    return "—" if x is None else f"{x:.2f}"


def _fmt(x: Any) -> str:
    return "—" if x is None else (f"{x:.2f}x" if isinstance(x, float) and x < 100 else f"{x}")


def _write_json(path: str, data: dict) -> None:
    """Atomic JSON write by the engine (temporary file + rename): never half a report."""
    from .. import _core

    _core.save_json(path, json.loads(json.dumps(data, default=str)))


def _store_with_experiment(result: OptimizationResult) -> None:
    try:
        from ..store import active_experiment
    except ImportError:
        return
    experiment = active_experiment()
    if experiment is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        plan_path = os.path.join(tmp, "plan.json")
        report_path = os.path.join(tmp, "closed_loop.json")
        _write_json(plan_path, result["plan"])
        _write_json(report_path, result)
        experiment.attach("plan", plan_path)
        experiment.attach("closed_loop", report_path)
