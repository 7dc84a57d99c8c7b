"""PIL.Image methods and torchvision.transforms.functional calls as torch code.

PIL images are converted to HWC uint8 tensors, processed, and handed back as PIL images of the same
mode (a PIL image cannot live on a GPU); tensors (CHW, optionally with leading batch dims) stay
tensors on their device, which is what a GPU context works with. torchvision is optional: its
entries are registered whether or not it is installed and are tested against PIL/numpy references.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .registry import UnsupportedArguments, register

NEAREST, BOX, BILINEAR, HAMMING, BICUBIC, LANCZOS = 0, 4, 2, 5, 3, 1
FLIP_LEFT_RIGHT, FLIP_TOP_BOTTOM, ROTATE_90, ROTATE_180, ROTATE_270, TRANSPOSE, TRANSVERSE = range(7)
RESAMPLE_TOL = "uint8: within 1 intensity level of PIL (antialiased separable filters, rounding)"


def _is_pil(x) -> bool:
    try:
        from PIL import Image
    except ImportError:
        return False
    return isinstance(x, Image.Image)


def _pil_to_chw(img) -> tuple[torch.Tensor, str]:
    if img.mode not in ("L", "RGB", "RGBA", "F"):
        raise UnsupportedArguments(f"PIL mode {img.mode}")
    a = torch.from_numpy(np.array(img))
    if a.dim() == 2:
        a = a.unsqueeze(-1)
    return a.permute(2, 0, 1), img.mode


def _chw_to_pil(x: torch.Tensor, mode: str):
    from PIL import Image

    a = x.permute(1, 2, 0).cpu().numpy()
    if a.shape[2] == 1:
        a = a[..., 0]
    return Image.fromarray(a, mode=mode) if mode != "F" else Image.fromarray(a.astype(np.float32), mode="F")


def _round_like(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if dtype == torch.uint8:
        return x.round().clamp(0, 255).to(torch.uint8)
    return x.to(dtype)


def _resize_chw(x: torch.Tensor, out_h: int, out_w: int, resample: int, antialias: bool = True) -> torch.Tensor:
    lead = x.shape[:-3]
    y = x.reshape(-1, *x.shape[-3:])
    calc = torch.float64 if x.dtype == torch.float64 else torch.float32
    if resample == NEAREST:
        out = F.interpolate(y.to(calc), size=(out_h, out_w), mode="nearest-exact")
    elif resample in (BILINEAR, BICUBIC):
        mode = "bilinear" if resample == BILINEAR else "bicubic"
        out = F.interpolate(y.to(calc), size=(out_h, out_w), mode=mode, align_corners=False, antialias=antialias)
    else:
        raise UnsupportedArguments(f"resample filter {resample}")
    return _round_like(out, x.dtype).reshape(*lead, x.shape[-3], out_h, out_w)


@register("PIL.Image.Image.resize", tolerance=RESAMPLE_TOL)
def pil_resize(self, size, resample=None, box=None, reducing_gap=None):
    """PIL.Image.Image.resize: NEAREST, BILINEAR, BICUBIC (default) without box/reducing_gap."""
    if box is not None or reducing_gap is not None or not _is_pil(self):
        raise UnsupportedArguments("box / reducing_gap / not a PIL image")
    x, mode = _pil_to_chw(self)
    resample = BICUBIC if resample is None else int(resample)
    w, h = int(size[0]), int(size[1])
    return _chw_to_pil(_resize_chw(x, h, w, resample), mode)


def _crop_chw(x: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    """Crop with zero fill outside the image (PIL's and torchvision's behaviour)."""
    H, W = x.shape[-2], x.shape[-1]
    pad_t, pad_l = max(0, -top), max(0, -left)
    pad_b, pad_r = max(0, top + height - H), max(0, left + width - W)
    if pad_t or pad_l or pad_b or pad_r:
        x = F.pad(x, (pad_l, pad_r, pad_t, pad_b))
        top, left = top + pad_t, left + pad_l
    return x[..., top: top + height, left: left + width]


@register("PIL.Image.Image.crop", tolerance="exact")
def pil_crop(self, box=None):
    """PIL.Image.Image.crop(box=(left, upper, right, lower))."""
    if not _is_pil(self):
        raise UnsupportedArguments("not a PIL image")
    if box is None:
        return self.copy()
    x, mode = _pil_to_chw(self)
    left, upper, right, lower = (int(round(v)) for v in box)
    return _chw_to_pil(_crop_chw(x, upper, left, lower - upper, right - left).contiguous(), mode)


def _transpose_chw(x: torch.Tensor, method: int) -> torch.Tensor:
    if method == FLIP_LEFT_RIGHT:
        return torch.flip(x, dims=[-1])
    if method == FLIP_TOP_BOTTOM:
        return torch.flip(x, dims=[-2])
    if method == ROTATE_180:
        return torch.flip(x, dims=[-2, -1])
    if method == ROTATE_90:  # counter-clockwise
        return torch.rot90(x, k=1, dims=[-2, -1])
    if method == ROTATE_270:
        return torch.rot90(x, k=-1, dims=[-2, -1])
    if method == TRANSPOSE:
        return x.transpose(-2, -1)
    if method == TRANSVERSE:
        return torch.flip(x.transpose(-2, -1), dims=[-2, -1])
    raise UnsupportedArguments(f"transpose method {method}")


@register("PIL.Image.Image.transpose", tolerance="exact")
def pil_transpose(self, method):
    """PIL.Image.Image.transpose: flips, 90/180/270 rotations, (trans)pose."""
    if not _is_pil(self):
        raise UnsupportedArguments("not a PIL image")
    x, mode = _pil_to_chw(self)
    return _chw_to_pil(_transpose_chw(x, int(method)).contiguous(), mode)


def _rotate_nearest(x: torch.Tensor, angle: float, center, fill) -> torch.Tensor:
    """PIL's rotate(NEAREST, expand=False): inverse affine map of each output pixel centre to its
    source pixel, constant fill outside, with Pillow's own fixed-point arithmetic."""
    H, W = x.shape[-2], x.shape[-1]
    cx, cy = (W / 2.0, H / 2.0) if center is None else (float(center[0]), float(center[1]))
    a = -math.radians(angle)
    m = [round(math.cos(a), 15), round(math.sin(a), 15), 0.0, round(-math.sin(a), 15), round(math.cos(a), 15), 0.0]
    m[2] = m[0] * (-cx) + m[1] * (-cy) + cx
    m[5] = m[3] * (-cx) + m[4] * (-cy) + cy
    dev = x.device
    # Pillow's affine_fixed: coefficients in 16.16 fixed point, integer stepping, floor by >> 16.
    if max(abs(v) for v in m) >= 32768:
        raise UnsupportedArguments("transform coefficients too large for Pillow's fixed-point path")
    fix = [math.floor(v * 65536.0 + 0.5) for v in
           (m[0], m[1], m[2] + m[0] * 0.5 + m[1] * 0.5, m[3], m[4], m[5] + m[3] * 0.5 + m[4] * 0.5)]
    xs = torch.arange(W, dtype=torch.int64, device=dev)[None, :]
    ys = torch.arange(H, dtype=torch.int64, device=dev)[:, None]
    ix = (fix[2] + ys * fix[1] + xs * fix[0]) >> 16
    iy = (fix[5] + ys * fix[4] + xs * fix[3]) >> 16
    inside = (ix >= 0) & (iy >= 0) & (ix < W) & (iy < H)
    out = x[..., iy.clamp(0, H - 1), ix.clamp(0, W - 1)]
    fill_t = torch.as_tensor(0 if fill is None else fill, dtype=x.dtype, device=dev)
    if fill_t.dim() == 1:
        fill_t = fill_t.view(-1, 1, 1)
    return torch.where(inside, out, fill_t)


