"""A small, realistic torch pipeline with a known shape: Dataset.__getitem__ loads a sample and
runs three per-sample transforms; collation is torch's default_collate. The tracer's DataLoader tests
use it (exact counts and bytes, a worker killed mid-batch); two forked workers in the corpus.

    __getitem__ -> load -> Normalize.__call__ -> random_crop -> to_chw
"""

from __future__ import annotations

import os
import time

import torch
from torch.utils.data import DataLoader, Dataset

EXPECTED_CONTEXTS = (
    "ImageDataset.__getitem__",
    "load",
    "Normalize.__call__",
    "random_crop",
    "to_chw",
    "default_collate",
)
EXPECTED_EDGES = (("load", "Normalize.__call__"), ("random_crop", "to_chw"))


def load(index: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(index)
    return torch.rand(24, 24, 3, generator=g)


class Normalize:
    def __init__(self, mean: float, std: float):
        self.mean, self.std = mean, std

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return (image - self.mean) / self.std


def random_crop(image: torch.Tensor, size: int, index: int) -> torch.Tensor:
    top = index % (image.shape[0] - size + 1)
    return image[top : top + size, top : top + size]


def to_chw(image: torch.Tensor) -> torch.Tensor:
    return image.permute(2, 0, 1).contiguous()


class ImageDataset(Dataset):
    def __init__(self, n: int = 64, size: int = 16, slow_index: int | None = None):
        self.n, self.size = n, size
        self.normalize = Normalize(0.5, 0.25)
        self.slow_index = slow_index  # the sample a "kill me" test waits in

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int):
        if self.slow_index is not None and index == self.slow_index:
            marker = os.environ.get("CODEDAG_TEST_SLOW_MARKER")
            if marker:
                with open(marker, "w") as f:
                    f.write(str(os.getpid()))
            time.sleep(60)
        image = load(index)
        image = self.normalize(image)
        image = random_crop(image, self.size, index)
        return to_chw(image), index % 10


def make_loader(num_workers: int = 0) -> DataLoader:
    context = "fork" if num_workers else None
    return DataLoader(ImageDataset(), batch_size=4, num_workers=num_workers, multiprocessing_context=context)
