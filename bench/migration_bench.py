"""Migration benchmark: baseline vs CodeDAG-migrated batches/s on the three examples, predicted vs
measured speedup, and the best hand-tuned num_workers / batch_size for comparison (the peer: what a
user would do by hand instead of migrating).

    .venv/bin/python bench/migration_bench.py --out bench/results/migration.json [--quick]

Every speedup comes from interleaved rounds in this one process (baseline, migrated, migrated,
baseline, ...) on fresh iterators with the same worker count, so load drift on the machine hits both
sides; it is the geometric mean of the per-round ratios with its bootstrap interval. Outputs are
verified equal (codedag.verify) before any speed is reported. bench/pipelines_bench.py runs the
closed loop on the whole test corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
from torch.utils.data import DataLoader

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "python"))

import codedag  # noqa: E402
from codedag.pipeline.measurement import Setting, interleave, measure_once, speedup  # noqa: E402


def load_example(name: str):
    """Imports examples/<name>/<module> fresh (the three examples use clashing module names)."""
    directory = os.path.join(REPO, "examples", name)
    module_name = {"audio": "birdclef", "image": "pipeline", "numpy_cv": "pipeline"}[name]
    for key in ("pipeline", "birdclef"):
        sys.modules.pop(key, None)
    sys.path.insert(0, directory)
    try:
        module = __import__(module_name)
    finally:
        sys.path.remove(directory)
    sys.path.append(directory)  # spawned/forked workers import it by name
    return module, os.path.join(directory, "plan_batch_cpu.json")


def audio_setup(data_root: str):
    m, plan = load_example("audio")
    rows = m.synthesise_dataset(os.path.join(data_root, "audio"), m.CONFIG["n_files"])
    model = m.BirdCLEFModel(m.CONFIG)
    return m.BirdCLEFDataset(rows), plan, model, m.CONFIG["train_batch_size"]


def image_setup(data_root: str):
    m, plan = load_example("image")
    rows = m.generate_images(os.path.join(data_root, "images"), m.CONFIG["n_images"])
    return m.ImageDataset(rows), plan, m.SmallNet(m.CONFIG), m.CONFIG["batch_size"]


def numpy_cv_setup(data_root: str):
    m, plan = load_example("numpy_cv")
    return m.ScanDataset(m.CONFIG["n_samples"]), plan, m.TinyNet(), m.CONFIG["batch_size"]


def training_step(model):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def step(batch):
        x, y = batch
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x.float()), torch.as_tensor(y) % 2)
        loss.backward()
        optimizer.step()

    return step


def compare_throughput(loader: DataLoader, migrator, batches: int, repeats: int, step=None) -> dict:
    """Baseline against migrated in interleaved rounds: medians (batches/s) and the speedup interval."""
    base = Setting("baseline", "untouched", loader.num_workers)
    migrated = Setting("migrated", "plan", loader.num_workers, migrator)
    interleave(loader, [base, migrated], repeats, batches, step)
    if migrated.error:
        raise RuntimeError(migrated.error)
    interval = speedup(base, migrated)
    size = loader.batch_size or 1
    return {"baseline_batches_per_s": statistics.median(base.samples_per_s) / size,
            "migrated_batches_per_s": statistics.median(migrated.samples_per_s) / size,
            "measured_speedup": interval["speedup"], "interval": interval, "batches": batches, "repeats": repeats,
            "workers": loader.num_workers}


def closed_loop(loader: DataLoader, args) -> dict:
    """CodeDAG end to end: trace, calibrate, optimize, verify and measure the optimizer's own plan;
    its predicted and measured speedups side by side (None without the tracer/optimizer)."""
    if not hasattr(codedag, "EnhancedTracer") or not hasattr(codedag, "OptimizerManager"):
        return {"predicted_speedup": None, "why": "tracer or optimizer not built"}
    try:
        res = codedag.optimize_pipeline(loader, verify_batches=1, measure_batches=args.batches,
                                        repeats=args.repeats, keep=False, quiet=True)
    except Exception as exc:  # reported, not hidden: the hand-plan figures stand on their own
        return {"predicted_speedup": None, "why": f"{type(exc).__name__}: {exc}"}
    calibration = res.get("optimizer", {}).get("calibration", {})
    return {"predicted_speedup": res["predicted_speedup"], "optimizer_plan_measured_speedup": res["measured_speedup"],
            "optimizer_plan_kept": res.kept, "optimizer_plan_reason": res["reason"],
            "optimizer_moves": sorted(k for k, v in res["plan"]["context_device_map"].items() if v != "cpu"),
            "calibrated_batch_speedup": calibration.get("batch_speedup"), "dag_nodes": res["optimizer"].get("dag_nodes")}


def hand_tuned(dataset, model, batch_sizes, workers_list, batches, repeats) -> dict:
    """The peer: the best plain-PyTorch setting found by trying num_workers x batch_size (samples/s,
    since batch sizes differ)."""
    step = training_step(model)
    table = []
    for bs in batch_sizes:
        for w in workers_list:
            loader = DataLoader(dataset, batch_size=bs, num_workers=w, shuffle=False)
            warmup = w + 1 if w else 1
            runs = [measure_once(loader, batches, warmup, step)
                    for _ in range(repeats)]
            table.append({"batch_size": bs, "num_workers": w, "samples_per_s": statistics.median(runs)})
    best = max(table, key=lambda r: r["samples_per_s"])
    return {"settings": table, "best": best}


def bench_example(name, setup, data_root, args) -> dict:
    dataset, plan_path, model, batch_size = setup(data_root)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=args.workers, shuffle=False)
    print(f"== {name}: {len(dataset)} samples, batch {batch_size}, {args.workers} workers", flush=True)
    report = codedag.verify(loader, plan_path, batches=2, seed=0)
    entry = {"example": name, "plan": os.path.relpath(plan_path, REPO), "batch_size": batch_size,
             "workers": args.workers, "verified": report.ok,
             "verification": {k: report[k] for k in ("mismatching_contexts", "stochastic_contexts", "vectorised")}}
    if not report.ok:
        entry["note"] = "outputs differ: speed not reported"
        print(str(report), flush=True)
        return entry
    migrator = codedag.PipelineMigrator.from_plan(plan_path)
    step = training_step(model)
    pipeline_only = compare_throughput(loader, migrator, args.batches, args.repeats)
    with_training = compare_throughput(loader, migrator, args.batches, args.repeats, step)
    entry.update({
        "pipeline_only": pipeline_only,
        "with_training_step": with_training,
        "measured_speedup": with_training["measured_speedup"],
    })
    entry["closed_loop"] = closed_loop(loader, args)
    entry["predicted_speedup"] = entry["closed_loop"].get("predicted_speedup")
    print(f"   baseline {with_training['baseline_batches_per_s']:.2f} b/s, migrated "
          f"{with_training['migrated_batches_per_s']:.2f} b/s -> {with_training['measured_speedup']:.2f}x "
          f"(pipeline only {pipeline_only['measured_speedup']:.2f}x); closed loop: {entry['closed_loop']}",
          flush=True)
    if not args.quick:
        peer = hand_tuned(dataset, model, [batch_size // 2, batch_size, batch_size * 2], [0, 1, 2, 3],
                          max(3, args.batches // 2), max(1, args.repeats - 1))
        codedag_samples = with_training["migrated_batches_per_s"] * batch_size
        entry["hand_tuned"] = peer
        entry["codedag_samples_per_s"] = codedag_samples
        entry["codedag_vs_best_hand_tuned"] = codedag_samples / peer["best"]["samples_per_s"]
        print(f"   best hand-tuned {peer['best']}, CodeDAG {codedag_samples:.1f} samples/s "
              f"({entry['codedag_vs_best_hand_tuned']:.2f}x)", flush=True)
    return entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--data", default=os.environ.get("CODEDAG_BENCH_DATA", "/tmp/codedag_bench_data"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--examples", default="audio,image,numpy_cv")
    parser.add_argument("--quick", action="store_true", help="skip the hand-tuned sweep")
    args = parser.parse_args()
    setups = {"audio": audio_setup, "image": image_setup, "numpy_cv": numpy_cv_setup}
    t0 = time.time()
    results = [bench_example(n, setups[n], args.data, args) for n in args.examples.split(",")]
    out = {"benchmark": "migration", "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                 "torch": torch.__version__, "load_avg": os.getloadavg()},
           "method": f"{args.repeats} interleaved rounds of {args.batches} batches on fresh iterators after the "
                     "warm-up (one batch per worker, plus one); geometric mean of per-round ratios with a "
                     "bootstrap interval",
           "seconds": time.time() - t0, "examples": results}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    codedag._core.save_json(args.out, json.loads(json.dumps(out, default=str)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
