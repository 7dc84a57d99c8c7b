"""Audio the BirdCLEF-notebook way: librosa loads each clip (resampling it), computes a log-mel
spectrogram and normalises it per clip in numpy, then a tensor is made. librosa's first call in a
worker compiles numba code (generated "<string>" source). Two spawned workers.

    ClipDataset.__getitem__ -> load_clip (librosa.load, librosa.util.fix_length)
        -> log_mel (librosa.feature.melspectrogram, librosa.power_to_db) -> standardize
"""

from __future__ import annotations

import math
import wave

import librosa
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from . import _data

FILE_RATE = 22_050
SAMPLE_RATE = 16_000
CLIP_SECONDS = 0.5
EXPECTED_CONTEXTS = (
    "ClipDataset.__getitem__",
    "load_clip",
    "log_mel",
    "standardize",
    "librosa.load",
    "librosa.feature.melspectrogram",
    "librosa.power_to_db",
    "default_collate",
)
EXPECTED_EDGES = (("load_clip", "log_mel"), ("log_mel", "standardize"))


def _write_clips(directory) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(int(FILE_RATE * 0.6)) / FILE_RATE
    for i in range(16):
        chirp = np.sin(2 * math.pi * (300 + 500 * t * (1 + i % 4)) * t) * 0.5
        signal = chirp + 0.02 * rng.standard_normal(t.size)
        with wave.open(str(directory / f"bird_{i:02d}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(FILE_RATE)
            w.writeframes((signal * 32767).astype("<i2").tobytes())


def load_clip(path: str) -> np.ndarray:
    y, _ = librosa.load(path, sr=SAMPLE_RATE, mono=True)
    return librosa.util.fix_length(y, size=int(SAMPLE_RATE * CLIP_SECONDS))


def log_mel(y: np.ndarray) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=y, sr=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=32)
    return librosa.power_to_db(mel, ref=np.max)


def standardize(spec: np.ndarray) -> np.ndarray:
    return ((spec - spec.mean()) / (spec.std() + 1e-6)).astype(np.float32)


class ClipDataset(Dataset):
    def __init__(self, directory):
        self.paths = sorted(str(p) for p in directory.glob("*.wav"))

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        y = load_clip(self.paths[index])
        spec = standardize(log_mel(y))
        return torch.from_numpy(spec), index % 3


def make_loader(num_workers: int = 0) -> DataLoader:
    dataset = ClipDataset(_data.built("audio_librosa", _write_clips))
    context = "spawn" if num_workers else None
    return DataLoader(dataset, batch_size=4, num_workers=num_workers, multiprocessing_context=context)