@register("PIL.Image.Image.rotate", tolerance="exact for NEAREST without expand")
def pil_rotate(self, angle, resample=NEAREST, expand=0, center=None, translate=None, fillcolor=None):
    """PIL.Image.Image.rotate with NEAREST, expand=False, no translate."""
    if not _is_pil(self) or resample != NEAREST or expand or translate is not None:
        raise UnsupportedArguments("only NEAREST without expand/translate")
    x, mode = _pil_to_chw(self)
    angle = angle % 360.0
    if angle == 0:
        return self.copy()
    return _chw_to_pil(_rotate_nearest(x, angle, center, fillcolor).contiguous(), mode)


# --- torchvision.transforms.functional -------------------------------------------------------

def _tv_interp(interpolation) -> int:
    name = getattr(interpolation, "value", interpolation)
    table = {"nearest": NEAREST, "nearest-exact": NEAREST, "bilinear": BILINEAR, "bicubic": BICUBIC}
    if isinstance(name, str) and name in table:
        return table[name]
    if isinstance(name, int) and name in (NEAREST, BILINEAR, BICUBIC):
        return name
    raise UnsupportedArguments(f"interpolation {interpolation!r}")


def _tv_size(h: int, w: int, size, max_size) -> tuple[int, int]:
    if isinstance(size, int) or (isinstance(size, (list, tuple)) and len(size) == 1):
        s = size if isinstance(size, int) else size[0]
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = s, int(s * long / short)
        if max_size is not None and new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    return int(size[0]), int(size[1])


