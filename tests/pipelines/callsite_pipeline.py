"""A pipeline whose heavy step is a library call made directly in a __getitem__ that cannot move
(it draws its crop with numpy's Generator, which no strategy covers): the shape the optimizer plans
as a call site "caller->callee" (docs/optimizer.md)."""

from __future__ import annotations

import librosa
import numpy as np
from torch.utils.data import DataLoader, Dataset

SR = 8000

EXPECTED_CONTEXTS = ("ClipDataset.__getitem__", "wave", "log_scale")
# wave's output reaches log_scale only through a slice and librosa (new objects), so no user-to-user
# data edge is expected; the call site itself is what test_migration_call_sites checks.
EXPECTED_EDGES = ()


def wave(i: int) -> np.ndarray:
    t = np.arange(SR // 2, dtype=np.float32) / SR
    return (np.sin(2 * np.pi * (220 + 20 * i) * t) * 0.5).astype(np.float32)


def log_scale(mel: np.ndarray) -> np.ndarray:
    # Movable on purpose (numpy.log1p has a strategy; the float32 mel stays float32): the call site's
    # output flows into it, so a pinned consumer here (an `.astype`, a method no strategy covers)
    # would pin the mel call site too and leave nothing of this shape to plan.
    return np.log1p(mel)


class ClipDataset(Dataset):
    def __init__(self, n: int = 16):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        rng = np.random.default_rng(i)
        start = int(rng.integers(0, SR // 4))
        clip = wave(i)[start : start + SR // 4]
        mel = librosa.feature.melspectrogram(y=clip, sr=SR, n_fft=256, hop_length=64, n_mels=16)
        return log_scale(mel), i % 3


def make_loader(num_workers: int = 0) -> DataLoader:
    return DataLoader(ClipDataset(), batch_size=4, num_workers=num_workers)


def mel_elsewhere(clip: np.ndarray) -> np.ndarray:
    """The same library call from another function: a call-site plan for __getitem__ leaves it alone."""
    return librosa.feature.melspectrogram(y=clip, sr=SR, n_fft=256, hop_length=64, n_mels=16)
