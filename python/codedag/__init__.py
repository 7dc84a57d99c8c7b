"""CodeDAG: trace a PyTorch data pipeline into a DAG, place it on the right executors, apply the
plan to unchanged training code, and record every run so it can be found, compared and re-run.

The engine is C++ (``codedag._core``); this package is its thin Python face. Each area's public
names come from its subpackage and are re-exported here.
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
from .core import *  # noqa: E402,F401,F403
from .experiments import *  # noqa: E402,F401,F403
from .optimizer import *  # noqa: E402,F401,F403
from .runner import *  # noqa: E402,F401,F403
from .store import *  # noqa: E402,F401,F403

# Subpackages that import torch are loaded on first use of one of their names (PEP 562), so that
# `import codedag` for Experiment/Watcher/the optimizer does not pay torch's seconds of start-up.
_LAZY_SUBPACKAGES = ("migration",)


def __getattr__(name: str):
    import importlib

    for sub in _LAZY_SUBPACKAGES:
        module = importlib.import_module(f"{__name__}.{sub}")
        if name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module 'codedag' has no attribute '{name}'")


def __dir__():
    import importlib

    names = set(globals())
    for sub in _LAZY_SUBPACKAGES:
        names.update(getattr(importlib.import_module(f"{__name__}.{sub}"), "__all__", ()))
    return sorted(names)
