"""Every OpenCV entry of the strategy registry against OpenCV itself, on the CPU."""

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from codedag import strategies  # noqa: E402


def strategy(name):
    return strategies.get(name).impl


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def smooth_image(rng, h=37, w=53, c=3, dtype=np.uint8):
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([np.sin(xx / 7.0 + k) * np.cos(yy / 5.0 - k) for k in range(c)], axis=-1)
    img = (base + 1) * 127.5 + rng.normal(0, 3, size=base.shape)
    if dtype == np.uint8:
        return np.clip(np.round(img), 0, 255).astype(np.uint8)
    return (img / 255.0).astype(dtype)


def assert_image_close(got, want):
    assert isinstance(got, np.ndarray), type(got)
    assert got.shape == want.shape and got.dtype == want.dtype
    if want.dtype == np.uint8:
        assert np.max(np.abs(got.astype(int) - want.astype(int))) <= 1
    else:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("dsize,interp", [((29, 19), cv2.INTER_LINEAR), ((80, 60), cv2.INTER_LINEAR),
                                           ((20, 14), cv2.INTER_NEAREST), ((106, 74), cv2.INTER_NEAREST)])
def test_resize(rng, dtype, dsize, interp):
    img = smooth_image(rng, dtype=dtype)
    assert_image_close(strategy("cv2.resize")(img, dsize, interpolation=interp), cv2.resize(img, dsize, interpolation=interp))


def test_resize_positional_fx_fy_and_area(rng):
    img = smooth_image(rng, 40, 60)
    assert_image_close(strategy("cv2.resize")(img, None, None, 0.5, 0.5), cv2.resize(img, None, None, 0.5, 0.5))
    assert_image_close(strategy("cv2.resize")(img, (30, 20), interpolation=cv2.INTER_AREA),
                       cv2.resize(img, (30, 20), interpolation=cv2.INTER_AREA))


def test_resize_unsupported_interpolation_is_refused(rng):
    with pytest.raises(strategies.UnsupportedArguments):
        strategy("cv2.resize")(smooth_image(rng), (10, 10), interpolation=cv2.INTER_LANCZOS4)


@pytest.mark.parametrize("code", [cv2.COLOR_BGR2RGB, cv2.COLOR_RGB2BGR, cv2.COLOR_BGR2GRAY, cv2.COLOR_RGB2GRAY,
                                  cv2.COLOR_BGR2BGRA])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_cvtcolor(rng, code, dtype):
    img = smooth_image(rng, dtype=dtype)
    assert_image_close(strategy("cv2.cvtColor")(img, code), cv2.cvtColor(img, code))


def test_cvtcolor_gray_to_bgr_and_bgra_to_bgr(rng):
    gray = smooth_image(rng, c=1)[..., 0]
    assert_image_close(strategy("cv2.cvtColor")(gray, cv2.COLOR_GRAY2BGR), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    bgra = cv2.cvtColor(smooth_image(rng), cv2.COLOR_BGR2BGRA)
    assert_image_close(strategy("cv2.cvtColor")(bgra, cv2.COLOR_BGRA2BGR), cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR))


@pytest.mark.parametrize("code", [0, 1, -1])
def test_flip(rng, code):
    img = smooth_image(rng)
    np.testing.assert_array_equal(strategy("cv2.flip")(img, code), cv2.flip(img, code))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("ksize,sigma", [((5, 5), 1.2), ((3, 7), 0), ((9, 3), 2.5)])
def test_gaussian_blur(rng, dtype, ksize, sigma):
    img = smooth_image(rng, dtype=dtype)
    assert_image_close(strategy("cv2.GaussianBlur")(img, ksize, sigma), cv2.GaussianBlur(img, ksize, sigma))


def test_gaussian_blur_gray_keyword_args(rng):
    img = smooth_image(rng, c=1)[..., 0]
    assert_image_close(strategy("cv2.GaussianBlur")(img, ksize=(5, 5), sigmaX=1.0, sigmaY=2.0),
                       cv2.GaussianBlur(img, ksize=(5, 5), sigmaX=1.0, sigmaY=2.0))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("flags", [cv2.INTER_LINEAR, cv2.INTER_NEAREST, cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP])
def test_warp_affine(rng, dtype, flags):
    img = smooth_image(rng, dtype=dtype)
    M = cv2.getRotationMatrix2D((20.3, 17.1), 23.0, 0.9)
    want = cv2.warpAffine(img, M, (50, 40), flags=flags)
    got = strategy("cv2.warpAffine")(img, M, (50, 40), flags=flags)
    if dtype == np.uint8:
        assert np.max(np.abs(got.astype(int) - want.astype(int))) <= 1
    else:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("border", [cv2.BORDER_CONSTANT, cv2.BORDER_REPLICATE, cv2.BORDER_REFLECT,
                                    cv2.BORDER_WRAP, cv2.BORDER_REFLECT_101])
def test_copy_make_border(rng, border):
    img = smooth_image(rng, 9, 11)
    want = cv2.copyMakeBorder(img, 3, 5, 7, 2, border, value=(10, 20, 30))
    np.testing.assert_array_equal(strategy("cv2.copyMakeBorder")(img, 3, 5, 7, 2, border, value=(10, 20, 30)), want)


@pytest.mark.parametrize("norm", ["minmax", "l2", "l1", "inf"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_normalize(rng, norm, dtype):
    img = smooth_image(rng, dtype=dtype)
    args = {"minmax": (0, 255 if dtype == np.uint8 else 1, cv2.NORM_MINMAX), "l2": (100, 0, cv2.NORM_L2),
            "l1": (5000, 0, cv2.NORM_L1), "inf": (200, 0, cv2.NORM_INF)}[norm]
    assert_image_close(strategy("cv2.normalize")(img, None, *args), cv2.normalize(img, None, *args))


@pytest.mark.parametrize("kind", [cv2.THRESH_BINARY, cv2.THRESH_BINARY_INV, cv2.THRESH_TRUNC, cv2.THRESH_TOZERO,
                                  cv2.THRESH_TOZERO_INV])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_threshold(rng, kind, dtype):
    img = smooth_image(rng, dtype=dtype)
    t = 100.7 if dtype == np.uint8 else 0.4
    want_ret, want = cv2.threshold(img, t, 200 if dtype == np.uint8 else 0.9, kind)
    got_ret, got = strategy("cv2.threshold")(img, t, 200 if dtype == np.uint8 else 0.9, kind)
    assert got_ret == pytest.approx(want_ret)
    np.testing.assert_array_equal(got, want)


def test_covered_functions_names_the_live_cv2_callables():
    covered = strategies.covered_functions()
    assert covered[cv2.resize] == "cv2.resize"
    for name in ("cvtColor", "flip", "GaussianBlur", "warpAffine", "copyMakeBorder", "normalize", "threshold"):
        assert covered[getattr(cv2, name)] == f"cv2.{name}"


def test_strategies_keep_tensors_on_their_device_and_type():
    import torch

    img = torch.rand(12, 10, 3)
    out = strategy("cv2.flip")(img, 1)
    assert isinstance(out, torch.Tensor) and out.device == img.device
    torch.testing.assert_close(out, torch.flip(img, dims=[1]))
