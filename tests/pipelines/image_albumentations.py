"""Images with albumentations (the Kaggle default): cv2 reads PNG files, an albumentations Compose
(RandomResizedCrop, HorizontalFlip, RandomBrightnessContrast, Normalize) augments each sample with
its own random draw, and ToTensorV2 makes the CHW tensor. Library transforms called by a library
Compose are contexts of their own. Two forked workers.

    FundusDataset.__getitem__ -> read_rgb (cv2.imread, cv2.cvtColor) -> albumentations Compose
        -> RandomResizedCrop / HorizontalFlip / RandomBrightnessContrast / Normalize / ToTensorV2
"""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
from albumentations.pytorch import ToTensorV2
from torch.utils.data import DataLoader, Dataset

from . import _data

EXPECTED_CONTEXTS = (
    "FundusDataset.__getitem__",
    "read_rgb",
    "cv2.imread",
    "Compose.__call__",
    "default_collate",
)
EXPECTED_EDGES = (("read_rgb", "Compose.__call__"),)


def _write_images(directory) -> None:
    rng = np.random.default_rng(61)
    for i in range(24):
        yy, xx = np.mgrid[0:56, 0:56]
        disc = (((yy - 28) ** 2 + (xx - 28) ** 2) < 400 + 10 * i).astype(np.uint8) * 180
        pixels = np.stack([disc, disc // 2, disc // 3], axis=-1) + rng.integers(0, 40, (56, 56, 3), dtype=np.uint8)
        cv2.imwrite(str(directory / f"fundus_{i:02d}.png"), pixels)


def read_rgb(path: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


class FundusDataset(Dataset):
    def __init__(self, directory):
        self.paths = sorted(str(p) for p in directory.glob("*.png"))
        self.transform = A.Compose(
            [
                A.RandomResizedCrop(size=(32, 32), scale=(0.6, 1.0)),
                A.HorizontalFlip(p=0.5),
                A.RandomBrightnessContrast(p=0.5),
                A.Normalize(),
                ToTensorV2(),
            ]
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        image = read_rgb(self.paths[index])
        return self.transform(image=image)["image"], index % 2


def make_loader(num_workers: int = 0) -> DataLoader:
    dataset = FundusDataset(_data.built("image_albumentations", _write_images))
    context = "fork" if num_workers else None
    return DataLoader(dataset, batch_size=8, num_workers=num_workers, multiprocessing_context=context)
