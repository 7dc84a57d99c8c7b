"""{{NAME}}'s data pipeline and model (audio): waveform -> random crop -> STFT -> mel -> log ->
normalise -> SpecAugment, per sample in the DataLoader workers; a small CNN over the spectrogram.

The waveforms are synthetic (chirps over noise, one pitch per class) so the project runs as written:
replace `load_waveform` and `rows` with the competition's audio files and labels. Everything after the
crop is torch code that also works on a whole batch, which is what CodeDAG's plan can move.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

SAMPLE_RATE, CLIP, N_FFT, HOP, N_MELS, CLASSES = 16000, 16000, 512, 256, 64, 8


def load_waveform(index: int, seed: int) -> np.ndarray:
    """A 1.5 s clip: chirps at the class's pitch over noise (stands in for reading a file)."""
    rng = np.random.default_rng(seed * 100003 + index)
    t = np.arange(int(SAMPLE_RATE * 1.5)) / SAMPLE_RATE
    pitch = 1200 + 500 * (index % CLASSES)
    return (0.05 * rng.normal(size=t.size) + 0.3 * np.sin(2 * math.pi * pitch * t * (1 + 0.2 * t))).astype(np.float32)


def mel_filterbank(n_fft: int = N_FFT, n_mels: int = N_MELS, sr: int = SAMPLE_RATE) -> torch.Tensor:
    def hz_to_mel(f):
        return 2595 * np.log10(1 + f / 700)

    mels = np.linspace(hz_to_mel(50.0), hz_to_mel(sr / 2), n_mels + 2)
    hz = 700 * (10 ** (mels / 2595) - 1)
    bins = np.floor((n_fft + 1) * hz / sr).astype(int)
    fb = np.zeros((n_mels, n_fft // 2 + 1), dtype=np.float32)
    for m in range(1, n_mels + 1):
        lo, mid, hi = bins[m - 1], bins[m], bins[m + 1]
        fb[m - 1, lo:mid] = (np.arange(lo, mid) - lo) / max(1, mid - lo)
        fb[m - 1, mid:hi] = (hi - np.arange(mid, hi)) / max(1, hi - mid)
    return torch.from_numpy(fb)


MEL = mel_filterbank()
WINDOW = torch.hann_window(N_FFT)


def log_mel(wave: torch.Tensor) -> torch.Tensor:
    spec = torch.stft(wave, N_FFT, HOP, window=WINDOW, return_complex=True).abs() ** 2
    return torch.log(MEL @ spec + 1e-6)


def normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - x.mean(dim=(-2, -1), keepdim=True)) / (x.std(dim=(-2, -1), keepdim=True) + 1e-5)


def spec_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    x = x.clone()
    f0 = int(torch.randint(0, N_MELS - 8, (1,), generator=generator))
    t0 = int(torch.randint(0, x.shape[-1] - 8, (1,), generator=generator))
    x[..., f0:f0 + 8, :] = 0
    x[..., :, t0:t0 + 8] = 0
    return x


class AudioDataset(Dataset):
    def __init__(self, config: dict):
        self.rows = [(i, i % CLASSES) for i in range(config["num_samples"])]
        self.seed = config["seed"]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        index, label = self.rows[i]
        wave = load_waveform(index, self.seed)
        start = np.random.default_rng(self.seed + i).integers(0, wave.size - CLIP)
        x = torch.from_numpy(wave[start:start + CLIP].copy())
        generator = torch.Generator().manual_seed(self.seed + i)
        return spec_augment(normalise(log_mel(x)), generator).unsqueeze(0), label


def make_dataloader(config: dict) -> DataLoader:
    return DataLoader(AudioDataset(config), batch_size=config["batch_size"], shuffle=True,
                      num_workers=config["num_workers"], generator=torch.Generator().manual_seed(config["seed"]))


def make_model(config: dict) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(32, CLASSES))
