"""A BirdCLEF-like training script's data pipeline and model, written the way Kaggle code is: the
original code CodeDAG optimises without changing it (baseline.py and optimization.py import it).

Per sample: load a wav file -> random crop -> STFT -> mel -> log / PCEN -> normalise -> deltas ->
SpecAugment; the DataLoader collates. Everything after the crop is torch code that also works on a
batch (leading dimension).
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

CONFIG = {
    "sample_rate": 16000,
    "clip_seconds": 2.0,
    "file_seconds": 4.0,
    "n_fft": 512,
    "hop_length": 256,
    "n_mels": 64,
    "fmin": 50.0,
    "fmax": 8000.0,
    "freq_masks": 2,
    "time_masks": 4,
    "freq_mask_width": 8,
    "time_mask_width": 12,
    "num_classes": 8,
    "train_batch_size": 32,
    "num_workers": 2,
    "learning_rate": 1e-3,
    "epochs": 1,
    "n_files": 256,
    "seed": 42,
}


# --- data: synthetic bird calls as 16-bit PCM wav files --------------------------------------

def synthesise_dataset(root: str | Path, n_files: int = CONFIG["n_files"], seed: int = CONFIG["seed"]) -> list[dict]:
    """Writes ``n_files`` wav files of chirps over noise (class = chirp pattern) once; returns rows."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    sr, seconds = CONFIG["sample_rate"], CONFIG["file_seconds"]
    rows = []
    for i in range(n_files):
        label = i % CONFIG["num_classes"]
        path = root / f"call_{i:05d}.wav"
        rows.append({"path": str(path), "label": label})
        if path.exists():
            continue
        rng = np.random.default_rng(seed * 100003 + i)
        t = np.arange(int(sr * seconds)) / sr
        base = 1500 + 600 * label
        sig = 0.05 * rng.normal(size=t.size)
        for start in rng.uniform(0, seconds - 0.5, size=6):
            seg = (t >= start) & (t < start + 0.3)
            tt = t[seg] - start
            sig[seg] += 0.4 * np.sin(2 * np.pi * (base + 2000 * tt * (1 + label % 3)) * tt) * np.hanning(seg.sum())
        pcm = np.clip(sig * 32767, -32768, 32767).astype("<i2")
        tmp = path.with_suffix(".tmp")
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sr)
            w.writeframes(pcm.tobytes())
        tmp.replace(path)
    return rows


