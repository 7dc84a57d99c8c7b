"""OpenCV calls as torch code. Images are HWC (or HW) arrays as OpenCV has them; the math runs on
CHW float tensors; uint8 results are rounded and saturated like OpenCV does."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .registry import UnsupportedArguments, register

# OpenCV's constants, spelled out so the entries exist (and document themselves) without cv2.
INTER_NEAREST, INTER_LINEAR, INTER_CUBIC, INTER_AREA = 0, 1, 2, 3
WARP_INVERSE_MAP = 16
BORDER_CONSTANT, BORDER_REPLICATE, BORDER_REFLECT, BORDER_WRAP, BORDER_REFLECT_101 = 0, 1, 2, 3, 4
NORM_INF, NORM_L1, NORM_L2, NORM_MINMAX = 1, 2, 4, 32
THRESH_BINARY, THRESH_BINARY_INV, THRESH_TRUNC, THRESH_TOZERO, THRESH_TOZERO_INV = 0, 1, 2, 3, 4
COLOR_BGR2RGB, COLOR_RGB2BGR = 4, 4
COLOR_BGR2GRAY, COLOR_RGB2GRAY, COLOR_GRAY2BGR, COLOR_GRAY2RGB = 6, 7, 8, 8
COLOR_BGRA2BGR, COLOR_BGR2BGRA = 1, 0

UINT8_TOL = "uint8: within 1 intensity level (OpenCV uses fixed-point weights); float32: rtol 1e-4"


def _to_chw(img: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """HWC / HW -> 1CHW float (double for float64 input); returns whether it had channels."""
    has_channels = img.dim() == 3
    x = img if has_channels else img.unsqueeze(-1)
    if x.dim() != 3:
        raise UnsupportedArguments("expected an HxW or HxWxC image")
    dtype = torch.float64 if img.dtype == torch.float64 else torch.float32
    return x.permute(2, 0, 1).unsqueeze(0).to(dtype), has_channels


def _from_chw(x: torch.Tensor, like: torch.Tensor, has_channels: bool) -> torch.Tensor:
    out = x.squeeze(0).permute(1, 2, 0)
    if not has_channels:
        out = out.squeeze(-1)
    return _cast_like(out, like.dtype)


def _cast_like(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if dtype == torch.uint8:
        return x.round().clamp(0, 255).to(torch.uint8)
    if dtype in (torch.int16, torch.uint16, torch.int32):
        info = torch.iinfo(dtype)
        return x.round().clamp(info.min, info.max).to(dtype)
    return x.to(dtype)


@register("cv2.resize", tolerance=UINT8_TOL)
def resize(src, dsize, dst=None, fx=0, fy=0, interpolation=INTER_LINEAR):
    """cv2.resize: INTER_LINEAR (= bilinear, half-pixel centres, no antialias), INTER_NEAREST,
    INTER_AREA for integer shrink factors."""
    h, w = src.shape[0], src.shape[1]
    if dsize is not None and tuple(dsize) != (0, 0):
        out_w, out_h = int(dsize[0]), int(dsize[1])
    else:
        if not fx or not fy:
            raise UnsupportedArguments("dsize or fx/fy required")
        out_w, out_h = int(round(w * fx)), int(round(h * fy))
    x, has_c = _to_chw(src)
    if interpolation == INTER_LINEAR:
        y = F.interpolate(x, size=(out_h, out_w), mode="bilinear", align_corners=False, antialias=False)
    elif interpolation == INTER_NEAREST:
        y = F.interpolate(x, size=(out_h, out_w), mode="nearest")
    elif interpolation == INTER_AREA and h % out_h == 0 and w % out_w == 0:
        y = F.avg_pool2d(x, kernel_size=(h // out_h, w // out_w))
    else:
        raise UnsupportedArguments(f"interpolation {interpolation} for {h}x{w} -> {out_h}x{out_w}")
    return _from_chw(y, src, has_c)


@register("cv2.cvtColor", tolerance=UINT8_TOL)
def cvtColor(src, code, dst=None, dstCn=0):
    """cv2.cvtColor: BGR<->RGB, BGR/RGB->GRAY (0.299 R + 0.587 G + 0.114 B), GRAY->BGR/RGB,
    BGRA->BGR, BGR->BGRA."""
    if code == COLOR_BGR2RGB:
        return src[..., [2, 1, 0]]
    if code in (COLOR_BGR2GRAY, COLOR_RGB2GRAY):
        b, g, r = (src[..., 0], src[..., 1], src[..., 2]) if code == COLOR_BGR2GRAY else (src[..., 2], src[..., 1], src[..., 0])
        calc = torch.float64 if src.dtype == torch.float64 else torch.float32
        gray = 0.299 * r.to(calc) + 0.587 * g.to(calc) + 0.114 * b.to(calc)
        return _cast_like(gray, src.dtype)
    if code == COLOR_GRAY2BGR:
        return src.unsqueeze(-1).expand(*src.shape, 3).contiguous() if src.dim() == 2 else src.expand(*src.shape[:2], 3).contiguous()
    if code == COLOR_BGRA2BGR:
        return src[..., :3].contiguous()
    if code == COLOR_BGR2BGRA:
        alpha = torch.full((*src.shape[:2], 1), 255 if src.dtype == torch.uint8 else 1, dtype=src.dtype, device=src.device)
        return torch.cat([src, alpha], dim=-1)
    raise UnsupportedArguments(f"cvtColor code {code}")


@register("cv2.flip", tolerance="exact")
def flip(src, flipCode, dst=None):
    """cv2.flip: 0 around the x-axis (rows), > 0 around the y-axis (columns), < 0 both."""
    if flipCode == 0:
        return torch.flip(src, dims=[0])
    if flipCode > 0:
        return torch.flip(src, dims=[1])
    return torch.flip(src, dims=[0, 1])


def _border_index(n: int, pad_before: int, pad_after: int, border: int, device) -> torch.Tensor:
    """Source index of every output position along one axis for OpenCV's border modes (-1: constant)."""
    i = torch.arange(-pad_before, n + pad_after, device=device)
    if border == BORDER_REPLICATE:
        return i.clamp(0, n - 1)
    if border == BORDER_WRAP:
        return i.remainder(n)
    if border in (BORDER_REFLECT, BORDER_REFLECT_101):
        if n == 1:
            return torch.zeros_like(i)
        if border == BORDER_REFLECT:  # fedcba|abcdefgh|hgfedcb
            period = 2 * n
            j = i.remainder(period)
            return torch.where(j < n, j, period - 1 - j)
        period = 2 * n - 2  # gfedcb|abcdefgh|gfedcba
        j = i.remainder(period)
        return torch.where(j < n, j, period - j)
    if border == BORDER_CONSTANT:
        return torch.where((i >= 0) & (i < n), i, torch.full_like(i, -1))
    raise UnsupportedArguments(f"border type {border}")


