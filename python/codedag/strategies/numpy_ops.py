"""numpy calls as torch code: creation, elementwise math, reductions, FFT and shape operations.

numpy's dtype rules are kept where they differ from torch's: creation defaults to float64, the
mean/std/var of integers are float64, reductions take ``axis``/``keepdims``. Creation calls with no
array argument return a tensor on the planned device inside a tensor-path context (that is where
the dispatcher calls them) and an ndarray when called directly.
"""

from __future__ import annotations

import numpy as np
import torch

from .registry import UnsupportedArguments, active_device, as_tensor, register

FLOAT_TOL = "rtol 1e-4 / atol 1e-5 (float32); exact for integers and shape operations"


def _dtype(dtype) -> torch.dtype:
    if dtype is None:
        return torch.float64
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return torch.from_numpy(np.empty(0, dtype=np.dtype(dtype))).dtype
    except TypeError:
        raise UnsupportedArguments(f"dtype {dtype!r}") from None


def _created(t: torch.Tensor) -> object:
    """Creation results: a tensor on the planned device inside a tensor-path context, else numpy."""
    device = active_device()
    return t.to(device) if device is not None else t.numpy()


def _shape(shape) -> tuple:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def _t(x):
    return x if isinstance(x, torch.Tensor) else as_tensor(x)  # the registry's: read-only arrays copied


# --- creation --------------------------------------------------------------------------------

@register("numpy.zeros", tolerance="exact")
def zeros(shape, dtype=float, order="C", *, device=None, like=None):
    return _created(torch.zeros(_shape(shape), dtype=_dtype(dtype)))


@register("numpy.ones", tolerance="exact")
def ones(shape, dtype=None, order="C", *, device=None, like=None):
    return _created(torch.ones(_shape(shape), dtype=_dtype(dtype)))


@register("numpy.full", tolerance="exact")
def full(shape, fill_value, dtype=None, order="C", *, device=None, like=None):
    if dtype is None:
        dtype = np.asarray(fill_value).dtype
    return _created(torch.full(_shape(shape), fill_value, dtype=_dtype(dtype)))


@register("numpy.arange", tolerance="exact")
def arange(start, stop=None, step=1, dtype=None, *, device=None, like=None):
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        dtype = np.result_type(start, stop, step)
    return _created(torch.arange(start, stop, step, dtype=_dtype(dtype)))


@register("numpy.linspace", tolerance=FLOAT_TOL)
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    if retstep or axis != 0 or not endpoint:
        raise UnsupportedArguments("retstep / axis / endpoint=False")
    return _created(torch.linspace(float(start), float(stop), int(num), dtype=torch.float64).to(_dtype(dtype)))


@register("numpy.eye", tolerance="exact")
def eye(N, M=None, k=0, dtype=float, order="C", *, device=None, like=None):
    if k != 0:
        raise UnsupportedArguments("k != 0")
    return _created(torch.eye(int(N), int(M) if M is not None else int(N), dtype=_dtype(dtype)))


@register("numpy.zeros_like", tolerance="exact")
def zeros_like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
    a = _t(a)
    return torch.zeros(_shape(shape) if shape is not None else a.shape, dtype=_dtype(dtype) if dtype else a.dtype,
                       device=a.device)


@register("numpy.ones_like", tolerance="exact")
def ones_like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
    a = _t(a)
    return torch.ones(_shape(shape) if shape is not None else a.shape, dtype=_dtype(dtype) if dtype else a.dtype,
                      device=a.device)


# --- elementwise -----------------------------------------------------------------------------

def _np_dtype(t: torch.Tensor) -> np.dtype:
    return torch.empty(0, dtype=t.dtype).numpy().dtype


def _promote(*xs):
    """numpy's promotion (NEP 50: Python scalars are weak) applied to tensor operands."""
    tensors = [_t(x) if isinstance(x, (torch.Tensor, np.ndarray)) else None for x in xs]
    parts = [_np_dtype(t) if t is not None else x for t, x in zip(tensors, xs, strict=True)]
    target = _dtype(np.result_type(*parts))
    device = next((t.device for t in tensors if t is not None), torch.device("cpu"))
    return [(t if t is not None else torch.as_tensor(x)).to(device=device, dtype=target) for t, x in zip(tensors, xs, strict=True)]


