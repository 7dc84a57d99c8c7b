"""PIL and torchvision-functional entries of the strategy registry against PIL/numpy references.

torchvision cannot be installed next to torch 2.13.0+cpu here (its only wheels are built against
another torch and fail to import), so the torchvision entries are checked against what torchvision
documents them to equal: PIL's result for PIL input, numpy's for the arithmetic ones."""

import numpy as np
import pytest
import torch

Image = pytest.importorskip("PIL.Image")

from codedag import strategies  # noqa: E402


def run(name, *args, **kwargs):
    return strategies.get(name).impl(*args, **kwargs)


@pytest.fixture
def rgb():
    yy, xx = np.mgrid[0:45, 0:62]
    rng = np.random.default_rng(4)
    base = np.stack([np.sin(xx / 6.0 + k) * np.cos(yy / 4.0 - k) for k in range(3)], axis=-1)
    arr = np.clip(np.round((base + 1) * 127.5 + rng.normal(0, 4, base.shape)), 0, 255).astype(np.uint8)
    return Image.fromarray(arr, mode="RGB")


def same_image(got, want, tol=0):
    assert isinstance(got, Image.Image) and got.mode == want.mode and got.size == want.size
    diff = np.abs(np.asarray(got).astype(int) - np.asarray(want).astype(int))
    assert diff.max() <= tol, f"max difference {diff.max()}"


@pytest.mark.parametrize("size", [(31, 22), (90, 70), (20, 60)])
@pytest.mark.parametrize("resample", [Image.Resampling.NEAREST, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC])
def test_pil_resize(rgb, size, resample):
    tol = 0 if resample == Image.Resampling.NEAREST else 1
    same_image(run("PIL.Image.Image.resize", rgb, size, resample), rgb.resize(size, resample), tol)


def test_pil_resize_default_filter_and_gray(rgb):
    same_image(run("PIL.Image.Image.resize", rgb, (40, 30)), rgb.resize((40, 30)), 1)
    gray = rgb.convert("L")
    same_image(run("PIL.Image.Image.resize", gray, size=(25, 50), resample=Image.Resampling.BILINEAR),
               gray.resize(size=(25, 50), resample=Image.Resampling.BILINEAR), 1)


@pytest.mark.parametrize("box", [(5, 7, 40, 30), (0, 0, 62, 45), (-4, -3, 20, 50)])
def test_pil_crop(rgb, box):
    same_image(run("PIL.Image.Image.crop", rgb, box), rgb.crop(box))


@pytest.mark.parametrize("method", list(Image.Transpose))
def test_pil_transpose(rgb, method):
    same_image(run("PIL.Image.Image.transpose", rgb, method), rgb.transpose(method))


@pytest.mark.parametrize("angle", [90, 180, 33.0, -17.5, 270])
def test_pil_rotate_nearest(rgb, angle):
    same_image(run("PIL.Image.Image.rotate", rgb, angle), rgb.rotate(angle))


def test_pil_rotate_with_center_and_fill(rgb):
    same_image(run("PIL.Image.Image.rotate", rgb, 25, center=(10, 12), fillcolor=(9, 8, 7)),
               rgb.rotate(25, center=(10, 12), fillcolor=(9, 8, 7)))


def chw(img):
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)


def test_tv_resize_tensor_matches_pil_and_shorter_edge_rule(rgb):
    got = run("torchvision.transforms.functional.resize", chw(rgb), [30, 41], "bilinear")
    want = chw(rgb.resize((41, 30), Image.Resampling.BILINEAR))
    assert (got.int() - want.int()).abs().max() <= 1
    short = run("torchvision.transforms.functional.resize", chw(rgb), 30)
    assert tuple(short.shape) == (3, 30, 41)  # 45x62 -> shorter edge 30, longer int(30*62/45)
    pil = run("torchvision.transforms.functional.resize", rgb, 30, "bicubic")
    same_image(pil, rgb.resize((41, 30), Image.Resampling.BICUBIC), 1)


def test_tv_crop_flips_rotate(rgb):
    t = chw(rgb)
    torch.testing.assert_close(run("torchvision.transforms.functional.crop", t, 5, 7, 20, 30),
                               chw(rgb.crop((7, 5, 37, 25))))
    torch.testing.assert_close(run("torchvision.transforms.functional.crop", t, -2, 50, 10, 20),
                               chw(rgb.crop((50, -2, 70, 8))))
    torch.testing.assert_close(run("torchvision.transforms.functional.hflip", t),
                               chw(rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    torch.testing.assert_close(run("torchvision.transforms.functional.vflip", t),
                               chw(rgb.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))
    torch.testing.assert_close(run("torchvision.transforms.functional.rotate", t, 33.0), chw(rgb.rotate(33.0)))
    same_image(run("torchvision.transforms.functional.hflip", rgb), rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT))


def test_tv_to_tensor_and_normalize(rgb):
    want = np.asarray(rgb).astype(np.float32).transpose(2, 0, 1) / 255.0
    got = run("torchvision.transforms.functional.to_tensor", rgb)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(run("torchvision.transforms.functional.to_tensor", np.asarray(rgb)).numpy(), want)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    normed = run("torchvision.transforms.functional.normalize", got, mean, std)
    ref = (want - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(normed.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_tensor_entries_accept_a_leading_batch_dimension(rgb):
    batch = torch.stack([chw(rgb), chw(rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT))])
    out = run("torchvision.transforms.functional.resize", batch, [20, 30])
    for i in range(2):
        torch.testing.assert_close(out[i], run("torchvision.transforms.functional.resize", batch[i], [20, 30]))


def test_covered_functions_has_pil_methods():
    covered = strategies.covered_functions()
    assert covered[Image.Image.resize] == "PIL.Image.Image.resize"
    assert covered[Image.Image.rotate] == "PIL.Image.Image.rotate"
