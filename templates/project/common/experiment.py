"""{{NAME}}: baseline training, CodeDAG's closed loop on the DataLoader, then the same training with
the kept plan -- the training step is never edited -- recorded as one run and compared in a report.

    ./setup_environment.sh run                 # or: .venv/bin/python experiment.py
    .venv/bin/python experiment.py --epochs 3 --max-batches 50

Written by `codedag new {{NAME}} --template {{TEMPLATE}}` (codedag {{CODEDAG_VERSION}}). pipeline.py holds the
data pipeline and the model: put the competition's data there.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import codedag
from codedag import Experiment, ExperimentMonitor, optimize_pipeline
from pipeline import make_dataloader, make_model

HERE = Path(__file__).resolve().parent


def train(loader, monitor: ExperimentMonitor, mode: str, config: dict, epochs: int, max_batches: int | None):
    """The training loop: only the monitor calls are added around the step."""
    torch.manual_seed(config["seed"])  # the same initial weights in both modes: a fair comparison
    model = make_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["learning_rate"])
    criterion = torch.nn.CrossEntropyLoss()
    monitor.start_mode(mode, config=config)
    accuracy = 0.0
    for epoch in range(epochs):
        correct = total = 0
        for batch, (inputs, targets) in enumerate(loader):
            if max_batches is not None and batch >= max_batches:
                break
            monitor.start_batch()
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
            monitor.end_batch()
            monitor.log_loss(epoch, batch, loss.item())
            correct += outputs.argmax(1).eq(targets).sum().item()
            total += targets.size(0)
            monitor.log_accuracy(epoch, batch, correct / max(1, total))
        accuracy = correct / max(1, total)
    monitor.stop_mode()
    return accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(HERE / "experiment_config.json"))
    parser.add_argument("--epochs", type=int, default=None, help="default: the config's")
    parser.add_argument("--max-batches", type=int, default=None, help="stop each epoch after N batches")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--quick", action="store_true", help="a short closed loop (a smoke test, not a measurement)")
    args = parser.parse_args()
    config = json.loads(Path(args.config).read_text())
    epochs = args.epochs if args.epochs is not None else config["epochs"]

    with Experiment("{{NAME}}") as run:
        run.dump_info("config", config)
        loader = make_dataloader(config)
        monitor = ExperimentMonitor("{{NAME}}", save_dir=args.out)
        base_acc = train(loader, monitor, "baseline", config, epochs, args.max_batches)

        measure = dict(verify_batches=1, measure_batches=2, repeats=2) if args.quick else {}
        result = optimize_pipeline(loader, export_dir=args.out, keep=True, **measure)
        try:
            opt_acc = train(loader, monitor, "optimization", config, epochs, args.max_batches)
        finally:
            if result.migrator is not None and result.migrator.is_applied():
                result.migrator.restore()

        monitor.save_json()
        report = monitor.plot_metrics()
        run.dump_metric("accuracy", opt_acc, "max", baseline=base_acc)
        run.dump_info("closed_loop", {"kept": result.kept, "reason": result["reason"],
                                      "measured_speedup": result["measured_speedup"]})
        print(f"codedag {codedag.__version__}: plan {'kept' if result.kept else 'not kept'} ({result['reason']}); "
              f"report {report['html']}")


if __name__ == "__main__":
    main()
