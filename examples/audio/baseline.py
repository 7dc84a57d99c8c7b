"""The original BirdCLEF-like training, monitored (no CodeDAG optimisation).

    python examples/audio/baseline.py [--out results] [--epochs 1] [--data /tmp/codedag_birdclef]
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from birdclef import CONFIG, BirdCLEFDataset, BirdCLEFModel, synthesise_dataset  # noqa: E402
from train import seeded_model, train_epoch_with_monitor  # noqa: E402

from codedag.experiments.monitoring_tools import ExperimentMonitor  # noqa: E402


def make_dataloader(data_dir: str = os.environ.get("CODEDAG_AUDIO_DATA", "/tmp/codedag_birdclef"),
                    n_files: int = CONFIG["n_files"]) -> DataLoader:
    rows = synthesise_dataset(data_dir, n_files)
    return DataLoader(BirdCLEFDataset(rows), batch_size=CONFIG["train_batch_size"], shuffle=True,
                      num_workers=CONFIG["num_workers"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="results")
    parser.add_argument("--epochs", type=int, default=CONFIG["epochs"])
    parser.add_argument("--data", default=os.environ.get("CODEDAG_AUDIO_DATA", "/tmp/codedag_birdclef"))
    args = parser.parse_args()
    dataloader = make_dataloader(args.data)
    monitor = ExperimentMonitor("BirdCLEF_like_baseline", save_dir=args.out)
    model = seeded_model(BirdCLEFModel, CONFIG)
    optimizer = torch.optim.Adam(model.parameters(), lr=CONFIG["learning_rate"])
    criterion = torch.nn.CrossEntropyLoss()
    monitor.start_mode("baseline", config=CONFIG)
    for epoch in range(args.epochs):
        loss, acc = train_epoch_with_monitor(model, dataloader, optimizer, criterion, epoch, monitor)
        print(f"epoch {epoch + 1}: loss={loss:.4f} acc={acc:.4f}")
    monitor.stop_mode()
    print(f"saved {monitor.save_json()}")


if __name__ == "__main__":
    main()
