"""An image classification data pipeline written the usual way: decode a PNG, resize, random crop,
random flip, normalise -- per sample, in DataLoader workers. The random choices are drawn by the
dataset from a per-sample generator, so a sample is the same wherever its transforms run.

Everything after decoding is torch code that also accepts a batch (leading dimension)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

CONFIG = {"n_images": 256, "image_size": (120, 160), "resize": 80, "crop": 64, "num_classes": 4,
          "batch_size": 32, "num_workers": 2, "seed": 7,
          "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}


def generate_images(root: str | Path, n: int = CONFIG["n_images"], seed: int = CONFIG["seed"]) -> list[dict]:
    """Writes ``n`` PNGs of coloured shapes over gradients (class = shape) once; returns rows."""
    from PIL import Image, ImageDraw

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    h, w = CONFIG["image_size"]
    rows = []
    for i in range(n):
        label = i % CONFIG["num_classes"]
        path = root / f"img_{i:05d}.png"
        rows.append({"path": str(path), "label": label})
        if path.exists():
            continue
        rng = np.random.default_rng(seed * 7919 + i)
        yy, xx = np.mgrid[0:h, 0:w]
        bg = np.stack([(xx / w * 255 * rng.uniform(0.3, 1)), (yy / h * 255 * rng.uniform(0.3, 1)),
                       np.full_like(xx, rng.integers(0, 255), dtype=float)], -1).astype(np.uint8)
        img = Image.fromarray(bg)
        draw = ImageDraw.Draw(img)
        cx, cy, r = int(rng.integers(30, w - 30)), int(rng.integers(30, h - 30)), int(rng.integers(12, 28))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        box = (cx - r, cy - r, cx + r, cy + r)
        if label == 0:
            draw.ellipse(box, fill=colour)
        elif label == 1:
            draw.rectangle(box, fill=colour)
        elif label == 2:
            draw.polygon([(box[0], box[3]), (box[2], box[3]), (cx, box[1])], fill=colour)
        else:
            draw.line([(box[0], box[1]), (box[2], box[3])], fill=colour, width=6)
        tmp = path.with_suffix(".tmp.png")
        img.save(tmp)
        tmp.replace(path)
    return rows


def decode(path: str) -> torch.Tensor:
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)  # CHW uint8


def resize(img: torch.Tensor, size: int) -> torch.Tensor:
    """Shorter edge -> ``size`` (bilinear, antialiased), float in [0, 1]; [..., C, H, W]."""
    h, w = img.shape[-2], img.shape[-1]
    out_h, out_w = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    x = img.reshape(-1, *img.shape[-3:]).float().div(255)
    y = F.interpolate(x, size=(out_h, out_w), mode="bilinear", align_corners=False, antialias=True)
    return y.reshape(*img.shape[:-2], out_h, out_w)


def crop(img: torch.Tensor, offset: torch.Tensor, size: int) -> torch.Tensor:
    """Crops size x size at ``offset`` = (top, left) ([..., 2]); per sample offsets in a batch."""
    ar = torch.arange(size)
    rows = (offset[..., 0:1] + ar)  # [..., size]
    cols = (offset[..., 1:2] + ar)
    x = img.gather(-2, rows[..., None, :, None].expand(*img.shape[:-2], size, img.shape[-1]))
    return x.gather(-1, cols[..., None, None, :].expand(*x.shape[:-1], size))


def flip(img: torch.Tensor, flag: torch.Tensor) -> torch.Tensor:
    """Horizontal flip where ``flag`` ([...]) is 1."""
    return torch.where(flag.bool()[..., None, None, None], img.flip(-1), img)


def normalise(img: torch.Tensor, mean=CONFIG["mean"], std=CONFIG["std"]) -> torch.Tensor:
    m = torch.tensor(mean).view(3, 1, 1)
    s = torch.tensor(std).view(3, 1, 1)
    return (img - m) / s


class ImageDataset(Dataset):
    def __init__(self, rows: list[dict], cfg: dict = CONFIG):
        self.rows, self.cfg = rows, cfg

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        cfg = self.cfg
        rng = np.random.default_rng((cfg["seed"], i))
        img = decode(self.rows[i]["path"])
        h, w = img.shape[-2:]
        rh, rw = (cfg["resize"], int(cfg["resize"] * w / h)) if h <= w else (int(cfg["resize"] * h / w), cfg["resize"])
        offset = torch.tensor([rng.integers(0, rh - cfg["crop"] + 1), rng.integers(0, rw - cfg["crop"] + 1)])
        flag = torch.tensor(int(rng.integers(0, 2)))
        x = normalise(flip(crop(resize(img, cfg["resize"]), offset, cfg["crop"]), flag))
        return x, self.rows[i]["label"]


class SmallNet(torch.nn.Module):
    def __init__(self, cfg: dict = CONFIG):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU(),
                                        torch.nn.AdaptiveAvgPool2d(2))
        self.head = torch.nn.Linear(32, cfg["num_classes"])

    def forward(self, x):
        return self.head(self.body(x).flatten(1))
