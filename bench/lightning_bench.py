"""Lightning logger benchmark: the cost of what the Trainer does on every logging step,
``logger.log_metrics(metrics, step)`` followed by ``logger.save()``, for CodeDAGLogger against
Lightning's CSVLogger and MLFlowLogger (file store), side by side.

    python bench/lightning_bench.py --out bench/results/lightning.json [--calls 2000 --rounds 7]

Each round times every logger on the same stream of steps, in a shuffled order (interleaved, so
machine load falls on all of them alike); the report gives medians over rounds of µs per step and
the ratio of each peer to CodeDAGLogger. The stream is a training loop's: three scalars every step
and, every 100 steps, a validation key that appears for the first time at step 100 (the moment
CSVLogger rewrites its whole file). Each logger's files are flushed and closed inside its timing
(``finalize``), so buffered writes are paid for.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def stream(calls: int):
    for step in range(calls):
        metrics = {"train_loss": 1.0 / (step + 1), "lr": 0.1 * 0.999**step, "epoch": float(step // 500)}
        if step and step % 100 == 0:
            metrics["val_loss"] = 2.0 / (step + 1)
        yield step, metrics


def make_codedag(root: str):
    from codedag.lightning import CodeDAGLogger

    logger = CodeDAGLogger("bench", root, snapshot=False)
    logger.experiment  # the run is opened before timing, as the Trainer does at setup  # noqa: B018

    def close():
        logger.finalize("success")
        logger.experiment.end()

    return logger, close


def make_csv(root: str):
    from lightning.pytorch.loggers import CSVLogger

    logger = CSVLogger(root, name="bench")
    return logger, lambda: logger.finalize("success")


def make_mlflow(root: str):
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this flag
    from lightning.pytorch.loggers import MLFlowLogger

    logger = MLFlowLogger(experiment_name="bench", tracking_uri=Path(root, "mlruns").as_uri())
    logger.experiment  # creates the run before timing  # noqa: B018
    _ = logger.run_id
    return logger, lambda: logger.finalize("success")


PEERS = {"CodeDAGLogger": make_codedag, "CSVLogger": make_csv, "MLFlowLogger": make_mlflow}


def time_one(make, calls: int) -> float:
    root = tempfile.mkdtemp(prefix="lightning_bench_")
    try:
        logger, close = make(root)
        t0 = time.perf_counter()
        for step, metrics in stream(calls):
            logger.log_metrics(metrics, step)
            logger.save()
        close()
        return (time.perf_counter() - t0) / calls * 1e6
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="bench/results/lightning.json")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    available = {}
    for name, make in PEERS.items():
        try:
            time_one(make, 10)  # warm-up: imports, first files
            available[name] = make
        except ImportError as e:
            print(f"! {name} not measured: {e} (pip install -r bench/requirements.txt)", file=sys.stderr)
    if "CodeDAGLogger" not in available:
        print("✗ CodeDAGLogger is not importable: build codedag and install lightning first", file=sys.stderr)
        return 1
    samples: dict[str, list[float]] = {name: [] for name in available}
    load_before = os.getloadavg()
    rng = random.Random(0)
    for _ in range(args.rounds):
        order = list(available)
        rng.shuffle(order)
        for name in order:
            samples[name].append(time_one(available[name], args.calls))
    load_after = os.getloadavg()
    base = statistics.median(samples["CodeDAGLogger"])
    report = {
        "what": "µs per Trainer logging step (log_metrics + save), files closed inside the timing",
        "calls_per_round": args.calls,
        "rounds": args.rounds,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "cpus": os.cpu_count(),
        "loggers": {
            name: {
                "median_us_per_step": statistics.median(values),
                "min_us": min(values),
                "max_us": max(values),
                "samples_us": values,
                "ratio_to_codedag": statistics.median(values) / base,
            }
            for name, values in samples.items()
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    for name, row in report["loggers"].items():
        print(f"{name:14s} {row['median_us_per_step']:10.1f} µs/step  ({row['ratio_to_codedag']:.1f}x CodeDAGLogger)")
    print(f"load average {load_before[0]:.1f} → {load_after[0]:.1f} on {os.cpu_count()} CPUs; written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
