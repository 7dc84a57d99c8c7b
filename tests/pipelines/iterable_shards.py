"""A streaming IterableDataset (WebDataset-style shards): each worker reads its own share of .npy
shards (torch.utils.data.get_worker_info), cuts every recording into fixed windows, computes window
features and yields (features, label) pairs; DataLoader batches them. Two forked workers.

    ShardStream.__iter__ (a generator) calls load_shard -> split_windows -> window_features
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from . import _data

WINDOW = 128
EXPECTED_CONTEXTS = (
    "ShardStream.__iter__",
    "load_shard",
    "split_windows",
    "window_features",
    "default_collate",
)
# Rows of a loaded shard, and the windows split_windows returns (rows of a reshape), are views whose
# numpy base collapses to np.load's buffer, which no traced call produced: the tracer finds the
# produced view that holds their memory by address range (load_shard's array, split_windows' array).
EXPECTED_EDGES = (("load_shard", "split_windows"), ("split_windows", "window_features"))


def _write_shards(directory) -> None:
    rng = np.random.default_rng(29)
    for shard in range(4):
        recordings = rng.standard_normal((6, 4 * WINDOW)).astype(np.float32)
        labels = rng.integers(0, 3, 6)
        np.savez(directory / f"shard_{shard}.npz", x=recordings, y=labels)


def load_shard(path: str):
    with np.load(path) as z:
        return z["x"], z["y"]


def split_windows(recording: np.ndarray) -> np.ndarray:
    usable = len(recording) // WINDOW * WINDOW
    return recording[:usable].reshape(-1, WINDOW)


def window_features(window: np.ndarray) -> torch.Tensor:
    spectrum = np.abs(np.fft.rfft(window))
    stats = np.array([window.mean(), window.std(), np.abs(window).max()], dtype=np.float32)
    return torch.from_numpy(np.concatenate([stats, spectrum[:13].astype(np.float32)]))


class ShardStream(IterableDataset):
    def __init__(self, directory):
        self.shards = sorted(str(p) for p in directory.glob("*.npz"))

    def __iter__(self):
        info = get_worker_info()
        mine = self.shards if info is None else self.shards[info.id :: info.num_workers]
        for path in mine:
            recordings, labels = load_shard(path)
            for recording, label in zip(recordings, labels, strict=True):
                for window in split_windows(recording):
                    yield window_features(window), int(label)


def make_loader(num_workers: int = 0) -> DataLoader:
    dataset = ShardStream(_data.built("iterable_shards", _write_shards))
    context = "fork" if num_workers else None
    return DataLoader(dataset, batch_size=8, num_workers=num_workers, multiprocessing_context=context)