def _pad(x: torch.Tensor, top: int, bottom: int, left: int, right: int, border: int, value) -> torch.Tensor:
    """Pads an HW[C] tensor the way cv2.copyMakeBorder does."""
    h, w = x.shape[0], x.shape[1]
    rows = _border_index(h, top, bottom, border, x.device)
    cols = _border_index(w, left, right, border, x.device)
    out = x[rows.clamp(min=0)][:, cols.clamp(min=0)]
    if border == BORDER_CONSTANT:
        mask = (rows >= 0)[:, None] & (cols >= 0)[None, :]
        fill = torch.as_tensor(_scalar_value(value, x), dtype=x.dtype, device=x.device)
        if x.dim() == 3:
            mask = mask[..., None]
            fill = fill[: x.shape[2]] if fill.dim() else fill
        out = torch.where(mask, out, fill)
    return out


def _scalar_value(value, x: torch.Tensor):
    if value is None:
        return 0
    if isinstance(value, (int, float)):
        return [value] * x.shape[2] if x.dim() == 3 else value
    vals = list(value)
    if x.dim() == 3:
        return (vals + [0] * 4)[: x.shape[2]]
    return vals[0]


@register("cv2.copyMakeBorder", tolerance="exact")
def copyMakeBorder(src, top, bottom, left, right, borderType, dst=None, value=None):
    """cv2.copyMakeBorder: CONSTANT, REPLICATE, REFLECT, WRAP, REFLECT_101 (DEFAULT)."""
    return _pad(src, int(top), int(bottom), int(left), int(right), int(borderType) & ~16, value)


