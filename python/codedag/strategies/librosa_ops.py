"""librosa calls as torch code: stft, melspectrogram, power_to_db, amplitude_to_db, mfcc, resample.

The mel filterbank is a constant of its parameters; it is built once by librosa.filters.mel on the
CPU (cached) and moved to the device, so the per-sample work is all torch.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .registry import UnsupportedArguments, register

TOL = "rtol 1e-4 / atol 1e-5 relative to the signal's scale (float32 FFTs)"


def _window(window, n: int, dtype, device) -> torch.Tensor:
    if window != "hann" and window != ("hann",):
        raise UnsupportedArguments(f"window {window!r}")
    return torch.hann_window(n, periodic=True, dtype=dtype, device=device)


def _real_dtype(y: torch.Tensor) -> torch.dtype:
    return torch.float64 if y.dtype == torch.float64 else torch.float32


@register("librosa.stft", tolerance=TOL)
def stft(y, *, n_fft=2048, hop_length=None, win_length=None, window="hann", center=True, dtype=None,
         pad_mode="constant", out=None):
    """librosa.stft (hann window, constant or reflect centre padding); leading dims are batch dims."""
    if out is not None or pad_mode not in ("constant", "reflect"):
        raise UnsupportedArguments("out / pad_mode")
    win_length = win_length or n_fft
    hop_length = hop_length or win_length // 4
    rd = _real_dtype(y)
    x = y.to(rd)
    lead = x.shape[:-1]
    x = x.reshape(-1, x.shape[-1])
    win = _window(window, win_length, rd, x.device)
    if win_length < n_fft:
        left = (n_fft - win_length) // 2
        win = torch.nn.functional.pad(win, (left, n_fft - win_length - left))
    if center:
        if pad_mode == "reflect" and x.shape[-1] <= n_fft // 2:
            raise UnsupportedArguments("signal too short to reflect-pad")
        x = torch.nn.functional.pad(x.unsqueeze(1), (n_fft // 2, n_fft // 2), mode=pad_mode).squeeze(1)
    if x.shape[-1] < n_fft:
        raise UnsupportedArguments("signal shorter than n_fft")
    spec = torch.stft(x, n_fft=n_fft, hop_length=hop_length, win_length=n_fft, window=win, center=False,
                      return_complex=True)
    spec = spec.reshape(*lead, *spec.shape[-2:])
    if dtype is not None:
        spec = spec.to(torch.from_numpy(np.empty(0, dtype=dtype)).dtype)
    return spec


@functools.lru_cache(maxsize=32)
def _mel_basis_np(sr, n_fft, n_mels, fmin, fmax, htk, norm, dtype_name):
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm,
                               dtype=np.dtype(dtype_name))


def _mel_basis(sr, n_fft, n_mels, fmin, fmax, htk, norm, dtype, device) -> torch.Tensor:
    name = "float64" if dtype == torch.float64 else "float32"
    return torch.from_numpy(_mel_basis_np(sr, n_fft, n_mels, fmin, fmax, htk, norm, name)).to(device)


@register("librosa.feature.melspectrogram", tolerance=TOL)
def melspectrogram(*, y=None, sr=22050, S=None, n_fft=2048, hop_length=512, win_length=None, window="hann",
                   center=True, pad_mode="constant", power=2.0, **kwargs):
    """librosa.feature.melspectrogram from a signal ``y`` or a spectrogram ``S``."""
    mel_args = {"n_mels": 128, "fmin": 0.0, "fmax": None, "htk": False, "norm": "slaney"}
    unknown = set(kwargs) - set(mel_args) - {"dtype"}
    if unknown:
        raise UnsupportedArguments(f"arguments {sorted(unknown)}")
    mel_args.update({k: v for k, v in kwargs.items() if k in mel_args})
    if S is None:
        spec = stft.__wrapped__(y, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
                                center=center, pad_mode=pad_mode)
        S = spec.abs() ** power
        rd = _real_dtype(y)
    else:
        n_fft = 2 * (S.shape[-2] - 1)
        rd = S.dtype
    basis = _mel_basis(sr, n_fft, mel_args["n_mels"], mel_args["fmin"], mel_args["fmax"], mel_args["htk"],
                       mel_args["norm"], rd, S.device)
    return torch.matmul(basis, S.to(rd))


def _ref_value(ref, S: torch.Tensor):
    if callable(ref):
        if ref in (np.max, np.amax):
            return S.amax()
        raise UnsupportedArguments("ref callables other than np.max")
    return torch.as_tensor(ref, dtype=S.dtype, device=S.device).abs()


@register("librosa.power_to_db", tolerance=TOL)
def power_to_db(S, *, ref=1.0, amin=1e-10, top_db=80.0):
    """librosa.power_to_db; ``ref`` a number or np.max."""
    if S.is_complex():
        S = S.abs()
    S = S if S.is_floating_point() else S.to(torch.float64)
    amin_t = torch.as_tensor(amin, dtype=S.dtype, device=S.device)
    ref_value = _ref_value(ref, S)
    log_spec = 10.0 * torch.log10(torch.maximum(amin_t, S))
    log_spec = log_spec - 10.0 * torch.log10(torch.maximum(amin_t, ref_value))
    if top_db is not None:
        if top_db < 0:
            raise UnsupportedArguments("negative top_db")
        log_spec = torch.maximum(log_spec, log_spec.amax() - top_db)
    return log_spec


@register("librosa.amplitude_to_db", tolerance=TOL)
def amplitude_to_db(S, *, ref=1.0, amin=1e-5, top_db=80.0):
    """librosa.amplitude_to_db = power_to_db(|S|^2, ref^2, amin^2)."""
    magnitude = S.abs() if S.is_complex() else S.abs()
    magnitude = magnitude if magnitude.is_floating_point() else magnitude.to(torch.float64)
    ref_value = magnitude.amax() if callable(ref) and ref in (np.max, np.amax) else ref
    if callable(ref_value):
        raise UnsupportedArguments("ref callables other than np.max")
    power = magnitude.square()
    ref_pow = torch.as_tensor(ref_value, dtype=power.dtype, device=power.device).abs().square()
    return power_to_db.__wrapped__(power, ref=ref_pow, amin=amin**2, top_db=top_db)


@functools.lru_cache(maxsize=16)
def _dct_matrix(n: int, dtype_name: str) -> torch.Tensor:
    """Orthonormal DCT-II matrix (scipy.fft.dct(type=2, norm='ortho'))."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return torch.from_numpy(m.astype(dtype_name))


