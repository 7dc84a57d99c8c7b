"""Every numpy entry of the strategy registry against numpy itself, on the CPU: positional and
keyword arguments, dtypes, and numpy-in -> numpy-out."""

import numpy as np
import pytest
import torch

from codedag import strategies


def run(name, *args, **kwargs):
    return strategies.get(name).impl(*args, **kwargs)


def check(got, want, exact=False):
    assert isinstance(got, np.ndarray), f"expected an ndarray back, got {type(got).__name__}"
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.fixture
def a():
    return np.random.default_rng(1).normal(size=(4, 5, 6)).astype(np.float32)


@pytest.fixture
def ints():
    return np.random.default_rng(2).integers(-50, 50, size=(3, 7)).astype(np.int32)


CREATION = [
    ("numpy.zeros", ((3, 4),), {}), ("numpy.zeros", (5,), {"dtype": np.float32}),
    ("numpy.ones", ((2, 3),), {"dtype": np.int64}), ("numpy.full", ((2, 2), 7.5), {}),
    ("numpy.full", ((3,), 4), {"dtype": np.uint8}), ("numpy.arange", (10,), {}),
    ("numpy.arange", (2, 11, 3), {"dtype": np.float32}), ("numpy.linspace", (0, 1, 7), {}),
    ("numpy.eye", (4,), {}), ("numpy.eye", (3, 5), {"dtype": np.float32}),
]


@pytest.mark.parametrize("name,args,kwargs", CREATION)
def test_creation(name, args, kwargs):
    fn = getattr(np, name.split(".")[-1])
    check(run(name, *args, **kwargs), fn(*args, **kwargs), exact=name != "numpy.linspace")


def test_creation_inside_a_planned_context_gives_a_tensor_on_its_device():
    with strategies.scope("cpu"):
        out = run("numpy.zeros", (2, 3), np.float32)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (2, 3)


@pytest.mark.parametrize("name", ["zeros_like", "ones_like"])
def test_like(a, name):
    check(run(f"numpy.{name}", a), getattr(np, name)(a), exact=True)
    check(run(f"numpy.{name}", a, dtype=np.int16), getattr(np, name)(a, dtype=np.int16), exact=True)


@pytest.mark.parametrize("name", ["exp", "log1p", "sqrt", "sin", "cos", "tanh", "abs", "absolute", "square",
                                  "negative"])
def test_unary(a, name):
    x = np.abs(a) if name in ("sqrt", "log1p") else a
    check(run(f"numpy.{name}", x), getattr(np, name)(x))


@pytest.mark.parametrize("name", ["log", "log10"])
def test_logs(a, name):
    check(run(f"numpy.{name}", np.abs(a) + 0.1), getattr(np, name)(np.abs(a) + 0.1))


def test_unary_of_integers_is_float64_like_numpy(ints):
    check(run("numpy.exp", ints / 10), np.exp(ints / 10))
    check(run("numpy.sqrt", np.abs(ints)), np.sqrt(np.abs(ints)))
    check(run("numpy.abs", ints), np.abs(ints), exact=True)


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide", "maximum", "minimum", "power"])
def test_binary(a, name):
    b = np.abs(a[::-1]) + 0.5
    x = np.abs(a) if name == "power" else a
    check(run(f"numpy.{name}", x, b), getattr(np, name)(x, b))
    check(run(f"numpy.{name}", x, 2.0), getattr(np, name)(x, 2.0))


def test_binary_promotion_follows_numpy(ints, a):
    check(run("numpy.add", ints, ints.astype(np.float32)), np.add(ints, ints.astype(np.float32)))
    check(run("numpy.divide", ints, 4), np.divide(ints, 4))
    check(run("numpy.multiply", ints, 3), np.multiply(ints, 3), exact=True)


def test_clip_and_where(a):
    check(run("numpy.clip", a, -0.5, 0.5), np.clip(a, -0.5, 0.5), exact=True)
    check(run("numpy.clip", a, a_min=None, a_max=0.1), np.clip(a, None, 0.1), exact=True)
    check(run("numpy.where", a > 0, a, 0.0), np.where(a > 0, a, 0.0), exact=True)


@pytest.mark.parametrize("name", ["sum", "mean", "std", "var", "max", "min", "amax", "amin"])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), ((0, 2), True), (-1, True)])
def test_reductions(a, name, axis, keepdims):
    want = getattr(np, name)(a, axis=axis, keepdims=keepdims)
    got = run(f"numpy.{name}", a, axis=axis, keepdims=keepdims)
    check(np.asarray(got), np.asarray(want))


def test_reductions_of_integers_and_ddof(ints):
    check(np.asarray(run("numpy.mean", ints)), np.asarray(np.mean(ints)))
    check(np.asarray(run("numpy.sum", ints, 0)), np.sum(ints, 0), exact=True)
    check(np.asarray(run("numpy.std", ints, axis=1, ddof=1)), np.std(ints, axis=1, ddof=1))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_reductions(a, name):
    check(np.asarray(run(f"numpy.{name}", a)), np.asarray(getattr(np, name)(a)), exact=True)
    check(run(f"numpy.{name}", a, axis=1), getattr(np, name)(a, axis=1), exact=True)


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft"])
@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
def test_fft(a, name, norm):
    check(run(f"numpy.fft.{name}", a, norm=norm), getattr(np.fft, name)(a, norm=norm))
    check(run(f"numpy.fft.{name}", a, 8, 1), getattr(np.fft, name)(a, 8, 1))


def test_irfft_and_rfftfreq(a):
    spec = np.fft.rfft(a.astype(np.float64))
    check(run("numpy.fft.irfft", spec, n=6), np.fft.irfft(spec, n=6))
    check(run("numpy.fft.rfftfreq", 16, 0.5), np.fft.rfftfreq(16, 0.5))


def test_shape_operations(a):
    check(run("numpy.reshape", a, (20, 6)), np.reshape(a, (20, 6)), exact=True)
    check(run("numpy.transpose", a), np.transpose(a), exact=True)
    check(run("numpy.transpose", a, (2, 0, 1)), np.transpose(a, (2, 0, 1)), exact=True)
    check(run("numpy.expand_dims", a, 1), np.expand_dims(a, 1), exact=True)
    check(run("numpy.expand_dims", a, axis=(0, -1)), np.expand_dims(a, axis=(0, -1)), exact=True)
    check(run("numpy.squeeze", a[:, :1]), np.squeeze(a[:, :1]), exact=True)
    check(run("numpy.concatenate", [a, a * 2], axis=1), np.concatenate([a, a * 2], axis=1), exact=True)
    check(run("numpy.stack", (a, a), -1), np.stack((a, a), -1), exact=True)
    check(run("numpy.flip", a, 2), np.flip(a, 2), exact=True)
    check(run("numpy.flip", a), np.flip(a), exact=True)
    check(run("numpy.pad", a, ((1, 2), (0, 0), (3, 1))), np.pad(a, ((1, 2), (0, 0), (3, 1))), exact=True)
    check(run("numpy.pad", a, 2), np.pad(a, 2), exact=True)


def test_unsupported_arguments_are_refused_not_approximated(a):
    with pytest.raises(strategies.UnsupportedArguments):
        run("numpy.pad", a, 1, mode="reflect")
    with pytest.raises(strategies.UnsupportedArguments):
        run("numpy.sum", a, out=np.empty(()))


def test_covered_functions_names_numpy_callables():
    covered = strategies.covered_functions()
    assert covered[np.fft.rfft] == "numpy.fft.rfft"
    assert covered[np.mean] == "numpy.mean"
    assert covered[np.zeros] == "numpy.zeros"
