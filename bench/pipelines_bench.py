"""The closed loop on the test corpus of realistic pipelines (tests/pipelines/): for each pipeline,
samples/s of the loader as written (*untouched*: ``make_loader(num_workers=2)``, the corpus's setting), of the best hand-tuned plain DataLoader (a grid of
num_workers x batch size, what a user would try by hand) and of what CodeDAG's closed loop kept --
measured side by side, in interleaved rounds on fresh iterators, in this one run, with bootstrap
intervals. The loop's own measurement decided what to keep; these figures are an independent
re-measurement.

    .venv/bin/python bench/pipelines_bench.py --out bench/results/pipelines.json [--only NAME,...] [--quick]

A corpus module is any ``tests/pipelines/*.py`` defining ``make_loader(num_workers: int = 0)``
returning a torch DataLoader (building any data it needs under a temporary directory itself). The
summary's headline is over the CPU-bound pipelines with a movable stage: those whose closed-loop
plan moved a context (and ``CPU_BOUND`` is not False in the module).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
try:  # the package make setup installed (the source tree has no built extension of its own)
    import codedag._core  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(REPO, "python"))

import torch  # noqa: E402
from torch.utils.data import DataLoader, IterableDataset  # noqa: E402

import codedag  # noqa: E402
from codedag import _core  # noqa: E402
from codedag.migration import PipelineMigrator  # noqa: E402
from codedag.pipeline.measurement import MIN_SECONDS, measure_once, warmup_for  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peak_memory  # noqa: E402

CORPUS = os.path.join(REPO, "tests", "pipelines")
SAME = "best hand-tuned (user's batch size)"
ANY = "best hand-tuned (any batch size)"


def corpus_modules(only: set[str] | None) -> list[tuple[str, Any]]:
    """(name, module) of every corpus module with make_loader, imported as ``pipelines.<name>``
    (the corpus is a package under tests/, so spawned workers import it the same way)."""
    found = []
    tests_dir = os.path.dirname(CORPUS)
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    for file in sorted(os.listdir(CORPUS)) if os.path.isdir(CORPUS) else []:
        name, ext = os.path.splitext(file)
        if ext != ".py" or name.startswith("_") or (only and name not in only):
            continue
        try:
            module = importlib.import_module(f"pipelines.{name}")
        except Exception as exc:  # reported, the others still run
            found.append((name, exc))
            continue
        if callable(getattr(module, "make_loader", None)):
            found.append((name, module))
    return found


def with_batch_size(loader: DataLoader, batch_size: int, workers: int) -> DataLoader:
    """The same data and collation with another batch size and worker count (a hand-tuning step)."""
    options: dict[str, Any] = dict(batch_size=batch_size, num_workers=workers, collate_fn=loader.collate_fn,
                                   worker_init_fn=loader.worker_init_fn, drop_last=loader.drop_last,
                                   pin_memory=loader.pin_memory)
    if workers:
        options["multiprocessing_context"] = loader.multiprocessing_context
        options["persistent_workers"] = loader.persistent_workers
    if not isinstance(loader.dataset, IterableDataset):
        options["sampler"] = loader.sampler
    return DataLoader(loader.dataset, **options)


def samples_per_s(loader: DataLoader, batches: int, migrator: PipelineMigrator | None = None) -> float:
    """One measurement on a fresh iterator (with the migrator applied: the plan and its worker count)."""
    def measure() -> float:
        warmup = warmup_for(loader.num_workers)
        return measure_once(loader, batches, warmup, min_seconds=MIN_SECONDS)

    if migrator is None:
        return measure()
    with migrator:
        return measure()


def hand_tuned(module: Any, base: DataLoader, args) -> dict:
    """The grid a user would try: workers x batch size (samples/s; one short run each, then the
    best is re-measured with the others below)."""
    grid = []
    iterable = isinstance(base.dataset, IterableDataset)
    workers = [base.num_workers] if iterable else list(range(0, args.max_workers + 1))
    sizes = [base.batch_size] if base.batch_size is None else sorted({base.batch_size, base.batch_size * 2})
    for b in sizes:
        for w in workers:
            try:
                loader = module.make_loader(num_workers=w) if b == base.batch_size else with_batch_size(base, b, w)
                grid.append({"workers": w, "batch_size": b,
                             "samples_per_s": samples_per_s(loader, args.grid_batches)})
            except Exception as exc:
                grid.append({"workers": w, "batch_size": b, "error": f"{type(exc).__name__}: {exc}"})
    measured = [g for g in grid if "samples_per_s" in g]
    best = max(measured, key=lambda g: g["samples_per_s"]) if measured else None
    same = [g for g in measured if g["batch_size"] == base.batch_size]
    # A batch size changes training (fewer, larger optimiser steps): the fair peer of a loop that
    # keeps the user's batch size is the best worker count at that batch size; the whole grid's
    # best is reported beside it.
    best_same = max(same, key=lambda g: g["samples_per_s"]) if same else None
    return {"grid": grid, "best": best, "best_same_batch": best_same}


def interleaved(arms: list[tuple[str, DataLoader, PipelineMigrator | None]], rounds: int, batches: int) -> dict:
    """samples/s of every arm, one measurement per arm per round, order alternating."""
    runs: dict[str, list[float]] = {name: [] for name, _, _ in arms}
    for r in range(rounds):
        for name, loader, migrator in (arms if r % 2 == 0 else list(reversed(arms))):
            runs[name].append(samples_per_s(loader, batches, migrator))
    return runs


def interval(base: list[float], other: list[float]) -> dict:
    return _core.speedup_interval(base, other)


def bench_pipeline(name: str, module: Any, args) -> dict:
    entry: dict[str, Any] = {"pipeline": name, "doc": (module.__doc__ or "").strip().split("\n")[0],
                             "cpu_bound": getattr(module, "CPU_BOUND", None), "load_before": os.getloadavg()}
    print(f"== {name}: {entry['doc']}", flush=True)
    untouched = module.make_loader(num_workers=args.user_workers)
    entry.update(workers=untouched.num_workers, batch_size=untouched.batch_size)
    t0 = time.perf_counter()
    peer = hand_tuned(module, untouched, args)
    entry["hand_tuned"] = peer
    entry["hand_tuned_seconds"] = time.perf_counter() - t0
    best, best_same = peer["best"], peer["best_same_batch"]
    print(f"   hand-tuned best: {best}; at the user's batch size: {best_same}", flush=True)

    t0 = time.perf_counter()
    loop_loader = module.make_loader(num_workers=args.user_workers)
    export = tempfile.mkdtemp(prefix=f"codedag-bench-{name}-")
    try:
        result = codedag.optimize_pipeline(loop_loader, keep=False, quiet=not args.verbose, export_dir=export,
                                           verify_batches=args.verify_batches, measure_batches=args.batches,
                                           repeats=args.loop_rounds, tune_batch_size=args.loop_batch_size)
    except Exception as exc:  # the loop must never raise: a failure here is a finding
        entry["loop_raised"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        return entry
    entry["loop_seconds"] = time.perf_counter() - t0
    entry["loop"] = {k: result.get(k) for k in ("kept", "reason", "kept_setting", "workers", "threads_per_worker",
                                                  "measured_speedup", "interval", "predicted_speedup",
                                                  "predicted_speedup_vs_untouched", "batch_size",
                                                  "suggested_batch_size", "batch_size_reason",
                                                  "phase_share", "fallbacks", "notes")}
    # What the loop measured itself (each setting's median and interval over the untouched loader).
    entry["loop"]["settings"] = [{"name": r["name"], "workers": r["workers"], "batch_size": r.get("batch_size"),
                                  "median_samples_per_s": r.get("median_samples_per_s"),
                                  "speedup": r.get("speedup"), "error": r.get("error"), "beaten": r.get("beaten")}
                                 for r in result["settings"]]
    entry["loop"]["calibration_rounds"] = result.get("optimizer", {}).get("calibration", {}).get("rounds")
    entry["loop"]["moved"] = sorted(k for k, v in (result["plan"] or {}).get("context_device_map", {}).items()
                                    if v != "cpu")
    entry["loop"]["had_movable_stage"] = any(s["kind"] == "plan" for s in result["settings"]) or \
        bool(result.get("optimizer", {}).get("calibration", {}).get("candidate"))
    print(f"   closed loop ({entry['loop_seconds']:.0f} s): {'kept' if result.kept else 'not kept'}: "
          f"{result['reason']}", flush=True)

    # The independent re-measurement: untouched, best hand-tuned, CodeDAG's kept setting.
    arms: list[tuple[str, DataLoader, PipelineMigrator | None]] = [("untouched", untouched, None)]
    if best_same is not None:
        arms.append((SAME, module.make_loader(num_workers=best_same["workers"]), None))
    if best is not None and best is not best_same:
        arms.append((ANY, with_batch_size(untouched, best["batch_size"], best["workers"]), None))
    if result.kept:
        codedag_loader = module.make_loader(num_workers=args.user_workers)
        other_batch = bool(result.get("batch_size")) and result["batch_size"] != untouched.batch_size
        migrator = PipelineMigrator.from_plan(result["plan"], loader=codedag_loader,
                                              apply_workers="parallelism" in result["plan"],
                                              apply_batch_size=other_batch)
        arms.append(("codedag", codedag_loader, migrator))
    runs = interleaved(arms, args.rounds, args.batches)
    entry["runs"] = runs
    entry["median_samples_per_s"] = {k: statistics.median(v) for k, v in runs.items()}
    entry["vs_untouched"] = {k: interval(runs["untouched"], v) for k, v in runs.items() if k != "untouched"}
    for peer_name, key in ((SAME, "codedag_vs_best_hand_tuned"), (ANY, "codedag_vs_best_hand_tuned_any_batch")):
        if "codedag" in runs and peer_name in runs:
            entry[key] = interval(runs[peer_name], runs["codedag"])
    entry["memory"] = memory(name, export, args)
    entry["load_after"] = os.getloadavg()
    for k, v in entry["vs_untouched"].items():
        print(f"   {k}: {v['speedup']:.2f}x [{v['lower']:.2f}, {v['upper']:.2f}] over untouched", flush=True)
    for key, what in (("codedag_vs_best_hand_tuned", SAME), ("codedag_vs_best_hand_tuned_any_batch", ANY)):
        if key in entry:
            v = entry[key]
            print(f"   codedag vs {what}: {v['speedup']:.2f}x [{v['lower']:.2f}, {v['upper']:.2f}]", flush=True)
    return entry


def memory(name: str, export: str, args) -> dict:
    """Peak memory (bench/peak_memory.py: fresh processes, interleaved, medians) of the untouched
    loader and of the optimizer's plan at the same worker count, whole batches and in row chunks:
    batched mode's memory, whether or not the loop kept the plan."""
    plan_path = os.path.join(export, "plan.json")
    if args.memory_repeats == 0:
        return {"skipped": "--memory-repeats 0"}
    if not os.path.exists(plan_path):
        return {"skipped": "the optimizer wrote no plan.json"}
    with open(plan_path) as f:
        plan = json.load(f)
    if not any(v != "cpu" for v in plan.get("context_device_map", {}).values()):
        return {"skipped": "the optimizer's plan moves no context (batched mode not used)"}
    try:
        return peak_memory.compare(name, plan_path, workers=args.user_workers, batches=args.memory_batches,
                                   repeats=args.memory_repeats)
    except Exception as exc:  # reported; the speed figures still stand
        return {"error": f"{type(exc).__name__}: {exc}"}


