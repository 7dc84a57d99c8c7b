"""The "original baseline.py" seed 001 §7.2 imports from: a BirdCLEF-like audio classifier on
synthetic clips (a waveform per row, STFT log-magnitude per sample), small enough for a test."""

import math

import torch

CONFIG = {
    "train_batch_size": 16,
    "num_workers": 0,
    "learning_rate": 1e-3,
    "epochs": 1,
    "sample_rate": 8000,
    "duration": 0.5,
    "n_fft": 256,
    "num_classes": 4,
}

# One row per clip (what a pandas DataFrame row would carry).
df_train = [{"clip_id": i, "label": i % CONFIG["num_classes"]} for i in range(96)]


class BirdCLEFDataset(torch.utils.data.Dataset):
    def __init__(self, df, config):
        self.df = df
        self.config = config

    def __len__(self):
        return len(self.df)

    def load_clip(self, row):
        n = int(self.config["sample_rate"] * self.config["duration"])
        t = torch.arange(n) / self.config["sample_rate"]
        freq = 400.0 * (1 + row["label"]) + 13 * (row["clip_id"] % 7)
        g = torch.Generator().manual_seed(row["clip_id"])
        return torch.sin(2 * math.pi * freq * t) + 0.1 * torch.randn(n, generator=g)

    def spectrogram(self, wave):
        spec = torch.stft(
            wave,
            n_fft=self.config["n_fft"],
            window=torch.hann_window(self.config["n_fft"]),
            return_complex=True,
        ).abs()
        return torch.log1p(spec).unsqueeze(0)

    def __getitem__(self, idx):
        row = self.df[idx]
        return self.spectrogram(self.load_clip(row)), row["label"]


class BirdCLEFModel(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d((8, 8))
        )
        self.head = torch.nn.Linear(8 * 8 * 8, config["num_classes"])

    def forward(self, x):
        return self.head(self.features(x).flatten(1))
