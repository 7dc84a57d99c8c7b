"""Audio, torchaudio-style but torch-only (torchaudio has no build for torch 2.13.0 here): WAV files
read with the standard library, then a torchvision-style Compose of nn.Modules — MelSpectrogram
(torch.stft + a mel filter bank), AmplitudeToDB, a per-sample random FrequencyMasking — as a user
writes them when torchaudio is not at hand. Two forked workers.

    AudioDataset.__getitem__ -> read_wav -> fix_length -> Compose.__call__
        -> MelSpectrogram.forward -> AmplitudeToDB.forward -> FrequencyMasking.forward
"""

from __future__ import annotations

import math
import wave

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from . import _data

SAMPLE_RATE = 16_000
CLIP_SAMPLES = 8_000
EXPECTED_CONTEXTS = (
    "AudioDataset.__getitem__",
    "read_wav",
    "fix_length",
    "Compose.__call__",
    "MelSpectrogram.forward",
    "AmplitudeToDB.forward",
    "FrequencyMasking.forward",
    "default_collate",
)
# Consecutive modules of the Compose hand their tensors to each other directly.
EXPECTED_EDGES = (
    ("MelSpectrogram.forward", "AmplitudeToDB.forward"),
    ("AmplitudeToDB.forward", "FrequencyMasking.forward"),
    ("read_wav", "fix_length"),
)


def _write_clips(directory) -> None:
    rng = np.random.default_rng(7)
    t = np.arange(CLIP_SAMPLES + 1_000) / SAMPLE_RATE
    for i in range(24):
        signal = 0.4 * np.sin(2 * math.pi * (220 + 40 * i) * t) + 0.05 * rng.standard_normal(t.size)
        with wave.open(str(directory / f"clip_{i:02d}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes((signal * 32767).astype("<i2").tobytes())


def read_wav(path: str) -> torch.Tensor:
    with wave.open(path, "rb") as w:
        frames = w.readframes(w.getnframes())
    return torch.from_numpy(np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0)


def fix_length(waveform: torch.Tensor, length: int) -> torch.Tensor:
    if waveform.numel() >= length:
        return waveform[:length]
    return torch.nn.functional.pad(waveform, (0, length - waveform.numel()))


def mel_filter_bank(n_fft: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    def hz_to_mel(f):
        return 2595.0 * torch.log10(1.0 + f / 700.0)

    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mel_points = torch.linspace(hz_to_mel(torch.tensor(0.0)), hz_to_mel(torch.tensor(sample_rate / 2)), n_mels + 2)
    hz_points = 700.0 * (10 ** (mel_points / 2595.0) - 1.0)
    lower, centre, upper = hz_points[:-2, None], hz_points[1:-1, None], hz_points[2:, None]
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


class MelSpectrogram(nn.Module):
    def __init__(self, n_fft: int = 400, hop_length: int = 160, n_mels: int = 40):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.register_buffer("window", torch.hann_window(n_fft))
        self.register_buffer("filters", mel_filter_bank(n_fft, n_mels, SAMPLE_RATE))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(waveform, self.n_fft, self.hop_length, window=self.window, return_complex=True)
        return self.filters @ spec.abs().pow(2.0)


class AmplitudeToDB(nn.Module):
    def __init__(self, top_db: float = 80.0):
        super().__init__()
        self.top_db = top_db

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        db = 10.0 * torch.log10(torch.clamp(power, min=1e-10))
        return torch.maximum(db, db.max() - self.top_db)


class FrequencyMasking(nn.Module):
    """SpecAugment's frequency mask, a different random band per sample."""

    def __init__(self, max_width: int = 6):
        super().__init__()
        self.max_width = max_width

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        width = int(torch.randint(0, self.max_width + 1, ()))
        start = int(torch.randint(0, spec.shape[0] - width + 1, ()))
        masked = spec.clone()
        masked[start : start + width] = spec.mean()
        return masked


class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class AudioDataset(Dataset):
    def __init__(self, directory):
        self.paths = sorted(str(p) for p in directory.glob("*.wav"))
        self.transform = Compose([MelSpectrogram(), AmplitudeToDB(), FrequencyMasking()])

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        waveform = read_wav(self.paths[index])
        waveform = fix_length(waveform, CLIP_SAMPLES)
        return self.transform(waveform), index % 5


def make_loader(num_workers: int = 0) -> DataLoader:
    dataset = AudioDataset(_data.built("audio_mel", _write_clips))
    context = "fork" if num_workers else None
    return DataLoader(dataset, batch_size=4, num_workers=num_workers, multiprocessing_context=context)