def _vs_any(e: dict) -> float:
    """CodeDAG (or untouched, when nothing was kept) over the grid's best, whatever its batch size."""
    peer = ANY if ANY in e["vs_untouched"] else SAME
    if "codedag" in e["vs_untouched"]:
        key = "codedag_vs_best_hand_tuned_any_batch" if peer == ANY else "codedag_vs_best_hand_tuned"
        return e[key]["speedup"]
    return 1.0 / e["vs_untouched"][peer]["speedup"]


def summarise(entries: list[dict]) -> dict:
    done = [e for e in entries if "vs_untouched" in e]
    headline = [e for e in done if e["loop"]["had_movable_stage"] and e.get("cpu_bound") is not False]
    kept = [e for e in headline if "codedag" in e["vs_untouched"]]

    def median(values):
        return statistics.median(values) if values else None

    return {
        "pipelines": len(entries), "measured": len(done),
        "loop_raised": [e["pipeline"] for e in entries if "loop_raised" in e],
        "kept": [e["pipeline"] for e in done if e["loop"]["kept"]],
        "kept_slower_in_re_measurement": [e["pipeline"] for e in done if "codedag" in e["vs_untouched"]
                                          and e["vs_untouched"]["codedag"]["speedup"] < 1.0],
        "headline_pipelines": [e["pipeline"] for e in headline],
        # Over the CPU-bound pipelines with a movable stage; a pipeline where nothing was kept runs
        # untouched (1.0x): not keeping is CodeDAG's answer there.
        "median_speedup_over_untouched": median([e["vs_untouched"]["codedag"]["speedup"] if "codedag" in
                                                 e["vs_untouched"] else 1.0 for e in headline]),
        # The user's batch size (what the loop keeps unless tune_batch_size was asked for) ...
        "median_speedup_over_best_hand_tuned": median([
            e["codedag_vs_best_hand_tuned"]["speedup"] if "codedag_vs_best_hand_tuned" in e else
            1.0 / e["vs_untouched"][SAME]["speedup"] for e in headline if SAME in e["vs_untouched"]]),
        # ... and over the whole workers x batch size grid (the best may change the batch size).
        "median_speedup_over_best_hand_tuned_any_batch": median([
            _vs_any(e) for e in headline if SAME in e["vs_untouched"] or ANY in e["vs_untouched"]]),
        "median_kept_speedup_over_untouched": median([e["vs_untouched"]["codedag"]["speedup"] for e in kept]),
        # Batched mode's peak memory over the untouched pipeline's (process tree, same workers).
        "memory_pipelines": [e["pipeline"] for e in done if "ratio_to_untouched" in e.get("memory", {})],
        "median_tree_pss_ratio_plan": median([e["memory"]["ratio_to_untouched"]["plan"]["tree_peak_pss"]
                                              for e in done if "ratio_to_untouched" in e.get("memory", {})]),
        "median_tree_rss_ratio_plan": median([e["memory"]["ratio_to_untouched"]["plan"]["tree_peak_rss"]
                                              for e in done if "ratio_to_untouched" in e.get("memory", {})]),
        "median_tree_pss_ratio_whole_batches": median([
            e["memory"]["ratio_to_untouched"]["plan, whole batches"]["tree_peak_pss"]
            for e in done if "ratio_to_untouched" in e.get("memory", {})]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--only", default="", help="comma-separated corpus module names")
    parser.add_argument("--batches", type=int, default=10, help="timed batches per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the re-measurement")
    parser.add_argument("--loop-rounds", type=int, default=5, help="rounds of the closed loop's own measurement")
    parser.add_argument("--grid-batches", type=int, default=6, help="timed batches per hand-tuning grid point")
    parser.add_argument("--max-workers", type=int, default=4)
    parser.add_argument("--user-workers", type=int, default=2,
                        help="the worker count of the untouched pipeline (the corpus is written for 2)")
    parser.add_argument("--verify-batches", type=int, default=2)
    parser.add_argument("--loop-batch-size", action="store_true",
                        help="let the closed loop try its suggested batch size (opt-in: it changes training)")
    parser.add_argument("--memory-repeats", type=int, default=3,
                        help="fresh-process peak-memory measurements per setting (0: none)")
    parser.add_argument("--memory-batches", type=int, default=24, help="batches per peak-memory measurement")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and batches (a smoke run)")
    parser.add_argument("--verbose", action="store_true", help="print the closed loop's own output")
    args = parser.parse_args()
    if args.quick:
        args.batches, args.rounds, args.loop_rounds, args.grid_batches, args.max_workers = 4, 3, 3, 3, 2
    torch.manual_seed(0)
    only = {s for s in args.only.split(",") if s} or None
    t0 = time.time()
    entries = []
    for name, module in corpus_modules(only):  # each builds its data under a temporary directory
        if isinstance(module, Exception):
            entries.append({"pipeline": name, "import_error": f"{type(module).__name__}: {module}"})
            continue
        try:
            entries.append(bench_pipeline(name, module, args))
        except Exception as exc:
            traceback.print_exc()
            entries.append({"pipeline": name, "error": f"{type(exc).__name__}: {exc}"})
        # Written after every pipeline: a run of the whole corpus takes an hour or more on 2 cores,
        # and one stopped part-way still leaves what it measured ("complete": false).
        write_results(args, entries, t0, complete=False)
    write_results(args, entries, t0, complete=True)
    return 0


def write_results(args, entries: list[dict], t0: float, complete: bool) -> None:
    out = {"benchmark": "pipelines", "complete": complete,
           "machine": {"cpus": os.cpu_count(), "cores_available": _core.available_cpus(),
                       "python": platform.python_version(), "torch": torch.__version__,
                       "load_avg_start": entries[0].get("load_before") if entries else None,
                       "load_avg_end": os.getloadavg()},
           "method": (f"per pipeline: a hand-tuning grid (workers 0..{args.max_workers} x batch size and twice it), "
                      f"the closed loop (keep=False{', tune_batch_size=True' if args.loop_batch_size else ''}), then "
                      f"{args.rounds} interleaved rounds of {args.batches} timed batches (and at least {MIN_SECONDS} s) "
                      "on fresh iterators of "
                      "untouched / best hand-tuned at the user's batch size / best hand-tuned over the whole grid "
                      "(when its batch size differs) / CodeDAG's kept setting; speedups are geometric means of "
                      "per-round ratios with expanded percentile bootstrap 95% intervals; peak memory "
                      f"(bench/peak_memory.py) of untouched vs the optimizer's plan at {args.user_workers} workers, "
                      f"{args.memory_repeats} fresh processes each, medians"),
           "seconds": time.time() - t0, "summary": summarise(entries), "pipelines": entries}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    _core.save_json(args.out, json.loads(json.dumps(out, default=str)))
    if complete:
        print(json.dumps(out["summary"], indent=2))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
