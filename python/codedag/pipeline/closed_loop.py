"""The closed loop: trace -> calibrate -> optimize -> verify -> measure -> keep or restore.

The optimizer decides where each function runs *and* how many DataLoader workers (threads each)
the pipeline uses on this machine's cores. The loop then tries, side by side, the loader as the user
built it (*untouched*), the best plain DataLoader the optimizer found (nothing moved, its worker
count and threads) and the plan; every candidate must first give the untouched outputs (``verify``:
values, or for stochastic outputs their distribution and the independence of the samples of a
batch). The survivors are measured in interleaved rounds on fresh iterators, and a candidate is kept
only when the lower bound of its speedup's bootstrap interval reaches ``min_speedup``; of those, the
fastest. So the loop never keeps a plan that loses to a plain setting it tried itself.

Nothing here raises for the user's pipeline: a failure in any phase (tracing, calibrating,
verifying, measuring) becomes "not kept: <phase> failed: <cause>" with every plan restored. On the
way out the user's world is put back (user_state.py): the generators of random, numpy and torch,
the loader's own generators, thread counts and attributes.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch.utils.data import DataLoader, IterableDataset

from ..graph import load_plan
from ..migration import PipelineMigrator
from ..migration.loader_settings import shut_down_workers
from .measurement import Setting, interleave, speedup
from .user_state import UserState
from .verification import verify


class OptimizationResult(dict):
    """What the closed loop decided (a JSON-serialisable dict) plus the live ``migrator`` (applied
    when the kept setting was left applied)."""

    migrator: PipelineMigrator | None = None

    @property
    def kept(self) -> bool:
        return bool(self["kept"])


class _Budget:
    """The loop's time budget (``budget_s``; None: unlimited), shared by its phases. Tracing,
    calibrating and optimizing cannot be cut short: the budget is checked after each; verification
    checks it between candidates and measurement between rounds (it trades rounds for the
    interval). ``cut`` lists what was left out, for the result and the printed summary."""

    def __init__(self, seconds: float | None, t0: float):
        self.seconds = seconds
        self.deadline = None if seconds is None else t0 + seconds
        self.t0 = t0
        self.cut: list[str] = []
        self.ran_out = False

    def left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.perf_counter()

    def spent(self) -> bool:
        return self.left() <= 0

    def check(self, after: str, still: str) -> None:
        """Raises _BudgetSpent when the budget is spent after phase ``after``, with ``still`` the
        phases that could not run."""
        if self.spent():
            self.ran_out = True
            self.cut.append(f"not run: {still}")
            raise _BudgetSpent(f"the budget of {self.seconds:g} s ran out after {after} "
                               f"({time.perf_counter() - self.t0:.1f} s spent), too small to {still}; nothing kept "
                               f"(allow more with budget_s / --budget-s)")

    def describe(self) -> dict | None:
        if self.seconds is None:
            return None
        return {"seconds": self.seconds, "ran_out": self.ran_out, "cut": list(self.cut)}


class _Phases:
    """Wall time per phase of the loop (reported with each phase's share of the total)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.current = ""

    def start(self, name: str) -> _Phases:
        self.current = name
        return self

    def __enter__(self):
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds[self.current] = self.seconds.get(self.current, 0.0) + time.perf_counter() - self._t0


def trace_and_plan(loader: DataLoader, k: int = 2, max_depth: int = 10, coarsen_max_depth: int = 5,
                   gpu_count: int | None = None, export_dir: str | None = None, calibrate: bool = True,
                   step: Callable[[Any], Any] | None = None, tune_workers: bool = True,
                   phases: _Phases | None = None, budget: _Budget | None = None) -> tuple[dict, dict]:
    """Traces one batch of ``loader``, calibrates the device model by measurement (calibration.py)
    and asks the optimizer for a plan (with ``tune_workers``, the worker count and threads too):
    (plan, optimizer summary with the calibration and the traced DAG's size)."""
    import codedag

    from .calibration import available_cores
    from .calibration import calibrate as measure_and_learn

    phases = phases or _Phases()
    budget = budget or _Budget(None, time.perf_counter())
    with phases.start("trace"):
        tracer = codedag.EnhancedTracer(max_depth=max_depth, track_memory=True)
        iterator = iter(loader)
        try:
            with tracer.tracing_context():
                next(iterator)
        finally:
            del iterator
            shut_down_workers(loader)
        dag = tracer.dag
    traced_nodes = len(dag.nodes)
    if not traced_nodes:
        raise _LoopError("trace", "the trace recorded no contexts: the DataLoader's batch did not run any traced "
                                  "Python code (is the dataset pre-computed tensors?)")
    if gpu_count is None:
        from ..graph.optimizer import detect_gpu_count

        gpu_count = detect_gpu_count()
    budget.check("trace", "calibrate, optimize and verify")
    with phases.start("calibrate"):
        if calibrate:
            found = measure_and_learn(loader, dag, k, coarsen_max_depth, step=step)
            # The plan is made on what calibration learned: measured batch times, refused steps pinned.
            model, calibration, dag = found.model, found.details, found.dag
        else:
            model = codedag.DeviceModel.defaults(workers=max(1, loader.num_workers))
            model.workers, model.cores = loader.num_workers, available_cores()
            calibration = {"why": "calibration off", "cores": model.cores}
    dag = _with_batch_size(dag, loader)
    budget.check("calibrate", "optimize and verify")
    with phases.start("optimize"):
        choose = tune_workers and not isinstance(loader.dataset, IterableDataset)
        manager = codedag.OptimizerManager(k=k, coarsen_max_depth=coarsen_max_depth, device_model=model,
                                           gpu_count=gpu_count, workers=loader.num_workers, choose_workers=choose)
        result = manager.optimize(dag, export_dir=export_dir)
    summary = {key: v for key, v in result.items() if key not in ("coarsened_dag", "plan", "optimized_partitions")}
    summary["calibration"] = calibration
    summary["dag_nodes"] = traced_nodes
    summary["chose_workers"] = choose
    return result["plan"], summary


def _with_batch_size(dag: Any, loader: DataLoader) -> Any:
    """The DAG with ``meta.samples`` (the traced batches times the loader's batch size) when the
    loader says its batch size: the optimizer's batch-size suggestion needs it."""
    import codedag

    from .calibration import dag_dict

    doc = dict(dag_dict(dag))  # never the caller's dict
    meta = doc["meta"] = dict(doc.get("meta") or {})
    if not loader.batch_size or meta.get("samples"):
        return dag
    meta["samples"] = int(loader.batch_size) * int(meta.get("batches") or 1)

    return codedag.Dag.from_dict(doc)


UNLIMITED = ", threads as torch leaves them"


@dataclass
class _Options:
    """optimize_pipeline's arguments, as the phases read them."""

    k: int
    max_depth: int
    coarsen_max_depth: int
    gpu_count: int | None
    verify_batches: int
    measure_batches: int
    repeats: int
    min_speedup: float
    step: Callable[[Any], Any] | None
    seed: int
    export_dir: str | None
    calibrate: bool
    tune_workers: bool
    level: float
    independence_runs: int
    migrator_options: dict = field(default_factory=dict)
    tune_batch_size: bool = False
    budget: _Budget | None = None


class _LoopError(Exception):
    """A phase of the loop could not go on; ``str()`` is the reason the result gives."""

    def __init__(self, phase: str, reason: str):
        super().__init__(reason)
        self.phase = phase


class _BudgetSpent(Exception):
    """The time budget ran out before the loop could decide; ``str()`` is the whole reason."""


def _moved(plan: dict) -> list[str]:
    return sorted(k for k, v in plan.get("context_device_map", {}).items() if v != "cpu")


def _plain_plan(workers: int, threads: int | None, batch_size: int | None = None) -> dict:
    parallelism: dict[str, Any] = {"workers": workers, "limit_threads": threads is not None}
    if threads is not None:
        parallelism["threads_per_worker"] = threads
    if batch_size:
        parallelism["suggested_batch_size"] = batch_size
    return {"schema": "codedag.plan/1", "context_device_map": {}, "parallelism": parallelism}


def _settings(loader: DataLoader, plan: dict, tune_workers: bool, migrator_options: dict,
              notes: list[str], tune_batch_size: bool = False) -> list[Setting]:
    """The untouched loader, the plan and the plain DataLoaders of ``_plain_grid``; with
    ``tune_batch_size`` also the plan and the optimizer's plain DataLoader at the suggested batch size."""
    user_workers = loader.num_workers
    parallelism = plan.get("parallelism")
    apply_workers = tune_workers and parallelism is not None and not isinstance(loader.dataset, IterableDataset)
    out = [Setting("untouched", "untouched", user_workers)]
    moved = _moved(plan)
    if moved:
        migrator = PipelineMigrator.from_plan(plan, loader=loader, apply_workers=apply_workers, **migrator_options)
        stats = migrator.apply()
        migrator.restore()
        if stats["patched"] == 0:
            why = "; ".join(f"{k}: {v}" for k, v in stats["reasons"].items()) or "no planned context resolved"
            notes.append(f"the plan's contexts could not be applied ({why})")
        else:
            workers = parallelism["workers"] if apply_workers else user_workers
            threads = parallelism.get("threads_per_worker") if apply_workers else None
            out.append(Setting(f"plan, {workers} workers", "plan", workers, migrator, threads))
            if workers and threads is not None:
                # The same plan with the workers' threads as torch leaves them (see _plain_grid).
                free = dict(plan, parallelism=dict(parallelism, limit_threads=False))  # what the result says
                migrator = PipelineMigrator.from_plan(free, loader=loader, apply_workers=True, **migrator_options)
                out.append(Setting(f"plan, {workers} workers{UNLIMITED}", "plan", workers, migrator, None))
    else:
        notes.append("the plan moves no context")
    if apply_workers:
        grid = _plain_grid(user_workers, parallelism)
        limited = {w for w, t in grid if t is not None}
        for workers, threads in grid:
            plain = PipelineMigrator.from_plan(_plain_plan(workers, threads), loader=loader, apply_workers=True)
            name = f"plain, {workers} workers" + (UNLIMITED if threads is None and workers in limited else "")
            out.append(Setting(name, "plain", workers, plain, threads))
    if tune_batch_size:
        out.extend(_batch_size_settings(loader, plan, out, migrator_options, notes))
    return out


def _batch_size_settings(loader: DataLoader, plan: dict, settings: list[Setting], migrator_options: dict,
                         notes: list[str]) -> list[Setting]:
    """The opt-in ``tune_batch_size`` (another batch size changes training, so it is only tried when
    asked): the plan and plain DataLoaders at the optimizer's suggested batch size and at twice the
    user's, the first step a user tuning by hand takes. The model's suggestion rests on the fixed cost
    per batch it knows (the workers' hand-off); a main process's own per-batch cost (collation, the
    loop) is not in it, and on a short pipeline twice the batch at 0 workers measured 1.1x the best
    plain DataLoader at the user's. Plain settings run at the optimizer's worker count and at 0."""
    from torch.utils.data import BatchSampler

    parallelism = plan.get("parallelism") or {}
    if loader.batch_size is None or type(loader.batch_sampler) is not BatchSampler:
        notes.append("batch size: not tried (the loader's batches come from its own batch_sampler)")
        return []
    suggested = int(parallelism.get("suggested_batch_size") or 0)
    sizes = sorted({size for size in (suggested, 2 * loader.batch_size) if size and size != loader.batch_size})
    if suggested in (0, loader.batch_size):
        notes.append(f"batch size: the optimizer suggests none ({parallelism.get('batch_size_reason') or 'no reason given'});"
                     f" {2 * loader.batch_size} (twice the loader's) is measured")
    out = []
    planned = next((s for s in settings if s.kind == "plan"), None)
    model_workers = int(parallelism.get("plain_workers") or 0)
    for size in sizes:
        if planned is not None:
            migrator = PipelineMigrator.from_plan(planned.migrator.plan, loader=loader, apply_workers=True,
                                                  apply_batch_size=True, **migrator_options)
            out.append(Setting(f"plan, {planned.workers} workers, batch {size}", "plan", planned.workers, migrator,
                               planned.threads_per_worker, batch_size=size))
        for workers in sorted({model_workers, 0}):
            threads = parallelism.get("plain_threads_per_worker") if workers and workers == model_workers else None
            plain = PipelineMigrator.from_plan(_plain_plan(workers, threads, size), loader=loader, apply_workers=True,
                                               apply_batch_size=True)
            out.append(Setting(f"plain, {workers} workers, batch {size}", "plain", workers, plain, threads,
                               batch_size=size))
    return out


def _plain_grid(user_workers: int, parallelism: dict) -> list[tuple[int, int | None]]:
    """The plain DataLoaders (nothing moved) the loop measures: every worker count from 0 to the
    user's, one more while it fits the cores, and the optimizer's choice; threads per worker as the
    engine divides the cores (none for 0 workers). The model can be wrong about worker start-up and
    hand-off (24x between 0 and 2 workers on a short pipeline): measuring these is what lets the loop
    promise never to lose to a plain DataLoader it tried. Each worker count with a thread limit is
    also tried with the threads as torch leaves them: limiting torch's and the BLAS/FFT pools
    avoids oversubscription on one pipeline (1.4-1.75x on a real audio one) and costs 1.5-3x on
    another (audio_mel's torch.stft in forked workers, measured on 2 cores)."""
    from .. import _core

    cores = float(parallelism.get("cores") or 0)
    counts = set(range(0, user_workers + 1))
    if cores and user_workers + 1 <= cores:
        counts.add(user_workers + 1)
    model_choice = int(parallelism["plain_workers"])
    counts.add(model_choice)
    grid = []
    for workers in sorted(counts):
        if workers == 0:
            threads = None
        elif workers == model_choice and parallelism.get("plain_threads_per_worker"):
            threads = int(parallelism["plain_threads_per_worker"])
        else:
            threads = _core.threads_per_worker(cores, workers) if cores else None
        if workers == user_workers and threads is None:
            continue  # that is the untouched loader
        grid.append((workers, threads))
        if threads is not None and workers != user_workers:
            grid.append((workers, None))  # and as torch leaves the threads: measured, not assumed
    return grid


def optimize_pipeline(dataloader: DataLoader, plan: Any = None, *, k: int = 2, max_depth: int = 10,
                      coarsen_max_depth: int = 5, gpu_count: int | None = None, verify_batches: int = 3,
                      measure_batches: int = 10, repeats: int = 5, min_speedup: float = 1.05,
                      step: Callable[[Any], Any] | None = None, seed: int = 0, export_dir: str | None = None,
                      keep: bool = True, quiet: bool = False, calibrate: bool = True, tune_workers: bool = True,
                      level: float = 0.95, independence_runs: int = 5, tune_batch_size: bool = False,
                      budget_s: float | None = None, **migrator_options: Any) -> OptimizationResult:
    """Runs the closed loop on ``dataloader`` and returns an OptimizationResult; never raises for
    the pipeline (a failing phase is "not kept" with its cause).

    ``plan``: skip tracing/optimizing and try this codedag.plan/1 (dict or path). ``step``: a
    training step run on every measured batch (its time is part of every measurement, as in
    training). ``repeats``: interleaved measurement rounds (at least 2 for an interval).
    ``tune_workers``: let the optimizer choose the worker count and threads per worker and try the
    best plain DataLoader too (map-style datasets only: an IterableDataset's stream depends on the
    worker count). A setting is kept when it verifies and the lower bound of its speedup's
    ``level`` interval is at least ``min_speedup``. ``tune_batch_size`` (opt-in, with ``tune_workers``;
    it changes training: fewer, larger optimiser steps): also try the plan and the best plain
    DataLoaders at the batch size the optimizer suggests and at twice the user's; without it the
    suggestion is only reported.
    ``budget_s``: seconds the whole loop may take (None: no limit). Its phases share it;
    measurement stops adding rounds when it is spent and decides on the rounds it has (kept only
    with an interval whose lower bound still reaches ``min_speedup``); a budget spent before
    verification ends keeps nothing and says so. With ``keep`` the kept setting is then left applied
    (``result.migrator``; the worker count on ``dataloader`` too), else everything is restored."""
    from .. import InputError
    from .._term import Terminal

    if not isinstance(dataloader, DataLoader):
        raise InputError(f"optimize_pipeline needs a torch DataLoader, not {type(dataloader).__name__}")
    for name, value, least in (("verify_batches", verify_batches, 1), ("measure_batches", measure_batches, 2),
                               ("repeats", repeats, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InputError(f"{name} must be a whole number of at least {least}, got {value!r}")
    if not 0 < level < 1:
        raise InputError(f"level must be between 0 and 1, got {level!r}")
    if budget_s is not None and (isinstance(budget_s, bool) or not isinstance(budget_s, (int, float))
                                 or not math.isfinite(budget_s) or budget_s <= 0):
        raise InputError(f"budget_s must be a positive number of seconds (or None for no limit), got {budget_s!r}")

    term = Terminal() if not quiet else None
    t0 = time.perf_counter()
    phases = _Phases()
    budget = _Budget(budget_s, t0)
    state = UserState(dataloader)
    shut_down_workers(dataloader)  # persistent workers from before run the code of before
    if term:
        term.header("codedag closed loop", {"workers": dataloader.num_workers, "batch size": dataloader.batch_size,
                                            "verify batches": verify_batches, "measure batches": measure_batches,
                                            "rounds": repeats, "min speedup": f"{min_speedup} (interval lower bound)",
                                            "tune workers": tune_workers, "tune batch size": tune_batch_size,
                                            "budget": f"{budget_s:g} s" if budget_s is not None else "none"})
    result = OptimizationResult(kept=False, reason="", plan=None, predicted_speedup=None, measured_speedup=None,
                                interval=None, verification=None, verifications={}, apply_stats=None, optimizer={},
                                settings=[], workers=dataloader.num_workers, threads_per_worker=None,
                                batch_size=dataloader.batch_size, suggested_batch_size=None, fallbacks=0, notes=[])
    settings: list[Setting] = []
    chosen: Setting | None = None
    try:
        options = _Options(k, max_depth, coarsen_max_depth, gpu_count, verify_batches, measure_batches, repeats,
                           min_speedup, step, seed, export_dir, calibrate, tune_workers, level, independence_runs,
                           migrator_options, tune_batch_size and tune_workers, budget)
        chosen = _run(dataloader, plan, result, settings, phases, term, options)
    except _BudgetSpent as exc:
        result["reason"] = str(exc)
    except _LoopError as exc:
        result["reason"] = f"{exc.phase} failed: {exc}"
    except Exception as exc:  # the user's pipeline must never see an exception from the loop
        result["reason"] = f"{phases.current or 'the loop'} failed: {type(exc).__name__}: {exc}"
    finally:
        for s in settings:  # whatever happened, nothing stays applied
            if s.migrator is not None and s.migrator.is_applied():
                s.migrator.restore()
        problems = state.restore()
        if problems:
            result["notes"].append("could not restore: " + "; ".join(problems))
    result["budget"] = budget.describe()
    return _finish(result, chosen, dataloader, keep, export_dir, term, phases, time.perf_counter() - t0)


def _run(loader: DataLoader, plan: Any, result: OptimizationResult, settings: list[Setting], phases: _Phases,
         term: Any, o: _Options) -> Setting | None:
    """The phases after the set-up; returns the kept setting or None (result["reason"] says why)."""
    optimizer: dict = {}
    budget = o.budget or _Budget(None, time.perf_counter())
    if plan is None:
        plan, optimizer = trace_and_plan(loader, o.k, o.max_depth, o.coarsen_max_depth, o.gpu_count,
                                         o.export_dir, calibrate=o.calibrate, step=o.step,
                                         tune_workers=o.tune_workers, phases=phases, budget=budget)
        result["optimizer"] = optimizer
        budget.check("optimize", "verify and measure")
    with phases.start("plan"):
        plan = load_plan(plan)
    result["plan"] = plan
    result["predicted_speedup"] = plan.get("predicted_speedup")
    parallelism = plan.get("parallelism")
    if parallelism:
        result["suggested_batch_size"] = parallelism.get("suggested_batch_size")
        result["batch_size_reason"] = parallelism.get("batch_size_reason")
        if parallelism.get("untouched_cost") and plan.get("cost"):
            result["predicted_speedup_vs_untouched"] = parallelism["untouched_cost"] / plan["cost"]
    if term and optimizer:
        cal = optimizer.get("calibration", {})
        term.ok(f"traced {optimizer.get('dag_nodes')} contexts; cores {cal.get('cores', '?'):g}"
                + (f", worker hand-off {cal['worker_handoff_ns'] / 1e6:.2f} ms" if cal.get("worker_handoff_ns") else "")
                + (f", measured batch speedup {cal['batch_speedup']:.2f}x" if "batch_speedup" in cal
                   else f" ({cal.get('why', '')})"))
    if term:
        what = f"move {len(_moved(plan))} context(s)" if _moved(plan) else "move nothing"
        if parallelism:
            what += (f", use {parallelism['workers']} worker(s) x {parallelism['threads_per_worker']} thread(s); "
                     f"best plain DataLoader: {parallelism['plain_workers']} worker(s)")
        term.ok(f"optimized: {what} (predicted {_fmt(result.get('predicted_speedup_vs_untouched') or result['predicted_speedup'])} "
                "over the untouched loader)")

    with phases.start("plan"):
        settings.extend(_settings(loader, plan, o.tune_workers, o.migrator_options, result["notes"],
                                  o.tune_batch_size))
    candidates = settings[1:]
    if not candidates:
        result["reason"] = ("nothing to try: " + "; ".join(result["notes"])) if result["notes"] else \
            "nothing to try: the plan keeps every context in the DataLoader workers"
        return None

    with phases.start("verify"):
        for s in list(candidates):
            if budget.spent():
                s.error = "not verified: the budget ran out"
                budget.cut.append(f"{s.name}: not verified")
                candidates.remove(s)
                continue
            report = verify(loader, s.migrator.plan, batches=o.verify_batches, seed=o.seed, migrator=s.migrator,
                            migrated_workers=s.workers, independence_runs=o.independence_runs)
            result["verifications"][s.name] = dict(report)
            s.fallbacks += report["fallbacks"]
            if s.kind == "plan":
                result["verification"] = dict(report)
            if term:
                (term.ok if report.ok else term.fail)(
                    f"{s.name}: outputs {'equal' if report.ok else 'differ'} over {report['batches']} batch(es)"
                    + (f" (stochastic: {', '.join(report['stochastic_contexts']) or 'outputs'} compared by "
                       "distribution and independence)" if report["stochastic_contexts"] else ""))
            if not report.ok:
                names = ", ".join(report["mismatching_contexts"]) or "outputs not produced by a planned context"
                details = "; ".join(out["detail"] for out in report["outputs"] if out.get("detail"))
                s.error = f"outputs differ from the untouched loader's (contexts: {names})" + \
                    (f": {details}" if details else "")
                candidates.remove(s)
    if not candidates:
        result["settings"] = [s.describe() for s in settings]
        result["reason"] = "; ".join(f"{s.name}: {s.error}" for s in settings[1:])
        if budget.cut:
            budget.check("verify", "verify a candidate and measure it")
        return None
    budget.check("verify", "measure")

    measured = [settings[0]] + candidates
    with phases.start("measure"):
        progress = term.progress("measuring", o.repeats * len(measured)) if term else None
        rounds = interleave(loader, measured, o.repeats, o.measure_batches, o.step, progress,
                            deadline=budget.deadline)
    if rounds < o.repeats:
        budget.ran_out = True
        budget.cut.append(f"measurement: {rounds} of {o.repeats} rounds")
    rows = []
    best: tuple[float, Setting, dict] | None = None
    for s in settings:
        entry = s.describe()
        if s.samples_per_s:
            entry["median_samples_per_s"] = statistics.median(s.samples_per_s)
        if s is not settings[0]:
            interval = speedup(settings[0], s, o.level)
            entry["speedup"] = interval
            # One round has no interval: inconclusive, so a budget that cut measurement to it keeps nothing.
            # A setting raced out was measured fewer rounds than the one that beat it: never kept.
            conclusive = interval is not None and s.beaten is None and \
                (rounds >= o.repeats or interval.get("has_interval"))
            if conclusive and interval["lower"] >= o.min_speedup and \
                    (best is None or interval["speedup"] > best[0]):
                best = (interval["speedup"], s, interval)
        rows.append(entry)
    result["settings"] = rows
    result["fallbacks"] = sum(s.fallbacks for s in settings)
    if term:
        term.table(["setting", "workers", "samples/s", "speedup", f"{int(o.level * 100)}% interval"],
                   [[r["name"], r["workers"], _rate(r.get("median_samples_per_s")),
                     _fmt(r["speedup"]["speedup"]) if r.get("speedup") else ("—" if not r.get("error") else "failed"),
                     (f"[{r['speedup']['lower']:.2f}, {r['speedup']['upper']:.2f}]" if r.get("speedup") else
                      (r.get("error") or "")[:60])
                     + (f" (out after {len(r['samples_per_s'])} rounds)" if r.get("beaten") else "")] for r in rows])
    considered = [r for r in rows[1:] if r.get("speedup")]
    top = max(considered, key=lambda r: r["speedup"]["speedup"], default=None)
    if top is not None:
        result["measured_speedup"] = top["speedup"]["speedup"]
        result["interval"] = top["speedup"]
    if best is None:
        if top is None:
            result["reason"] = "; ".join(f"{s.name}: {s.error}" for s in candidates if s.error) or \
                "no candidate could be measured"
        elif rounds < o.repeats:
            iv = top["speedup"]
            result["reason"] = (f"the budget of {budget.seconds:g} s ran out after {rounds} of {o.repeats} "
                                f"measurement rounds with {top['name']}'s {int(o.level * 100)}% interval at "
                                f"[{iv['lower']:.2f}, {iv['upper']:.2f}] (measured {iv['speedup']:.2f}x"
                                + ("" if iv.get("has_interval") else ", one round: no interval") +
                                f"); its lower bound does not reach the required {o.min_speedup:.2f}x")
        else:
            iv = top["speedup"]
            result["reason"] = (f"{top['name']}: measured {iv['speedup']:.2f}x, {int(o.level * 100)}% interval "
                                f"[{iv['lower']:.2f}, {iv['upper']:.2f}]; its lower bound is below the required "
                                f"{o.min_speedup:.2f}x")
        return None
    _, kept, interval = best
    result["measured_speedup"], result["interval"] = interval["speedup"], interval
    result["plan"] = kept.migrator.plan
    result["workers"], result["threads_per_worker"] = kept.workers, kept.threads_per_worker
    result["batch_size"] = kept.batch_size or loader.batch_size
    result["kept_setting"] = kept.name
    what = (f"move {len(_moved(kept.migrator.plan))} context(s) and use {kept.workers} worker(s)" if kept.kind == "plan"
            else f"a plain DataLoader with {kept.workers} worker(s)")
    result["reason"] = (f"{what}: verified and {interval['speedup']:.2f}x faster "
                        f"({int(o.level * 100)}% interval [{interval['lower']:.2f}, {interval['upper']:.2f}]"
                        + (f", {rounds} of {o.repeats} rounds within the budget" if rounds < o.repeats else "") + ")")
    return kept


def _finish(result: OptimizationResult, chosen: Setting | None, loader: DataLoader, keep: bool,
            export_dir: str | None, term: Any, phases: _Phases, seconds: float) -> OptimizationResult:
    kept = chosen is not None
    result["kept"] = kept
    result["seconds"] = seconds
    result["phase_seconds"] = dict(phases.seconds)
    result["phase_share"] = {k: v / seconds for k, v in phases.seconds.items()} if seconds > 0 else {}
    migrator = chosen.migrator if chosen is not None else None
    if migrator is not None:
        if keep:
            try:
                migrator.apply()
            except Exception as exc:  # applied a moment ago; a failure now is reported, never raised
                result["kept"], kept = False, False
                result["reason"] = f"the kept setting could not be applied again: {type(exc).__name__}: {exc}"
        result["apply_stats"] = {k: v for k, v in migrator.stats.items()}
    result.migrator = migrator
    if export_dir:
        try:
            os.makedirs(export_dir, exist_ok=True)
            _write_json(os.path.join(export_dir, "closed_loop.json"), result)
        except Exception as exc:
            result["notes"].append(f"could not write closed_loop.json: {exc}")
    try:
        _store_with_experiment(result)
    except Exception as exc:
        result["notes"].append(f"could not attach the result to the running experiment: {exc}")
    if term:
        (term.ok if kept else term.fail)(("kept: " if kept else "not kept: ") + result["reason"])
        if result.get("suggested_batch_size") and result.get("batch_size_reason"):
            term.info(f"batch size: {result['batch_size_reason']}")
        for note in result["notes"]:
            term.info(note)
        shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in sorted(result["phase_share"].items(),
                                                                  key=lambda kv: -kv[1]))
        term.info(f"the loop took {seconds:.1f} s ({shares})")
        if result.get("budget"):
            b = result["budget"]
            term.info(f"budget {b['seconds']:g} s: " + ("; ".join(b["cut"]) if b["cut"] else
                      ("ran out" if b["ran_out"] else "nothing cut")))
        term.summary("closed loop", 1 if kept else 0, 0 if kept else 1, seconds)
    return result


def _rate(x: Any) -> str:
    return "—" if x is None else f"{x:.1f}"


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
        if result["plan"] is not None:
            _write_json(plan_path, result["plan"])
            experiment.attach("plan", plan_path)
        _write_json(report_path, result)
        experiment.attach("closed_loop", report_path)
