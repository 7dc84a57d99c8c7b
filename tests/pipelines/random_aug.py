"""Per-sample random augmentation on numpy images (the albumentations habit without the library):
each sample draws its own augmentations from a seeded generator — a random crop, then one of
flip / rotate90 / gaussian noise (RandomChoice), then cutout with probability 0.5 (RandomApply) — and
is converted to a tensor. No workers by default; two forked workers when asked.

    AugmentedDataset.__getitem__ -> read_sample -> RandomCrop.__call__ -> RandomChoice.__call__
        -> (flip | rotate90 | add_noise) -> RandomApply.__call__ -> cutout -> to_tensor
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from . import _data

EXPECTED_CONTEXTS = (
    "AugmentedDataset.__getitem__",
    "read_sample",
    "RandomCrop.__call__",
    "RandomChoice.__call__",
    "RandomApply.__call__",
    "to_tensor",
    "default_collate",
)
EXPECTED_EDGES = (("read_sample", "RandomCrop.__call__"), ("RandomCrop.__call__", "RandomChoice.__call__"))


def _write_images(directory) -> None:
    rng = np.random.default_rng(41)
    np.save(directory / "images.npy", (rng.random((32, 40, 40, 3)) * 255).astype(np.uint8))


def read_sample(images: np.ndarray, index: int) -> np.ndarray:
    return np.asarray(images[index], dtype=np.float32) / 255.0


def flip(image, rng):
    return image[:, ::-1]


def rotate90(image, rng):
    return np.rot90(image, k=int(rng.integers(1, 4)))


def add_noise(image, rng):
    return image + rng.normal(0.0, 0.05, image.shape).astype(np.float32)


def cutout(image, rng, size: int = 8):
    y, x = (int(v) for v in rng.integers(0, image.shape[0] - size, 2))
    out = image.copy()
    out[y : y + size, x : x + size] = 0.0
    return out


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


class RandomCrop:
    def __init__(self, size: int):
        self.size = size

    def __call__(self, image, rng):
        top, left = (int(v) for v in rng.integers(0, image.shape[0] - self.size + 1, 2))
        return image[top : top + self.size, left : left + self.size]


class RandomChoice:
    def __init__(self, choices):
        self.choices = choices

    def __call__(self, image, rng):
        return self.choices[int(rng.integers(len(self.choices)))](image, rng)


class RandomApply:
    def __init__(self, transform, p: float):
        self.transform, self.p = transform, p

    def __call__(self, image, rng):
        return self.transform(image, rng) if rng.random() < self.p else image


class AugmentedDataset(Dataset):
    def __init__(self, directory, seed: int = 0):
        self.images = np.load(directory / "images.npy", mmap_mode="r")
        self.seed = seed
        self.steps = [RandomCrop(32), RandomChoice([flip, rotate90, add_noise]), RandomApply(cutout, 0.5)]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        rng = np.random.default_rng((self.seed, index))
        image = read_sample(self.images, index)
        for step in self.steps:
            image = step(image, rng)
        return to_tensor(image), index % 3


def make_loader(num_workers: int = 0) -> DataLoader:
    dataset = AugmentedDataset(_data.built("random_aug", _write_images))
    context = "fork" if num_workers else None
    return DataLoader(dataset, batch_size=8, num_workers=num_workers, multiprocessing_context=context)