@register("librosa.feature.mfcc", tolerance=TOL)
def mfcc(*, y=None, sr=22050, S=None, n_mfcc=20, dct_type=2, norm="ortho", lifter=0, **kwargs):
    """librosa.feature.mfcc (DCT-II, ortho, lifter 0) from a signal or a log-power mel spectrogram."""
    if dct_type != 2 or norm != "ortho" or lifter != 0:
        raise UnsupportedArguments("dct_type / norm / lifter")
    if S is None:
        S = power_to_db.__wrapped__(melspectrogram.__wrapped__(y=y, sr=sr, **kwargs))
    name = "float64" if S.dtype == torch.float64 else "float32"
    basis = _dct_matrix(S.shape[-2], name).to(S.device)[:n_mfcc]
    return torch.matmul(basis, S)


@register("librosa.resample", tolerance=TOL)
def resample(y, *, orig_sr, target_sr, res_type="soxr_hq", fix=True, scale=False, axis=-1, **kwargs):
    """librosa.resample with res_type 'fft'/'scipy' (FFT resampling, as scipy.signal.resample)."""
    if res_type not in ("fft", "scipy"):
        raise UnsupportedArguments(f"res_type {res_type!r} (only 'fft'/'scipy' are reproduced exactly)")
    if orig_sr == target_sr:
        return y
    ratio = float(target_sr) / orig_sr
    n_in = y.shape[axis]
    n_out = int(np.ceil(n_in * ratio))
    x = y.movedim(axis, -1)
    rd = _real_dtype(x)
    # scipy.signal.resample on a real signal: keep the one-sided spectrum up to the smaller
    # Nyquist bin; an even-length kept band's unpaired bin is doubled (down) or halved (up).
    m = min(n_in, n_out)
    X = torch.fft.rfft(x.to(rd), dim=-1)[..., : m // 2 + 1].clone()
    if m % 2 == 0 and n_out != n_in:
        X[..., m // 2] *= 2.0 if n_out < n_in else 0.5
    out = torch.fft.irfft(X / (n_in / n_out), n=n_out, dim=-1)
    if scale:
        out = out / np.sqrt(ratio)
    return out.to(x.dtype).movedim(-1, axis)
