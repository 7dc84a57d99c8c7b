"""In-dataset mixup (the way many Kaggle kernels do it): __getitem__ loads its own sample and a
second, randomly chosen one, draws a Beta weight, and mixes both images and one-hot labels. The same
`load_sample` is called from two places, so it is two contexts. Two forked workers.

    MixupDataset.__getitem__ -> load_sample (x2) -> one_hot (x2) -> mix
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from . import _data

CLASSES = 5
EXPECTED_CONTEXTS = (
    "MixupDataset.__getitem__",
    "MixupDataset.load_sample",
    "one_hot",
    "mix",
    "default_collate",
)
EXPECTED_EDGES = (("MixupDataset.load_sample", "mix"),)


def _write_arrays(directory) -> None:
    rng = np.random.default_rng(31)
    np.save(directory / "images.npy", rng.random((32, 3, 24, 24), dtype=np.float32))
    np.save(directory / "labels.npy", rng.integers(0, CLASSES, 32))


def one_hot(label: int) -> torch.Tensor:
    out = torch.zeros(CLASSES)
    out[label] = 1.0
    return out


def mix(a: torch.Tensor, b: torch.Tensor, lam: float) -> torch.Tensor:
    return lam * a + (1.0 - lam) * b


class MixupDataset(Dataset):
    def __init__(self, directory, alpha: float = 0.4, seed: int = 0):
        self.images = np.load(directory / "images.npy", mmap_mode="r")
        self.labels = np.load(directory / "labels.npy")
        self.alpha, self.seed = alpha, seed

    def __len__(self) -> int:
        return len(self.labels)

    def load_sample(self, index: int):
        return torch.from_numpy(np.array(self.images[index])), int(self.labels[index])

    def __getitem__(self, index: int):
        rng = np.random.default_rng((self.seed, index))
        image, label = self.load_sample(index)
        other_image, other_label = self.load_sample(int(rng.integers(len(self))))
        lam = float(rng.beta(self.alpha, self.alpha))
        return mix(image, other_image, lam), mix(one_hot(label), one_hot(other_label), lam)


def make_loader(num_workers: int = 0) -> DataLoader:
    dataset = MixupDataset(_data.built("mixup", _write_arrays))
    context = "fork" if num_workers else None
    return DataLoader(dataset, batch_size=8, num_workers=num_workers, multiprocessing_context=context)
