"""A small, realistic image pipeline to try the tracer on:

    codedag trace --batches 1 examples/trace_demo.py

A map-style Dataset decodes a synthetic "image" per sample, then per-sample transforms
(random crop, flip, normalise, to CHW tensor) run in 2 DataLoader workers; torch's default_collate
stacks the batch. The script then "trains" a tiny model for a few steps.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


def decode(index: int) -> np.ndarray:
    """Stands in for reading and decoding a JPEG: a deterministic HxWx3 uint8 image."""
    rng = np.random.default_rng(index)
    return rng.integers(0, 256, size=(72, 72, 3), dtype=np.uint8)


class RandomCrop:
    def __init__(self, size: int):
        self.size = size

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = image.shape[:2]
        top = int(rng.integers(0, h - self.size + 1))
        left = int(rng.integers(0, w - self.size + 1))
        return image[top : top + self.size, left : left + self.size]


def random_flip(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return image[:, ::-1] if rng.random() < 0.5 else image


def normalize(image: np.ndarray, mean: float = 127.5, std: float = 64.0) -> np.ndarray:
    return (image.astype(np.float32) - mean) / std


def to_chw_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


class ImageFolderLike(Dataset):
    def __init__(self, n: int = 512, crop: int = 64):
        self.n = n
        self.crop = RandomCrop(crop)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int):
        rng = np.random.default_rng(index + 1)
        image = decode(index)
        image = self.crop(image, rng)
        image = random_flip(image, rng)
        image = normalize(image)
        return to_chw_tensor(image), index % 10


def main() -> None:
    loader = DataLoader(ImageFolderLike(), batch_size=16, shuffle=False, num_workers=2)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 64 * 64, 10))
    optim = torch.optim.SGD(model.parameters(), lr=0.01)
    for step, (images, labels) in enumerate(loader):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optim.zero_grad()
        loss.backward()
        optim.step()
        if step % 8 == 0:
            print(f"step {step}: loss {loss.item():.3f}")


if __name__ == "__main__":
    main()
