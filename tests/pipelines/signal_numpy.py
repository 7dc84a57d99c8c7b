"""A numpy signal pipeline (vibration / ECG style): recordings stored as .npy, framed with
sliding_window_view (a strided view whose logical size is many times its memory), windowed, FFT
magnitudes, log band energies clipped to a range, then a tensor. No workers by default; two forked
workers when asked.

    RecordingDataset.__getitem__ -> load_recording -> frame_signal -> spectrum -> band_energies
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch.utils.data import DataLoader, Dataset

from . import _data

FRAME = 256
HOP = 4
EXPECTED_CONTEXTS = (
    "RecordingDataset.__getitem__",
    "load_recording",
    "frame_signal",
    "spectrum",
    "band_energies",
    "numpy.fft.rfft",
    "numpy.clip",
    "default_collate",
)
EXPECTED_EDGES = (("load_recording", "frame_signal"), ("frame_signal", "spectrum"), ("spectrum", "band_energies"))


def _write_recordings(directory) -> None:
    rng = np.random.default_rng(21)
    t = np.arange(4_096) / 1_000.0
    for i in range(16):
        x = np.sin(2 * np.pi * (5 + i) * t) + 0.3 * rng.standard_normal(t.size)
        np.save(directory / f"rec_{i:02d}.npy", x.astype(np.float64))


def load_recording(path: str) -> np.ndarray:
    return np.load(path)


def frame_signal(x: np.ndarray) -> np.ndarray:
    """Overlapping frames as a view: (n_frames, FRAME) over the recording's own memory."""
    return sliding_window_view(x, FRAME)[::HOP]


def spectrum(frames: np.ndarray) -> np.ndarray:
    return np.abs(np.fft.rfft(frames * np.hanning(FRAME), axis=-1))


def band_energies(spec: np.ndarray, bands: int = 16) -> np.ndarray:
    edges = np.linspace(0, spec.shape[-1], bands + 1).astype(int)
    energy = np.stack([spec[:, a:b].mean(axis=-1) for a, b in zip(edges[:-1], edges[1:], strict=True)], axis=-1)
    return np.clip(np.log(energy + 1e-9), -10.0, 10.0).astype(np.float32)


class RecordingDataset(Dataset):
    def __init__(self, directory):
        self.paths = sorted(str(p) for p in directory.glob("*.npy"))

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        x = load_recording(self.paths[index])
        features = band_energies(spectrum(frame_signal(x)))
        return torch.from_numpy(features), index % 2


def make_loader(num_workers: int = 0) -> DataLoader:
    dataset = RecordingDataset(_data.built("signal_numpy", _write_recordings))
    context = "fork" if num_workers else None
    return DataLoader(dataset, batch_size=4, num_workers=num_workers, multiprocessing_context=context)
