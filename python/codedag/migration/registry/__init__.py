"""Strategy registry: tensor implementations of numpy / OpenCV / librosa / PIL / torchvision calls."""

from .core import (
    Strategy,
    UnsupportedArguments,
    active_device,
    covered_functions,
    entries,
    get,
    make_dispatcher,
    register,
    resolve_path,
    scope,
    suspended,
    unregister,
)

__all__ = [
    "Strategy",
    "UnsupportedArguments",
    "active_device",
    "covered_functions",
    "entries",
    "get",
    "make_dispatcher",
    "register",
    "resolve_path",
    "scope",
    "suspended",
    "unregister",
]
