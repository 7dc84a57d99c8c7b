"""Peak memory of one way to run a corpus pipeline, measured in a fresh process (so nothing an
earlier setting allocated is counted): the loader as written, or with a plan applied at the SAME
worker count (``apply_workers=False``), iterated for ``--batches`` batches.

    .venv/bin/python bench/peak_memory.py --pipeline audio_mel --workers 2 [--plan plan.json] [--batches 24]
    .venv/bin/python bench/peak_memory.py --compare --pipeline audio_mel --plan plan.json [--repeats 3] [--out m.json]

``--compare`` runs the untouched loader, the plan over whole batches and the plan as batched mode
runs it (row chunks, the default) in interleaved order, ``--repeats`` times each, each in a fresh
process, and reports medians and ratios planned/untouched (``compare()``, used by
pipelines_bench.py).

Prints one JSON object: ``main_peak_rss`` (the main process's own peak while the batches run),
``tree_peak_rss`` and ``tree_peak_pss`` (the sum over the main process and its DataLoader workers;
PSS counts the pages forked workers share with the main process once, RSS once per process) and
``workers_peak_pss``, all sampled every few milliseconds from /proc (a spike shorter than that can
be missed); ``main_peak_rss_whole_process`` is getrusage's exact peak, set-up included (a corpus
module that builds its data may peak there, hiding the iteration). Batched
mode's whole-batch intermediates live in the main process; worker processes are the other part.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (DataLoader workers, their helpers) from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _rss_pss(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes of one process, (0, 0) when it is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, pss


class TreeSampler(threading.Thread):
    """Polls the process tree's memory until stopped; keeps the peaks."""

    def __init__(self, interval: float = 0.005):
        super().__init__(daemon=True)
        self.interval, self.stop_flag = interval, threading.Event()
        self.tree_rss = self.tree_pss = self.workers_pss = self.main_rss = 0
        self.samples = 0
        self.most_processes = 0  # workers (and helpers) alive at once: old workers not yet gone count too

    def run(self) -> None:
        me = os.getpid()
        while not self.stop_flag.is_set():
            rss, pss = _rss_pss(me)
            self.main_rss = max(self.main_rss, rss)
            workers = [_rss_pss(c) for c in _children(me)]
            self.most_processes = max(self.most_processes, len(workers))
            self.tree_rss = max(self.tree_rss, rss + sum(r for r, _ in workers))
            self.tree_pss = max(self.tree_pss, pss + sum(p for _, p in workers))
            self.workers_pss = max(self.workers_pss, sum(p for _, p in workers))
            self.samples += 1
            self.stop_flag.wait(self.interval)


