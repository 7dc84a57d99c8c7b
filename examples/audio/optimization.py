"""The seed-001 experiment on the BirdCLEF-like pipeline: baseline training, then CodeDAG's closed
loop (trace one batch, optimize where each step runs and how many workers, verify outputs, measure in
interleaved rounds with a confidence interval), then the same training with the kept setting applied
-- the training code is untouched -- and the comparison saved as JSON and charts.

    python examples/audio/optimization.py [--out results] [--epochs 1] [--plan plan.json]

--plan skips tracing/optimizing and tries that plan (plan_batch_cpu.json here moves the tensor
suffix -- mel, log, normalise, deltas, SpecAugment -- to the main process, over whole batches).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from baseline import make_dataloader  # noqa: E402
from birdclef import CONFIG, BirdCLEFModel  # noqa: E402
from closing import closing_lines  # noqa: E402
from train import seeded_model, train_epoch_with_monitor  # noqa: E402

import codedag  # noqa: E402
from codedag.experiments.monitoring_tools import ExperimentMonitor  # noqa: E402
from codedag.migration.api import PipelineMigrator  # noqa: E402


def train(dataloader, monitor, mode, epochs, max_batches=None):
    model = seeded_model(BirdCLEFModel, CONFIG)
    optimizer = torch.optim.Adam(model.parameters(), lr=CONFIG["learning_rate"])
    criterion = torch.nn.CrossEntropyLoss()
    monitor.start_mode(mode, config=CONFIG)
    for epoch in range(epochs):
        loss, acc = train_epoch_with_monitor(model, dataloader, optimizer, criterion, epoch, monitor, max_batches)
        print(f"  [{mode}] epoch {epoch + 1}: loss={loss:.4f} acc={acc:.4f}")
    monitor.stop_mode()


def batch_seconds(monitor, mode):
    """Mean training batch time of a mode (the seed's summary.batch_time.mean)."""
    return monitor.results["modes"][mode]["summary"]["batch_time"]["mean"]


def run_experiment(out_dir: str, epochs: int, plan: str | None, max_batches: int | None) -> dict:
    dataloader = make_dataloader()
    monitor = ExperimentMonitor("BirdCLEF_like", save_dir=out_dir)

    print("=" * 60 + "\nphase 1: baseline training\n" + "=" * 60)
    train(dataloader, monitor, "baseline", epochs, max_batches)

    print("=" * 60 + "\nphase 2: CodeDAG closed loop on the data pipeline\n" + "=" * 60)
    result = codedag.optimize_pipeline(dataloader, plan=plan, export_dir=out_dir, keep=False,
                                       verify_batches=2, measure_batches=6, repeats=5)
    migration_plan = result["plan"]

    print("=" * 60 + "\nphase 3: optimised training (same training code)\n" + "=" * 60)
    if result.kept:
        # The kept setting: the plan's placement and, when it has one, its worker count on this loader.
        migrator = PipelineMigrator.from_plan(migration_plan, loader=dataloader,
                                              apply_workers="parallelism" in migration_plan)
        monitor_mode = "optimization"
        try:
            migrator.apply()
            train(dataloader, monitor, monitor_mode, epochs, max_batches)
        finally:
            if migrator.is_applied():
                migrator.restore()
    else:
        print(f"  the plan was not kept ({result['reason']}); training as the baseline")
        train(dataloader, monitor, "optimization", epochs, max_batches)

    print("=" * 60 + "\nsaving results\n" + "=" * 60)
    json_path = monitor.save_json()
    charts = monitor.plot_metrics()
    base_s, opt_s = batch_seconds(monitor, "baseline"), batch_seconds(monitor, "optimization")
    interval = result["interval"] or {}
    summary = {"predicted_speedup": result["predicted_speedup"], "closed_loop_speedup": result["measured_speedup"],
               "closed_loop_interval": [interval.get("lower"), interval.get("upper")],
               "workers": result["workers"], "threads_per_worker": result["threads_per_worker"],
               "training_speedup": base_s / opt_s, "verified": (result["verification"] or {}).get("ok"),
               "kept": result.kept, "results": json_path, "charts": charts}
    summary["closing"] = closing_lines(monitor.results, result, charts.get("html"))
    print("\n".join(summary["closing"]))
    # demo.sh ends on these lines again, after the optimizer's own output.
    Path(out_dir, "closing.txt").write_text("\n".join(summary["closing"]) + "\n")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="results")
    parser.add_argument("--epochs", type=int, default=CONFIG["epochs"])
    parser.add_argument("--plan", default=None)
    parser.add_argument("--max-batches", type=int, default=None)
    args = parser.parse_args()
    run_experiment(args.out, args.epochs, args.plan, args.max_batches)


if __name__ == "__main__":
    main()
