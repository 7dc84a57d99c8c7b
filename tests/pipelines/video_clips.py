"""Video clips on persistent workers: frames stored as one uint8 memory-mapped .npy per video, a
clip of evenly spaced frames sampled per item, then an nn.Sequential of user nn.Modules (uint8 ->
float scaling, a centre crop, per-channel normalisation). Two spawned persistent workers: the
workers, and their tracing, live across epochs.

    VideoDataset.__getitem__ -> sample_clip -> Sequential -> ToFloat.forward -> CenterCrop.forward
        -> NormalizeVideo.forward
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from . import _data

FRAMES = 8
EXPECTED_CONTEXTS = (
    "VideoDataset.__getitem__",
    "sample_clip",
    "ToFloat.forward",
    "CenterCrop.forward",
    "NormalizeVideo.forward",
    "default_collate",
)
EXPECTED_EDGES = (("ToFloat.forward", "CenterCrop.forward"), ("CenterCrop.forward", "NormalizeVideo.forward"))


def _write_videos(directory) -> None:
    rng = np.random.default_rng(43)
    for i in range(12):
        np.save(directory / f"video_{i:02d}.npy", rng.integers(0, 256, (24 + i, 36, 36, 3), dtype=np.uint8))


def sample_clip(path: str, frames: int) -> torch.Tensor:
    video = np.load(path, mmap_mode="r")
    index = np.linspace(0, len(video) - 1, frames).round().astype(int)
    return torch.from_numpy(np.ascontiguousarray(video[index]))  # (T, H, W, C) uint8


class ToFloat(nn.Module):
    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return clip.permute(3, 0, 1, 2).float() / 255.0  # (C, T, H, W)


class CenterCrop(nn.Module):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        h, w = clip.shape[-2:]
        top, left = (h - self.size) // 2, (w - self.size) // 2
        return clip[..., top : top + self.size, left : left + self.size]


class NormalizeVideo(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(3, 1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(3, 1, 1, 1))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return (clip - self.mean) / self.std


class VideoDataset(Dataset):
    def __init__(self, directory):
        self.paths = sorted(str(p) for p in directory.glob("*.npy"))
        self.transform = nn.Sequential(ToFloat(), CenterCrop(28), NormalizeVideo([0.45] * 3, [0.225] * 3))

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        clip = sample_clip(self.paths[index], FRAMES)
        return self.transform(clip), index % 4


def make_loader(num_workers: int = 0) -> DataLoader:
    dataset = VideoDataset(_data.built("video_clips", _write_videos))
    if not num_workers:
        return DataLoader(dataset, batch_size=4)
    return DataLoader(dataset, batch_size=4, num_workers=num_workers, multiprocessing_context="spawn",
                      persistent_workers=True)
