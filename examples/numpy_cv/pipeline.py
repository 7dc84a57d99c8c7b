"""Per-sample numpy/OpenCV preprocessing, as many vision competition notebooks write it: BGR -> RGB,
resize, Gaussian blur, scale, standardise, HWC -> CHW. Its library calls are covered by CodeDAG's
strategy registry, so a plan can run this function on a torch device (the registry swaps each cv2
/ numpy call for its torch implementation inside the planned context only)."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

CONFIG = {"n_samples": 256, "height": 96, "width": 128, "out": (64, 48), "num_classes": 3, "batch_size": 32,
          "num_workers": 2, "seed": 11}
MEAN = np.array([0.5, 0.45, 0.4])
STD = np.array([0.25, 0.25, 0.25])


def make_scan(i: int, cfg: dict = CONFIG) -> np.ndarray:
    """A synthetic BGR uint8 frame (as cv2.imread would give), deterministic per index."""
    rng = np.random.default_rng((cfg["seed"], i))
    h, w = cfg["height"], cfg["width"]
    yy, xx = np.mgrid[0:h, 0:w]
    k = i % cfg["num_classes"]
    img = np.stack([np.sin(xx / (5 + k)) * 80 + 120, np.cos(yy / (7 + k)) * 60 + 110,
                    (xx + yy) % (40 + 10 * k) * 3.0], -1)
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def preprocess(img: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    small = cv2.resize(rgb, CONFIG["out"], interpolation=cv2.INTER_LINEAR)
    smooth = cv2.GaussianBlur(small, (5, 5), 1.2)
    x = np.divide(smooth, 255.0)
    x = np.divide(np.subtract(x, MEAN), STD)
    return np.transpose(x, (2, 0, 1))


class ScanDataset(Dataset):
    def __init__(self, n: int = CONFIG["n_samples"]):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return preprocess(make_scan(i)), i % CONFIG["num_classes"]


class TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2),
                                       torch.nn.Flatten(), torch.nn.Linear(16, CONFIG["num_classes"]))

    def forward(self, x):
        return self.net(x.float())
