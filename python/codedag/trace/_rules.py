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
        **package_prefixes(),
    }


def package_prefixes() -> dict:
    """The directories of the packages loaded now, by the one library decision (libraries.py):
    the hook folds and records by file, so the decision reaches it as directories. A module
    imported later falls back to the hook's site-packages markers."""
    from codedag import libraries

    library, user = set(), set()
    for name, module in list(sys.modules.items()):
        if "." in name or name.startswith("_") or name in sys.stdlib_module_names or name == "__main__":
            continue
        where = _package_dirs(module)
        if not where:
            continue
        try:
            decision = libraries.decide(name)
        except Exception:  # a broken distribution's metadata: leave that package to the markers
            continue
        if decision.distribution == libraries.STDLIB:
            continue
        (library if decision.library else user).update(where)
    return {"library_prefixes": sorted(library), "user_prefixes": sorted(user)}


def _package_dirs(module) -> set[str]:
    """A package's directory ("<dir>/"), or a single-file module's own path, as the real path and
    as imported (code objects carry the path they were imported by)."""
    file = getattr(module, "__file__", None)
    if not isinstance(file, str) or not file:
        return set()
    if os.path.basename(file).startswith("__init__."):
        folder = os.path.dirname(file)
        return {_dir(folder), os.path.join(os.path.abspath(folder), "")}
    return {os.path.realpath(file), os.path.abspath(file)}


def _torch_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None
