"""GPU detection for experiment scripts (seed 000 §4.1): which devices there are, overridable."""

from __future__ import annotations

import os

from .. import _core


def detect_gpus() -> list[str]:
    """Device ids this process may use: CUDA_VISIBLE_DEVICES when set (a sweep cell sees its lease
    there), else one index per device the NVIDIA driver (NVML) reports, else an empty list."""
    return list(_core.detect_gpus())


def detect_num_gpus(override_env: str = "NUM_GPUS_OVERRIDE", default: int = 0) -> int:
    """How many GPUs to use: ``$NUM_GPUS_OVERRIDE`` when set, else ``len(detect_gpus())``, else ``default``."""
    override = os.environ.get(override_env, "").strip()
    if override:
        try:
            value = int(override)
        except ValueError:
            raise _core.InputError(f"{override_env}={override!r} is not a whole number of GPUs") from None
        if value < 0:
            raise _core.InputError(f"{override_env}={override!r}: the number of GPUs cannot be negative")
        return value
    return len(detect_gpus()) or default
