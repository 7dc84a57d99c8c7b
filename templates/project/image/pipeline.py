"""{{NAME}}'s data pipeline and model (images): decode -> random crop -> flip -> to float -> normalise,
per sample in the DataLoader workers; a small CNN.

The images are synthetic (coloured shapes on noise, one shape size per class) so the project runs as
written: replace `load_image` and `rows` with the competition's files (e.g. PIL.Image.open) and labels.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

SIZE, CROP, CLASSES = 72, 64, 10
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def load_image(index: int, seed: int) -> np.ndarray:
    """An HxWx3 uint8 image (stands in for decoding a file)."""
    rng = np.random.default_rng(seed * 100003 + index)
    img = rng.integers(0, 80, size=(SIZE, SIZE, 3), dtype=np.uint8)
    r = 6 + 2 * (index % CLASSES)
    c = rng.integers(r, SIZE - r, size=2)
    img[c[0] - r:c[0] + r, c[1] - r:c[1] + r] = rng.integers(120, 255, size=3, dtype=np.uint8)
    return img


def to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float() / 255.0


def normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - MEAN) / STD


class ImageDataset(Dataset):
    def __init__(self, config: dict):
        self.rows = [(i, i % CLASSES) for i in range(config["num_samples"])]
        self.seed = config["seed"]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        index, label = self.rows[i]
        img = load_image(index, self.seed)
        rng = np.random.default_rng(self.seed + i)
        y, x = rng.integers(0, SIZE - CROP, size=2)
        img = img[y:y + CROP, x:x + CROP]
        if rng.random() < 0.5:
            img = img[:, ::-1]
        return normalise(to_tensor(img)), label


def make_dataloader(config: dict) -> DataLoader:
    return DataLoader(ImageDataset(config), batch_size=config["batch_size"], shuffle=True,
                      num_workers=config["num_workers"], generator=torch.Generator().manual_seed(config["seed"]))


def make_model(config: dict) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(32, CLASSES))