def probe(pipeline: str, workers: int, plan: str | None, batches: int, chunk_bytes: float | None = None) -> dict:
    """One fresh-process measurement (this file run as a script)."""
    import subprocess

    cmd = [sys.executable, os.path.abspath(__file__), "--pipeline", pipeline, "--workers", str(workers),
           "--batches", str(batches)]
    if plan:
        cmd += ["--plan", plan]
    if chunk_bytes is not None:
        cmd += ["--chunk-bytes", str(chunk_bytes)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"peak_memory probe failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    return json.loads(lines[-1])


FIGURES = ("main_peak_rss", "tree_peak_rss", "tree_peak_pss", "workers_peak_pss")
RATIOS = (*FIGURES, "samples_per_s")


def compare(pipeline: str, plan: str, workers: int = 2, batches: int = 24, repeats: int = 3) -> dict:
    """Peak memory of untouched / plan over whole batches / plan in row chunks (batched mode's
    default), same worker count, interleaved ``repeats`` times; medians (bytes) and ratios to
    untouched."""
    import statistics

    settings = {"untouched": (None, None), "plan, whole batches": (plan, 0), "plan": (plan, None)}
    runs: dict[str, list[dict]] = {name: [] for name in settings}
    for r in range(repeats):
        for name in (list(settings) if r % 2 == 0 else list(reversed(settings))):
            plan_path, chunk_bytes = settings[name]
            runs[name].append(probe(pipeline, workers, plan_path, batches, chunk_bytes))
    medians = {name: {k: statistics.median(x[k] for x in rs) for k in FIGURES} for name, rs in runs.items()}
    # Throughput beside the memory (after one batch per worker plus one; a short run, one process
    # each: a rough figure -- pipelines_bench.py's interleaved rounds are the speed measurement).
    rates = {name: [x["samples_per_s"] for x in rs if x.get("samples_per_s")] for name, rs in runs.items()}
    for name, r in rates.items():
        medians[name]["samples_per_s"] = statistics.median(r) if r else None
    base = medians["untouched"]
    return {"pipeline": pipeline, "workers": workers, "batches": batches, "repeats": repeats,
            "medians": medians,
            "ratio_to_untouched": {name: {k: m[k] / base[k] for k in RATIOS if base[k] and m[k]}
                                   for name, m in medians.items() if name != "untouched"},
            "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", required=True,
                        help="a tests/pipelines module name, or FILE.py:FUNCTION returning a DataLoader (its own "
                             "worker count then; --workers is ignored)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--plan", default=None, help="plan.json to apply (at the same worker count)")
    parser.add_argument("--batches", type=int, default=24)
    parser.add_argument("--chunk-bytes", type=float, default=None,
                        help="batched mode's row-chunk size (deferred.CHUNK_BYTES; 0: whole batches)")
    parser.add_argument("--compare", action="store_true", help="untouched vs the plan, medians and ratios")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="with --compare: write the JSON here too")
    args = parser.parse_args()
    if args.compare:
        if not args.plan:
            parser.error("--compare needs --plan")
        result = compare(args.pipeline, os.path.abspath(args.plan), args.workers, args.batches, args.repeats)
        text = json.dumps(result, indent=1)
        if args.out:
            with open(args.out, "w") as f:
                f.write(text)
        mb = {n: {k: round(v / 2**20, 1) if k in FIGURES else v for k, v in m.items()}
              for n, m in result["medians"].items()}
        print(json.dumps({"medians_mb": mb, "ratio_to_untouched": result["ratio_to_untouched"]}, indent=1))
        return 0
    sys.path.insert(0, os.path.join(REPO, "tests"))
    import torch  # noqa: F401  (imported before measuring: both settings pay for it)

    from codedag.migration import PipelineMigrator, deferred
    from codedag.pipeline.measurement import samples_in

    if args.chunk_bytes is not None:
        deferred.CHUNK_BYTES = args.chunk_bytes or None

    if ":" in args.pipeline:  # a script's loader factory, imported under its file's name (plan keys)
        path, function = args.pipeline.rsplit(":", 1)
        sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
        module = importlib.import_module(os.path.splitext(os.path.basename(path))[0])
        loader = getattr(module, function)()
    else:
        module = importlib.import_module(f"pipelines.{args.pipeline}")
        loader = module.make_loader(num_workers=args.workers)
    migrator = None
    if args.plan:
        with open(args.plan) as f:
            plan = json.load(f)
        migrator = PipelineMigrator.from_plan(plan, loader=loader, apply_workers=False)
    sampler = TreeSampler()
    sampler.start()
    seen = 0
    t0 = time.perf_counter()
    try:
        if migrator is not None:
            migrator.apply()
        warmup, timed_from, samples = loader.num_workers + 1, None, 0
        while seen < args.batches:
            for batch in loader:
                seen += 1
                if seen == warmup:
                    timed_from = time.perf_counter()
                elif seen > warmup:
                    samples += samples_in(batch)
                if seen >= args.batches:
                    break
        rate = samples / (time.perf_counter() - timed_from) if timed_from and samples else None
    finally:
        if migrator is not None:
            migrator.restore()
        sampler.stop_flag.set()
        sampler.join()
    out = {"pipeline": args.pipeline, "workers": loader.num_workers, "planned": bool(args.plan),
           "chunk_bytes": deferred.CHUNK_BYTES if args.plan else None, "batches": seen,
           "seconds": time.perf_counter() - t0, "main_peak_rss": sampler.main_rss,
           "main_peak_rss_whole_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "tree_peak_rss": sampler.tree_rss, "tree_peak_pss": sampler.tree_pss,
           "workers_peak_pss": sampler.workers_pss, "samples_per_s": rate, "most_child_processes": sampler.most_processes,
           "samples": sampler.samples,
           "fallbacks": migrator.stats["fallbacks"] if migrator is not None else 0}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
