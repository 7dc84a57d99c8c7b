"""The closed loop on top of the other areas: trace -> optimize -> apply -> verify -> measure ->
keep or restore (``optimize_pipeline``), device-model calibration, verification of migrated
outputs (``verify``) and the scripts behind ``codedag trace`` / ``codedag optimize-run``.

Submodules load on first use: ``python -m codedag.pipeline.trace_main`` must not import torch
before the traced script does.
"""

import importlib

_NAMES = {
    "OptimizationResult": "closed_loop",
    "optimize_pipeline": "closed_loop",
    "VerificationReport": "verification",
    "verify": "verification",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_NAMES))