# cv2.getGaussianKernel's fixed kernels for sigma <= 0 and small sizes (not the formula's values).
_SMALL_GAUSSIAN = {1: [1.0], 3: [0.25, 0.5, 0.25], 5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
                   7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125]}


def _gaussian_kernel(ksize: int, sigma: float, dtype, device) -> torch.Tensor:
    if sigma <= 0 and ksize in _SMALL_GAUSSIAN:
        return torch.tensor(_SMALL_GAUSSIAN[ksize], dtype=dtype, device=device)
    if sigma <= 0:
        sigma = 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8
    x = torch.arange(ksize, dtype=torch.float64, device=device) - (ksize - 1) / 2
    k = torch.exp(-(x * x) / (2 * sigma * sigma))
    return (k / k.sum()).to(dtype)


@register("cv2.GaussianBlur", tolerance=UINT8_TOL)
def GaussianBlur(src, ksize, sigmaX, dst=None, sigmaY=0, borderType=BORDER_REFLECT_101):
    """cv2.GaussianBlur: separable Gaussian, kernel as cv2.getGaussianKernel, OpenCV borders."""
    kw, kh = int(ksize[0]), int(ksize[1])
    if kw <= 0 or kh <= 0 or kw % 2 == 0 or kh % 2 == 0:
        raise UnsupportedArguments("ksize must be positive and odd (sigma-derived sizes are not implemented)")
    sy = sigmaY if sigmaY > 0 else sigmaX
    calc = torch.float64 if src.dtype == torch.float64 else torch.float32
    x = src.to(calc)
    x = _pad(x, kh // 2, kh // 2, kw // 2, kw // 2, int(borderType), 0)
    chw, has_c = _to_chw(x)
    c = chw.shape[1]
    kx = _gaussian_kernel(kw, sigmaX, calc, src.device).view(1, 1, 1, kw).expand(c, 1, 1, kw)
    ky = _gaussian_kernel(kh, sy, calc, src.device).view(1, 1, kh, 1).expand(c, 1, kh, 1)
    y = F.conv2d(F.conv2d(chw, kx, groups=c), ky, groups=c)
    return _from_chw(y, src, has_c)


@register("cv2.warpAffine", tolerance=UINT8_TOL)
def warpAffine(src, M, dsize, dst=None, flags=INTER_LINEAR, borderMode=BORDER_CONSTANT, borderValue=0):
    """cv2.warpAffine with INTER_LINEAR / INTER_NEAREST and a constant border (OpenCV >= 4.11
    arithmetic: floating-point source coordinates)."""
    interp = flags & 7
    if interp not in (INTER_LINEAR, INTER_NEAREST) or borderMode != BORDER_CONSTANT:
        raise UnsupportedArguments("only INTER_LINEAR/INTER_NEAREST with BORDER_CONSTANT")
    m = torch.as_tensor(M, dtype=torch.float64).cpu().reshape(2, 3)
    if not flags & WARP_INVERSE_MAP:
        a = m[:, :2]
        det = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
        inv = torch.tensor([[a[1, 1], -a[0, 1]], [-a[1, 0], a[0, 0]]], dtype=torch.float64) / (det if det != 0 else 1)
        m = torch.cat([inv, -(inv @ m[:, 2:])], dim=1)
    out_w, out_h = int(dsize[0]), int(dsize[1])
    dev = src.device
    xs = torch.arange(out_w, dtype=torch.float64, device=dev)
    ys = torch.arange(out_h, dtype=torch.float64, device=dev)
    m = m.to(dev)
    # OpenCV >= 4.11 computes source coordinates in floating point (earlier versions quantised
    # them to 1/32 pixel); nearest rounds half away from zero.
    sx = m[0, 0] * xs[None, :] + m[0, 1] * ys[:, None] + m[0, 2]
    sy = m[1, 0] * xs[None, :] + m[1, 1] * ys[:, None] + m[1, 2]
    if interp == INTER_NEAREST:
        ix = (torch.sign(sx) * torch.floor(sx.abs() + 0.5)).long()
        iy = (torch.sign(sy) * torch.floor(sy.abs() + 0.5)).long()
        fx = fy = None
    else:
        ix, iy = torch.floor(sx).long(), torch.floor(sy).long()
        fx, fy = sx - ix, sy - iy
    h, w = src.shape[0], src.shape[1]
    calc = torch.float64 if src.dtype == torch.float64 else torch.float32
    img = src.to(calc)
    if img.dim() == 2:
        img = img.unsqueeze(-1)
    fill = torch.as_tensor(_scalar_value(borderValue, img), dtype=calc, device=dev)

    def at(yy, xx):
        inside = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
        v = img[yy.clamp(0, h - 1), xx.clamp(0, w - 1)]
        return torch.where(inside[..., None], v, fill)

    if fx is None:
        out = at(iy, ix)
    else:
        wx, wy = fx[..., None].to(calc), fy[..., None].to(calc)
        top = at(iy, ix) * (1 - wx) + at(iy, ix + 1) * wx
        bottom = at(iy + 1, ix) * (1 - wx) + at(iy + 1, ix + 1) * wx
        out = top * (1 - wy) + bottom * wy
    if src.dim() == 2:
        out = out.squeeze(-1)
    return _cast_like(out, src.dtype)


@register("cv2.normalize", tolerance=UINT8_TOL)
def normalize(src, dst=None, alpha=1, beta=0, norm_type=NORM_L2, dtype=-1, mask=None):
    """cv2.normalize: NORM_MINMAX, NORM_L2, NORM_L1, NORM_INF (no mask, dtype=-1)."""
    if mask is not None or dtype not in (-1, None):
        raise UnsupportedArguments("mask / dtype")
    x = src.to(torch.float64)
    if norm_type == NORM_MINMAX:
        dmin, dmax = min(alpha, beta), max(alpha, beta)
        smin, smax = x.min(), x.max()
        scale = (dmax - dmin) / (smax - smin) if (smax - smin) > 2.220446049250313e-16 else x.new_tensor(0.0)
        shift = dmin - smin * scale
        out = x * scale + shift
    elif norm_type in (NORM_L2, NORM_L1, NORM_INF):
        ord_ = {NORM_L2: 2, NORM_L1: 1, NORM_INF: math.inf}[norm_type]
        n = torch.linalg.vector_norm(x.flatten(), ord=ord_)
        out = x * (alpha / n if n > 2.220446049250313e-16 else 0.0)
    else:
        raise UnsupportedArguments(f"norm_type {norm_type}")
    return _cast_like(out, src.dtype)


@register("cv2.threshold", tolerance="exact")
def threshold(src, thresh, maxval, type, dst=None):  # noqa: A002 - OpenCV's own parameter name
    """cv2.threshold: BINARY, BINARY_INV, TRUNC, TOZERO, TOZERO_INV; returns (thresh, dst)."""
    kind = type & 7
    if type & ~7:
        raise UnsupportedArguments("THRESH_OTSU / THRESH_TRIANGLE")
    t, mv = thresh, maxval
    if src.dtype == torch.uint8:  # OpenCV compares integers against floor(thresh), saturates maxval
        t, mv = math.floor(thresh), min(max(round(maxval), 0), 255)
    zero = torch.zeros((), dtype=src.dtype, device=src.device)
    full = torch.as_tensor(mv, dtype=src.dtype, device=src.device)
    above = src > t
    if kind == THRESH_BINARY:
        out = torch.where(above, full, zero)
    elif kind == THRESH_BINARY_INV:
        out = torch.where(above, zero, full)
    elif kind == THRESH_TRUNC:
        out = torch.where(above, torch.as_tensor(t, dtype=src.dtype, device=src.device), src)
    elif kind == THRESH_TOZERO:
        out = torch.where(above, src, zero)
    elif kind == THRESH_TOZERO_INV:
        out = torch.where(above, zero, src)
    else:
        raise UnsupportedArguments(f"threshold type {type}")
    return float(t) if src.dtype != torch.uint8 else float(t), out