def load_wav(path: str) -> torch.Tensor:
    with wave.open(path, "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return torch.from_numpy(pcm.astype(np.float32) / 32768.0)


def random_crop(wave_: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    n = int(CONFIG["sample_rate"] * CONFIG["clip_seconds"])
    start = int(rng.integers(0, wave_.numel() - n + 1))
    return wave_[start: start + n].clone()


# --- features: torch code that works on one clip or a batch of clips ------------------------

def _mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> torch.Tensor:
    """Slaney-style triangular mel filters, [n_mels, n_fft // 2 + 1]."""
    def hz_to_mel(f):
        return 2595.0 * math.log10(1.0 + f / 700.0)

    mels = torch.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2, dtype=torch.float64)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    freqs = torch.linspace(0, sr / 2, n_fft // 2 + 1, dtype=torch.float64)
    lower, centre, upper = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    up = (freqs[None, :] - lower) / (centre - lower)
    down = (upper - freqs[None, :]) / (upper - centre)
    fb = torch.clamp(torch.minimum(up, down), min=0.0)
    return (fb * (2.0 / (upper - lower))).to(torch.float32)


class MelSpectrogram:
    """STFT -> power -> mel, like torchaudio.transforms.MelSpectrogram."""

    def __init__(self, cfg: dict = CONFIG):
        self.n_fft, self.hop = cfg["n_fft"], cfg["hop_length"]
        self.window = torch.hann_window(self.n_fft)
        self.fb = _mel_filterbank(cfg["sample_rate"], self.n_fft, cfg["n_mels"], cfg["fmin"], cfg["fmax"])

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(clip, self.n_fft, self.hop, window=self.window, return_complex=True)
        power = spec.real.square() + spec.imag.square()
        return torch.matmul(self.fb, power)


def to_log(mel: torch.Tensor) -> torch.Tensor:
    return torch.log10(torch.clamp(mel, min=1e-10)) * 10.0


def normalise(logmel: torch.Tensor) -> torch.Tensor:
    """Per-clip standardisation (reduces over the last two dims)."""
    mean = logmel.mean(dim=(-2, -1), keepdim=True)
    std = logmel.std(dim=(-2, -1), keepdim=True)
    return (logmel - mean) / (std + 1e-6)


def pcen(mel: torch.Tensor, s: float = 0.04, alpha: float = 0.98, delta: float = 2.0, r: float = 0.5,
         eps: float = 1e-6) -> torch.Tensor:
    """Per-channel energy normalisation (Wang et al. 2017), popular for bird calls: a first-order IIR
    smoother over time frames, written as the usual per-frame loop."""
    smooth = torch.empty_like(mel)
    smooth[..., 0] = mel[..., 0]
    for t in range(1, mel.shape[-1]):
        smooth[..., t] = (1 - s) * smooth[..., t - 1] + s * mel[..., t]
    return (mel / (eps + smooth) ** alpha + delta) ** r - delta**r


def deltas(logmel: torch.Tensor) -> torch.Tensor:
    """First time difference (librosa.feature.delta with width 3, edge-padded)."""
    padded = torch.cat([logmel[..., :1], logmel, logmel[..., -1:]], dim=-1)
    return (padded[..., 2:] - padded[..., :-2]) / 2.0


def stack_channels(*features: torch.Tensor) -> torch.Tensor:
    """[..., F, T] features -> [..., C, F, T] input channels."""
    return torch.stack(features, dim=-3)


def spec_augment(spec: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """SpecAugment with the mask positions drawn by the dataset (so the outcome depends only on the
    sample, wherever it runs). ``masks`` is [..., n_masks, 3] rows of (axis, start, width)."""
    n_freq, n_time = spec.shape[-2], spec.shape[-1]
    masks = masks.unsqueeze(-3) if spec.dim() == masks.dim() + 1 else masks
    f = torch.arange(n_freq).view(n_freq, 1)
    t = torch.arange(n_time).view(1, n_time)
    keep = torch.ones((*spec.shape[:-3], 1, n_freq, n_time), dtype=torch.bool)  # shared by the channels
    for k in range(masks.shape[-2]):
        axis = masks[..., k, 0].view(*masks.shape[:-2], 1, 1)
        start = masks[..., k, 1].view(*masks.shape[:-2], 1, 1)
        width = masks[..., k, 2].view(*masks.shape[:-2], 1, 1)
        pos = torch.where(axis == 0, f, t)
        keep &= ~((pos >= start) & (pos < start + width))
    return torch.where(keep, spec, torch.zeros((), dtype=spec.dtype))


class BirdCLEFDataset(Dataset):
    def __init__(self, rows: list[dict], cfg: dict = CONFIG, seed: int = CONFIG["seed"]):
        self.rows, self.cfg, self.seed = rows, cfg, seed
        self.mel = MelSpectrogram(cfg)
        self.epoch = 0

    def __len__(self):
        return len(self.rows)

    def draw_masks(self, rng: np.random.Generator, n_time: int) -> torch.Tensor:
        cfg = self.cfg
        rows = []
        for _ in range(cfg["freq_masks"]):
            rows.append((0, int(rng.integers(0, cfg["n_mels"] - cfg["freq_mask_width"])),
                         int(rng.integers(1, cfg["freq_mask_width"] + 1))))
        for _ in range(cfg["time_masks"]):
            rows.append((1, int(rng.integers(0, n_time - cfg["time_mask_width"])),
                         int(rng.integers(1, cfg["time_mask_width"] + 1))))
        return torch.tensor(rows, dtype=torch.int64)

    def __getitem__(self, i):
        row = self.rows[i]
        rng = np.random.default_rng((self.seed, self.epoch, i))  # reproducible per sample
        clip = random_crop(load_wav(row["path"]), rng)
        n_time = clip.numel() // self.cfg["hop_length"] + 1
        masks = self.draw_masks(rng, n_time)
        mel = self.mel(clip)
        logmel = normalise(to_log(mel))
        spec = stack_channels(logmel, normalise(pcen(mel)), deltas(logmel))
        return spec_augment(spec, masks), row["label"]


class BirdCLEFModel(torch.nn.Module):
    def __init__(self, cfg: dict = CONFIG):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d((4, 4)),
        )
        self.head = torch.nn.Linear(8 * 16, cfg["num_classes"])

    def forward(self, x):
        return self.head(self.features(x).flatten(1))
