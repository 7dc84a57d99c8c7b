"""Tabular samples as dicts (the Hugging Face / Kaggle-tabular habit): rows read from a CSV with the
csv module, numeric columns standardised with statistics computed at start-up, a categorical column
one-hot encoded, and each sample a nested dict {"features", "category", "target", "meta": {...}}
that default_collate collates key by key. Two forked workers.

    TabularDataset.__getitem__ -> parse_row -> standardize -> one_hot
"""

from __future__ import annotations

import csv
import random

import torch
from torch.utils.data import DataLoader, Dataset

from . import _data

COLUMNS = ("age", "income", "balance", "tenure")
CATEGORIES = ("north", "south", "east", "west")
EXPECTED_CONTEXTS = (
    "TabularDataset.__getitem__",
    "parse_row",
    "standardize",
    "one_hot",
    "default_collate",
)
EXPECTED_EDGES = (("parse_row", "standardize"),)


def _write_table(directory) -> None:
    rng = random.Random(17)
    with open(directory / "customers.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", *COLUMNS, "region", "churned"])
        for i in range(48):
            w.writerow([i, rng.randint(18, 80), round(rng.uniform(1e4, 2e5), 2), round(rng.uniform(-500, 9e3), 2),
                        rng.randint(0, 30), rng.choice(CATEGORIES), int(rng.random() < 0.3)])


def parse_row(row: dict) -> torch.Tensor:
    return torch.tensor([float(row[c]) for c in COLUMNS], dtype=torch.float32)


def standardize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (x - mean) / std


def one_hot(value: str) -> torch.Tensor:
    out = torch.zeros(len(CATEGORIES))
    out[CATEGORIES.index(value)] = 1.0
    return out


class TabularDataset(Dataset):
    def __init__(self, path):
        with open(path, newline="") as f:
            self.rows = list(csv.DictReader(f))
        table = torch.stack([parse_row(r) for r in self.rows])
        self.mean, self.std = table.mean(0), table.std(0)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        row = self.rows[index]
        return {
            "features": standardize(parse_row(row), self.mean, self.std),
            "category": one_hot(row["region"]),
            "target": torch.tensor(float(row["churned"])),
            "meta": {"id": int(row["id"]), "region": row["region"]},
        }


def make_loader(num_workers: int = 0) -> DataLoader:
    dataset = TabularDataset(_data.built("dict_samples", _write_table) / "customers.csv")
    context = "fork" if num_workers else None
    return DataLoader(dataset, batch_size=8, num_workers=num_workers, multiprocessing_context=context)