def _float_result(x: torch.Tensor) -> torch.Tensor:
    return x if x.is_floating_point() or x.is_complex() else x.to(torch.float64)


def _unary(name: str, fn, floating: bool = True):
    def impl(x, /, out=None, *, where=True, casting="same_kind", order="K", dtype=None, subok=True):
        if out is not None or where is not True or dtype is not None:
            raise UnsupportedArguments("out / where / dtype")
        t = _t(x)
        return fn(_float_result(t) if floating else t)

    impl.__name__ = name
    register(f"numpy.{name}", tolerance=FLOAT_TOL)(impl)


def _binary(name: str, fn):
    def impl(x1, x2, /, out=None, *, where=True, casting="same_kind", order="K", dtype=None, subok=True):
        if out is not None or where is not True or dtype is not None:
            raise UnsupportedArguments("out / where / dtype")
        a, b = _promote(x1, x2)
        return fn(a, b)

    impl.__name__ = name
    register(f"numpy.{name}", tolerance=FLOAT_TOL)(impl)


for _name, _fn in {"exp": torch.exp, "log": torch.log, "log10": torch.log10, "log1p": torch.log1p,
                   "sqrt": torch.sqrt, "sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh}.items():
    _unary(_name, _fn)
for _name, _fn in {"abs": torch.abs, "absolute": torch.abs, "square": torch.square,
                   "negative": torch.negative}.items():
    _unary(_name, _fn, floating=False)
for _name, _fn in {"add": torch.add, "subtract": torch.subtract, "multiply": torch.multiply,
                   "maximum": torch.maximum, "minimum": torch.minimum, "power": torch.pow}.items():
    _binary(_name, _fn)
_binary("divide", lambda a, b: torch.true_divide(_float_result(a), b))


@register("numpy.clip", tolerance="exact")
def clip(a, a_min=None, a_max=None, out=None, **kwargs):
    if out is not None:
        raise UnsupportedArguments("out")
    kwargs.pop("min", None), kwargs.pop("max", None)
    t = _t(a)
    return torch.clamp(t, min=a_min, max=a_max)


@register("numpy.where", tolerance="exact")
def where(condition, x=None, y=None):
    if x is None or y is None:
        raise UnsupportedArguments("one-argument where")
    a, b = _promote(x, y)
    return torch.where(_t(condition).to(a.device).bool(), a, b)


# --- reductions ------------------------------------------------------------------------------

def _axis(axis):
    if axis is None:
        return None
    return tuple(axis) if isinstance(axis, (tuple, list)) else int(axis)


def _reduce(name: str, fn, floating: bool):
    def impl(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        if out is not None or kwargs.get("where", True) is not True or kwargs.get("initial") is not None:
            raise UnsupportedArguments("out / where / initial")
        t = _t(a)
        if dtype is not None:
            t = t.to(_dtype(dtype))
        elif floating:
            t = _float_result(t)
        elif name == "sum" and t.dtype in (torch.bool, torch.int8, torch.int16, torch.int32, torch.uint8):
            t = t.to(torch.int64)  # numpy sums small integers in the platform integer
        ddof = kwargs.get("ddof", 0)
        return fn(t, _axis(axis), keepdims, ddof)

    impl.__name__ = name
    register(f"numpy.{name}", tolerance=FLOAT_TOL)(impl)


def _dims(t, axis):
    return tuple(range(t.dim())) if axis is None else axis


_reduce("sum", lambda t, ax, kd, _: torch.sum(t, dim=_dims(t, ax), keepdim=kd), False)
_reduce("mean", lambda t, ax, kd, _: torch.mean(t, dim=_dims(t, ax), keepdim=kd), True)
_reduce("std", lambda t, ax, kd, ddof: torch.std(t, dim=_dims(t, ax), keepdim=kd, correction=ddof), True)
_reduce("var", lambda t, ax, kd, ddof: torch.var(t, dim=_dims(t, ax), keepdim=kd, correction=ddof), True)
for _name in ("max", "amax"):
    _reduce(_name, lambda t, ax, kd, _: torch.amax(t, dim=_dims(t, ax), keepdim=kd), False)
for _name in ("min", "amin"):
    _reduce(_name, lambda t, ax, kd, _: torch.amin(t, dim=_dims(t, ax), keepdim=kd), False)


def _arg(name: str, fn):
    def impl(a, axis=None, out=None, *, keepdims=False):
        if out is not None:
            raise UnsupportedArguments("out")
        t = _t(a)
        if axis is None:
            r = fn(t.flatten(), 0)
            return r.reshape((1,) * t.dim()) if keepdims else r
        return fn(t, int(axis), keepdims)

    register(f"numpy.{name}", tolerance="exact")(impl)


_arg("argmax", lambda t, d, kd=False: torch.argmax(t, dim=d, keepdim=kd))
_arg("argmin", lambda t, d, kd=False: torch.argmin(t, dim=d, keepdim=kd))


# --- fft -------------------------------------------------------------------------------------

def _fft(name: str, fn, real_in: bool):
    def impl(a, n=None, axis=-1, norm=None, out=None):
        if out is not None:
            raise UnsupportedArguments("out")
        t = _t(a)
        if real_in and t.is_complex():
            raise UnsupportedArguments("complex input to a real FFT")
        if not (t.is_floating_point() or t.is_complex()):
            t = t.to(torch.float64)
        return fn(t, n=n, dim=int(axis), norm=norm)

    register(f"numpy.fft.{name}", tolerance=FLOAT_TOL)(impl)


_fft("fft", torch.fft.fft, False)
_fft("ifft", torch.fft.ifft, False)
_fft("rfft", torch.fft.rfft, True)
_fft("irfft", torch.fft.irfft, False)


@register("numpy.fft.rfftfreq", tolerance=FLOAT_TOL)
def rfftfreq(n, d=1.0, device=None):
    return _created(torch.fft.rfftfreq(int(n), d=float(d), dtype=torch.float64))


# --- shape -----------------------------------------------------------------------------------

@register("numpy.reshape", tolerance="exact")
def reshape(a, /, shape=None, order="C", *, newshape=None, copy=None):
    if order != "C":
        raise UnsupportedArguments("order")
    return _t(a).reshape(_shape(shape if shape is not None else newshape))


@register("numpy.transpose", tolerance="exact")
def transpose(a, axes=None):
    t = _t(a)
    return t.permute(*(tuple(axes) if axes is not None else tuple(reversed(range(t.dim())))))


@register("numpy.expand_dims", tolerance="exact")
def expand_dims(a, axis):
    t = _t(a)
    for ax in sorted(axis if isinstance(axis, (tuple, list)) else [axis]):
        t = t.unsqueeze(ax if ax >= 0 else ax + t.dim() + 1)
    return t


@register("numpy.squeeze", tolerance="exact")
def squeeze(a, axis=None):
    t = _t(a)
    return t.squeeze() if axis is None else t.squeeze(axis)


@register("numpy.concatenate", tolerance="exact")
def concatenate(arrays, /, axis=0, out=None, *, dtype=None, casting="same_kind"):
    if out is not None or dtype is not None or axis is None:
        raise UnsupportedArguments("out / dtype / axis=None")
    return torch.cat(_promote(*arrays), dim=int(axis))


@register("numpy.stack", tolerance="exact")
def stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    if out is not None or dtype is not None:
        raise UnsupportedArguments("out / dtype")
    return torch.stack(_promote(*arrays), dim=int(axis))


@register("numpy.flip", tolerance="exact")
def flip(m, axis=None):
    t = _t(m)
    dims = list(range(t.dim())) if axis is None else ([axis] if isinstance(axis, int) else list(axis))
    return torch.flip(t, dims=dims)


@register("numpy.pad", tolerance="exact")
def pad(array, pad_width, mode="constant", **kwargs):
    if mode != "constant" or kwargs.get("constant_values", 0) != 0:
        raise UnsupportedArguments("only constant zero padding")
    t = _t(array)
    pw = np.broadcast_to(np.asarray(pad_width), (t.dim(), 2))
    flat = [int(v) for pair in reversed(pw.tolist()) for v in pair]
    return torch.nn.functional.pad(t, flat)
