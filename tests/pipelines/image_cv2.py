"""Images the Kaggle-kernel way with OpenCV: cv2.imread, BGR->RGB, resize, Gaussian blur, then
numpy normalisation and a CHW tensor. OpenCV functions are C builtins: the DAG names them by their
module (cv2.resize), whatever their __module__ says. Two forked workers.

    LeafDataset.__getitem__ -> read_image (cv2.imread, cv2.cvtColor) -> augment (cv2.resize,
        cv2.GaussianBlur) -> normalize -> to_tensor
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from . import _data

EXPECTED_CONTEXTS = (
    "LeafDataset.__getitem__",
    "read_image",
    "augment",
    "normalize",
    "to_tensor",
    "cv2.imread",
    "cv2.cvtColor",
    "cv2.resize",
    "cv2.GaussianBlur",
    "default_collate",
)
EXPECTED_EDGES = (("read_image", "augment"), ("augment", "normalize"), ("normalize", "to_tensor"))
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255


def _write_images(directory) -> None:
    rng = np.random.default_rng(5)
    for i in range(24):
        pixels = rng.integers(0, 256, (60 + 4 * (i % 4), 80, 3), dtype=np.uint8)
        cv2.imwrite(str(directory / f"leaf_{i:02d}.png"), pixels)


def read_image(path: str) -> np.ndarray:
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def augment(image: np.ndarray, size: int) -> np.ndarray:
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(image, (3, 3), 0)


def normalize(image: np.ndarray) -> np.ndarray:
    return (image.astype(np.float32) - MEAN) / STD


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


class LeafDataset(Dataset):
    def __init__(self, directory, size: int = 32):
        self.paths = sorted(str(p) for p in directory.glob("*.png"))
        self.size = size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        image = read_image(self.paths[index])
        image = augment(image, self.size)
        return to_tensor(normalize(image)), index % 6


def make_loader(num_workers: int = 0) -> DataLoader:
    dataset = LeafDataset(_data.built("image_cv2", _write_images))
    context = "fork" if num_workers else None
    return DataLoader(dataset, batch_size=8, num_workers=num_workers, multiprocessing_context=context)
