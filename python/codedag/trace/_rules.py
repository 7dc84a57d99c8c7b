"""The default filter rules of the tracer, as paths and names read from this interpreter (the rules
themselves are C++: cpp/codedag/trace/filter_rules.hpp)."""

from __future__ import annotations

import os
import sys
import sysconfig


def _dir(path: str) -> str:
    return os.path.join(os.path.realpath(path), "")


def default_rules() -> dict:
    import codedag

    own = {_dir(os.path.dirname(codedag.__file__))}
    own.add(_dir(os.path.dirname(os.path.abspath(codedag.__file__))))
    machinery = []
    torch = sys.modules.get("torch")
    if torch is not None or _torch_importable():
        import torch.utils.data as tud

        machinery.append(_dir(os.path.dirname(tud.__file__)))
        machinery.append(os.path.join(os.path.dirname(os.path.abspath(tud.__file__)), ""))
    stdlib = set()
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            stdlib.add(_dir(path))
            stdlib.add(os.path.join(os.path.abspath(path), ""))
    return {
        "own_prefixes": sorted(own),
        "machinery_prefixes": sorted(set(machinery)),
        "stdlib_prefixes": sorted(stdlib),
        "stdlib_modules": sorted(set(sys.stdlib_module_names) | {"builtins"}),
    }


def _torch_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None
