"""Images the torchvision way, written with PIL alone (torchvision has no build for torch 2.13.0
here): JPEG files opened with PIL, then a Compose of callable transforms — Resize, a per-sample
RandomHorizontalFlip, ColorJitter (ImageEnhance), ToTensor, Normalize. Two forked workers.

    ImageFolder.__getitem__ -> load_rgb (PIL.Image.open, Image.convert)
        -> Compose.__call__ -> Resize -> RandomHorizontalFlip -> ColorJitter -> ToTensor -> Normalize
"""

from __future__ import annotations

import random

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageOps
from torch.utils.data import DataLoader, Dataset

from . import _data

EXPECTED_CONTEXTS = (
    "ImageFolder.__getitem__",
    "load_rgb",
    "Compose.__call__",
    "Resize.__call__",
    "RandomHorizontalFlip.__call__",
    "ColorJitter.__call__",
    "ToTensor.__call__",
    "Normalize.__call__",
    "PIL.Image.open",
    "default_collate",
)
EXPECTED_EDGES = (
    ("load_rgb", "Resize.__call__"),
    ("Resize.__call__", "RandomHorizontalFlip.__call__"),
    ("ToTensor.__call__", "Normalize.__call__"),
)


def _write_images(directory) -> None:
    rng = np.random.default_rng(11)
    for i in range(24):
        h, w = 48 + 8 * (i % 3), 64
        gradient = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
        pixels = np.clip(gradient + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(directory / f"img_{i:02d}.jpg", quality=90)


def load_rgb(path: str) -> Image.Image:
    with Image.open(path) as img:
        return img.convert("RGB")


class Resize:
    def __init__(self, size):
        self.size = size

    def __call__(self, img: Image.Image) -> Image.Image:
        if img.size == self.size:  # a PIL property: never a context of its own
            return img
        return img.resize(self.size, Image.BILINEAR)


class RandomHorizontalFlip:
    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, img: Image.Image) -> Image.Image:
        return ImageOps.mirror(img) if random.random() < self.p else img


class ColorJitter:
    def __init__(self, brightness: float = 0.3):
        self.brightness = brightness

    def __call__(self, img: Image.Image) -> Image.Image:
        factor = 1.0 + random.uniform(-self.brightness, self.brightness)
        return ImageEnhance.Brightness(img).enhance(factor)


class ToTensor:
    def __call__(self, img: Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


class Normalize:
    def __init__(self, mean, std):
        self.mean = torch.tensor(mean).view(3, 1, 1)
        self.std = torch.tensor(std).view(3, 1, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class ImageFolder(Dataset):
    def __init__(self, directory):
        self.paths = sorted(str(p) for p in directory.glob("*.jpg"))
        self.transform = Compose(
            [
                Resize((32, 32)),
                RandomHorizontalFlip(),
                ColorJitter(),
                ToTensor(),
                Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
            ]
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        img = load_rgb(self.paths[index])
        return self.transform(img), index % 4


def make_loader(num_workers: int = 0) -> DataLoader:
    dataset = ImageFolder(_data.built("image_pil", _write_images))
    context = "fork" if num_workers else None
    return DataLoader(dataset, batch_size=8, num_workers=num_workers, multiprocessing_context=context)
