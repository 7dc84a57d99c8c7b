"""CodeDAG: trace a PyTorch data pipeline into a DAG, place it on the right executors, apply the
plan to unchanged training code, and record every run so it can be found, compared and re-run.

The engine is C++ (``codedag._core``); this package is its thin Python face, cut into the engine's
slices: ``trace`` (EnhancedTracer), ``graph`` (the optimizer front), ``strategies`` (library calls
as tensor code), ``migration`` (live patching), ``monitor``, ``store``, and ``pipeline`` on top
(the closed loop). Each subpackage's public names are re-exported here.
"""

import os as _os

# Development builds: with CODEDAG_BUILD_DIR=<a CMake build dir>, the freshly built
# codedag._core in <build>/python/codedag is loaded instead of the installed one.
_build_dir = _os.environ.get("CODEDAG_BUILD_DIR")
if _build_dir:
    __path__.insert(0, _os.path.join(_os.path.abspath(_build_dir), "python", "codedag"))

from ._core import (  # noqa: E402
    Dag,
    Edge,
    EdgeKind,
    Error,
    FormatError,
    InfeasiblePlanError,
    InputError,
    Node,
    NotFoundError,
    StateError,
    SystemCallError,
    __version__,
)
from .graph import *  # noqa: E402,F401,F403
from .monitor import *  # noqa: E402,F401,F403
from .runner import *  # noqa: E402,F401,F403
from .store import *  # noqa: E402,F401,F403
from .trace import *  # noqa: E402,F401,F403

# The subpackages that import torch load on first use of one of their names (PEP 562), so that
# `import codedag` for Experiment/Watcher/the optimizer does not pay torch's seconds of start-up.
# tests/python/unit/test_package.py checks this table against each subpackage's __all__.
_LAZY_NAMES = {
    "PipelineMigrator": "migration",
    "register_strategy": "strategies",
    "OptimizationResult": "pipeline",
    "optimize_pipeline": "pipeline",
    "VerificationReport": "pipeline",
    "verify": "pipeline",
}


def __getattr__(name: str):
    sub = _LAZY_NAMES.get(name)
    if sub is None:
        raise AttributeError(f"module 'codedag' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{sub}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY_NAMES))
