"""Every librosa entry of the strategy registry against librosa itself, on the CPU."""

import numpy as np
import pytest
import torch

librosa = pytest.importorskip("librosa")

from codedag import strategies  # noqa: E402


def run(name, *args, **kwargs):
    return strategies.get(name).impl(*args, **kwargs)


def close(got, want, rtol=1e-4):
    assert isinstance(got, np.ndarray), type(got)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype, want.dtype)
    scale = float(np.max(np.abs(want))) or 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-5 * scale)


@pytest.fixture(scope="module")
def y():
    t = np.arange(8000) / 8000.0
    rng = np.random.default_rng(3)
    return (0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1250 * t * (1 + t))
            + 0.05 * rng.normal(size=t.size)).astype(np.float32)


@pytest.mark.parametrize("kwargs", [{}, {"n_fft": 512, "hop_length": 128}, {"n_fft": 400, "win_length": 256},
                                    {"n_fft": 256, "center": False}, {"n_fft": 256, "pad_mode": "reflect"}])
def test_stft(y, kwargs):
    close(run("librosa.stft", y, **kwargs), librosa.stft(y, **kwargs))


def test_stft_float64(y):
    y64 = y.astype(np.float64)
    close(run("librosa.stft", y64, n_fft=512), librosa.stft(y64, n_fft=512))


@pytest.mark.parametrize("kwargs", [{"sr": 8000}, {"sr": 8000, "n_fft": 512, "hop_length": 160, "n_mels": 40},
                                    {"sr": 8000, "n_fft": 256, "n_mels": 32, "fmin": 50, "fmax": 3500, "power": 1.0},
                                    {"sr": 8000, "n_fft": 256, "n_mels": 32, "htk": True, "norm": None}])
def test_melspectrogram(y, kwargs):
    close(run("librosa.feature.melspectrogram", y=y, **kwargs), librosa.feature.melspectrogram(y=y, **kwargs))


def test_melspectrogram_from_spectrogram(y):
    S = np.abs(librosa.stft(y, n_fft=512)) ** 2
    close(run("librosa.feature.melspectrogram", S=S, sr=8000, n_mels=20),
          librosa.feature.melspectrogram(S=S, sr=8000, n_mels=20))


@pytest.mark.parametrize("kwargs", [{}, {"ref": np.max}, {"ref": 2.0, "amin": 1e-6, "top_db": 60.0},
                                    {"top_db": None}])
def test_power_to_db(y, kwargs):
    S = librosa.feature.melspectrogram(y=y, sr=8000, n_fft=512, n_mels=40)
    close(run("librosa.power_to_db", S, **kwargs), librosa.power_to_db(S, **kwargs))


@pytest.mark.parametrize("kwargs", [{}, {"ref": np.max}, {"ref": 0.5, "top_db": 40.0}])
def test_amplitude_to_db(y, kwargs):
    S = np.abs(librosa.stft(y, n_fft=512))
    close(run("librosa.amplitude_to_db", S, **kwargs), librosa.amplitude_to_db(S, **kwargs))


def test_amplitude_to_db_of_complex_input(y):
    D = librosa.stft(y, n_fft=256)
    close(run("librosa.amplitude_to_db", D, ref=np.max), librosa.amplitude_to_db(D, ref=np.max))


@pytest.mark.parametrize("kwargs", [{"sr": 8000}, {"sr": 8000, "n_mfcc": 13, "n_fft": 512, "n_mels": 40}])
def test_mfcc(y, kwargs):
    close(run("librosa.feature.mfcc", y=y, **kwargs), librosa.feature.mfcc(y=y, **kwargs))


def test_mfcc_from_log_mel(y):
    S = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=8000, n_mels=30))
    close(run("librosa.feature.mfcc", S=S, n_mfcc=12), librosa.feature.mfcc(S=S, n_mfcc=12))


@pytest.mark.parametrize("orig,target", [(8000, 4000), (8000, 6000), (8000, 11025), (8000, 16000), (8000, 8000)])
def test_resample_fft(y, orig, target):
    for res_type in ("fft", "scipy"):
        close(run("librosa.resample", y, orig_sr=orig, target_sr=target, res_type=res_type),
              librosa.resample(y, orig_sr=orig, target_sr=target, res_type=res_type))


def test_resample_odd_length_and_scale(y):
    close(run("librosa.resample", y[:7999], orig_sr=8000, target_sr=5000, res_type="fft", scale=True),
          librosa.resample(y[:7999], orig_sr=8000, target_sr=5000, res_type="fft", scale=True))


def test_resample_default_soxr_is_left_to_librosa(y):
    with pytest.raises(strategies.UnsupportedArguments):
        run("librosa.resample", y, orig_sr=8000, target_sr=4000)


def test_batched_signals_give_per_signal_results(y):
    batch = torch.from_numpy(np.stack([y, y[::-1].copy(), 0.5 * y]))
    got = run("librosa.feature.melspectrogram", y=batch, sr=8000, n_fft=512, n_mels=40)
    for i in range(3):
        want = librosa.feature.melspectrogram(y=batch[i].numpy(), sr=8000, n_fft=512, n_mels=40)
        np.testing.assert_allclose(got[i].numpy(), want, rtol=1e-4, atol=1e-5 * float(np.abs(want).max()))


def test_covered_functions_names_librosa_callables():
    covered = strategies.covered_functions()
    assert covered[librosa.stft] == "librosa.stft"
    assert covered[librosa.feature.melspectrogram] == "librosa.feature.melspectrogram"
