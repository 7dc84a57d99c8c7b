"""Migration benchmark: baseline vs CodeDAG-migrated batches/s on the three examples, predicted vs
measured speedup, and the best hand-tuned num_workers / batch_size for comparison (the peer: what a
user would do by hand instead of migrating).

    .venv/bin/python bench/migration_bench.py --out bench/results/migration.json [--quick]

Every figure is a median of alternating runs in this one process (baseline, migrated, baseline, ...)
with the same worker count, so load drift on the machine hits both sides. Outputs are verified equal
(codedag.verify) before any speed is reported.
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
from codedag.migration.closed_loop import compare_throughput, measure_batches_per_second  # noqa: E402


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


def predicted_speedup(loader: DataLoader, plan_path: str) -> dict:
    """The cost model's prediction for the plan on a freshly traced DAG (None without the tracer)."""
    if not hasattr(codedag, "EnhancedTracer") or not hasattr(codedag, "evaluate_plan"):
        return {"predicted_speedup": None, "why": "tracer or optimizer not built"}
    try:
        tracer = codedag.EnhancedTracer(max_depth=10, track_memory=True)
        it = iter(loader)
        with tracer.tracing_context():
            next(it)
        del it
        dag = tracer.dag
        score = codedag.evaluate_plan(dag, plan_path)
        opt = codedag.OptimizerManager(k=2, gpu_count=0, workers=loader.num_workers)
        res = opt.optimize(dag)
        optimizer_plan = opt.get_migration_plan(res["optimized_partitions"], res["coarsened_dag"], gpu_count=0)
        return {"predicted_speedup": score.get("predicted_speedup"), "optimizer_predicted_speedup":
                res.get("predicted_speedup"), "optimizer_moves": sorted(
                    k for k, v in optimizer_plan.get("context_device_map", {}).items() if v != "cpu"),
                "dag_nodes": len(dag.nodes)}
    except Exception as exc:  # the figure is optional; the measurement is not
        return {"predicted_speedup": None, "why": f"{type(exc).__name__}: {exc}"}


def hand_tuned(dataset, model, batch_sizes, workers_list, batches, repeats) -> dict:
    """The peer: the best plain-PyTorch setting found by trying num_workers x batch_size (samples/s,
    since batch sizes differ)."""
    step = training_step(model)
    table = []
    for bs in batch_sizes:
        for w in workers_list:
            loader = DataLoader(dataset, batch_size=bs, num_workers=w, shuffle=False)
            runs = [measure_batches_per_second(loader, batches, step) * bs for _ in range(repeats)]
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
        **predicted_speedup(loader, plan_path),
    })
    print(f"   baseline {with_training['baseline_batches_per_s']:.2f} b/s, migrated "
          f"{with_training['migrated_batches_per_s']:.2f} b/s -> {with_training['measured_speedup']:.2f}x "
          f"(pipeline only {pipeline_only['measured_speedup']:.2f}x), predicted {entry.get('predicted_speedup')}",
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
           "method": f"median of {args.repeats} alternating runs of {args.batches} batches after 1 warm-up batch",
           "seconds": time.time() - t0, "examples": results}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    codedag._core.save_json(args.out, json.loads(json.dumps(out, default=str)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
