"""The strategy registry: tensor implementations of numpy / OpenCV / librosa / PIL / torchvision
calls, so that a context calling them can run on any torch device. See docs/registry.md."""

from .registry import (
    Strategy,
    UnsupportedArguments,
    active_device,
    covered_functions,
    entries,
    get,
    make_dispatcher,
    per_sample_random,
    register,
    resolve_path,
    scope,
    suspended,
    unregister,
)

# The top-level name: ``@codedag.register_strategy("cv2.resize")``.
register_strategy = register

__all__ = [
    "Strategy",
    "UnsupportedArguments",
    "active_device",
    "covered_functions",
    "entries",
    "get",
    "make_dispatcher",
    "per_sample_random",
    "register",
    "register_strategy",
    "resolve_path",
    "scope",
    "suspended",
    "unregister",
]
