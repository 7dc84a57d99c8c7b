"""Functions of every kind a plan can name, and a small audio-like pipeline, for the migration
tests (a module of its own so plan keys are real "<module>.<qualname>" names, importable by spawned
DataLoader workers)."""

import cv2  # noqa: F401 - module-level, as user code imports it
import numpy as np
import torch
from torch.utils.data import Dataset

N_FFT, HOP, CROP = 64, 16, 480


def scale(x, factor=2.0):
    return x * factor


class Ops:
    def shift(self, x):
        return x + 1

    @staticmethod
    def negate(x):
        return -x

    @classmethod
    def make(cls, n):
        return torch.arange(n, dtype=torch.float32)


class Mel:
    def __call__(self, x):
        return x.square()


mel = Mel()


class Net(torch.nn.Module):
    def forward(self, x):
        return x * 3


net = Net()


def outer():
    def inner(x):
        return x

    return inner


square = lambda x: x * x  # noqa: E731 - the point: lambdas cannot be planned


class Frozen(type):
    """A metaclass that refuses attribute assignment (as some libraries' classes do)."""

    def __setattr__(cls, name, value):
        raise AttributeError(f"{cls.__name__} is frozen")


class Locked(metaclass=Frozen):
    def run(self, x):
        return x


def explode(x):
    raise RuntimeError("no kernel for this device")


# --- a small audio-like pipeline -------------------------------------------------------------

def crop(wave, start):
    return wave[start: start + CROP]


def spectrum(x):
    """|STFT|, works on one signal or on a batch of them (leading dims)."""
    window = torch.hann_window(N_FFT)
    return torch.stft(x, N_FFT, HOP, window=window, return_complex=True).abs()


def normalise(spec):
    """Per-sample standardisation: reduces over the last two dims, so it is batch-safe."""
    mean = spec.mean(dim=(-2, -1), keepdim=True)
    std = spec.std(dim=(-2, -1), keepdim=True)
    return (spec - mean) / (std + 1e-6)


def global_norm(spec):
    """Not batch-safe: divides by the max over everything it is given."""
    return spec / spec.max()


def numpy_features(spec):
    """A per-sample numpy step (ndarray in, ndarray out)."""
    arr = spec.numpy() if isinstance(spec, torch.Tensor) else spec
    return np.log1p(arr).astype(np.float32)


def noisy(spec):
    """A stochastic step: the baseline differs from itself under different seeds."""
    return spec + 0.1 * torch.randn_like(spec)


class WaveDataset(Dataset):
    # The steps are looked up by name at call time, as code that calls module functions does
    # (a function object stored in an attribute is not a binding the migrator rebinds).
    def __init__(self, n=12, length=600, tail=("spectrum", "normalise")):
        self.n, self.length, self.tail = n, length, tail

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(1000 + i)
        wave = torch.randn(self.length, generator=g)
        x = crop(wave, i % 7)
        for step in self.tail:
            x = globals()[step](x)
        return x, i


def test_pipeline_is_deterministic():
    ds = WaveDataset(n=2)
    torch.testing.assert_close(ds[1][0], ds[1][0])
    assert ds[0][0].shape == (N_FFT // 2 + 1, CROP // HOP + 1)


def center(spec):
    """Subtracts the minimum of what it is given: per sample in the baseline, but over the whole
    batch when called on one. A probe batch of identical samples cannot tell the two apart, nor can
    the probe's one sample pushed up (the batch's minimum is then another sample's): verification
    must."""
    return spec - spec.min()


def slow_global_norm(spec):
    """Not batch-safe (so it runs per sample after migration) and slow (sleeps): serial in the main
    process it is slower than in two workers in parallel."""
    import time

    time.sleep(0.01)
    return spec / spec.abs().max()


class RepeatsFirst(WaveDataset):
    """The first ``same`` samples are identical (think silent padding clips), the rest differ."""

    def __init__(self, same=4, **kw):
        super().__init__(**kw)
        self.same = same

    def __getitem__(self, i):
        x, _ = super().__getitem__(0 if i < self.same else i)
        return x, i


def thumbnail(img):
    """numpy/OpenCV code the strategy registry covers."""
    small = cv2.resize(img, (8, 6), interpolation=cv2.INTER_LINEAR)
    return np.subtract(small, np.mean(small))