@register("torchvision.transforms.functional.resize", tolerance=RESAMPLE_TOL)
def tv_resize(img, size, interpolation="bilinear", max_size=None, antialias=True):
    """torchvision resize: a PIL image or a [..., C, H, W] tensor; int size = shorter edge."""
    resample = _tv_interp(interpolation)
    if _is_pil(img):
        h, w = _tv_size(img.height, img.width, size, max_size)
        return pil_resize.__wrapped__(img, (w, h), resample)
    h, w = _tv_size(img.shape[-2], img.shape[-1], size, max_size)
    return _resize_chw(img, h, w, resample, antialias=bool(antialias))


@register("torchvision.transforms.functional.crop", tolerance="exact")
def tv_crop(img, top, left, height, width):
    if _is_pil(img):
        return pil_crop.__wrapped__(img, (left, top, left + width, top + height))
    return _crop_chw(img, int(top), int(left), int(height), int(width))


@register("torchvision.transforms.functional.hflip", tolerance="exact")
def tv_hflip(img):
    return pil_transpose.__wrapped__(img, FLIP_LEFT_RIGHT) if _is_pil(img) else torch.flip(img, dims=[-1])


@register("torchvision.transforms.functional.vflip", tolerance="exact")
def tv_vflip(img):
    return pil_transpose.__wrapped__(img, FLIP_TOP_BOTTOM) if _is_pil(img) else torch.flip(img, dims=[-2])


@register("torchvision.transforms.functional.rotate", tolerance="exact for NEAREST without expand")
def tv_rotate(img, angle, interpolation="nearest", expand=False, center=None, fill=None):
    if _tv_interp(interpolation) != NEAREST or expand:
        raise UnsupportedArguments("only NEAREST without expand")
    if _is_pil(img):
        return pil_rotate.__wrapped__(img, angle, NEAREST, 0, center, None if fill is None else tuple(fill) if
                                      isinstance(fill, (list, tuple)) else fill)
    angle = angle % 360.0
    if angle == 0:
        return img.clone()
    return _rotate_nearest(img, angle, center, fill)


@register("torchvision.transforms.functional.to_tensor", tolerance="exact", tensor_output=True)
def tv_to_tensor(pic):
    """to_tensor: PIL image / HWC ndarray -> CHW float32 in [0, 1] (uint8 divided by 255)."""
    if _is_pil(pic):
        x, _ = _pil_to_chw(pic)
    elif isinstance(pic, torch.Tensor):
        if pic.dim() not in (2, 3):
            raise UnsupportedArguments("expected HxW or HxWxC")
        x = (pic if pic.dim() == 3 else pic.unsqueeze(-1)).permute(2, 0, 1)
    else:
        raise UnsupportedArguments(f"to_tensor of {type(pic).__name__}")
    x = x.contiguous()
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div(255)
    return x.to(torch.get_default_dtype()) if not x.is_floating_point() else x


@register("torchvision.transforms.functional.normalize", tolerance="exact up to float rounding")
def tv_normalize(tensor, mean, std, inplace=False):
    """normalize: (x - mean[c]) / std[c] over the channel dim (-3)."""
    if not tensor.is_floating_point():
        raise UnsupportedArguments("normalize needs a float tensor")
    mean_t = torch.as_tensor(mean, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
    std_t = torch.as_tensor(std, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
    if inplace:
        return tensor.sub_(mean_t).div_(std_t)
    return (tensor - mean_t) / std_t
