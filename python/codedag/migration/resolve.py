"""Plan keys ("<module>.<qualname>") -> the live objects to patch and every place they are bound.

A key names a function where it was defined (its ``__module__`` and ``__qualname__``), which is
what the tracer records. What has to change at run time is every *binding* that code will look up:
the defining attribute, plus each ``from x import f`` copy in other loaded modules.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import types
from dataclasses import dataclass, field
from typing import Any

# Py_TPFLAGS_IMMUTABLETYPE: builtin and extension types whose attributes cannot be set.
_IMMUTABLE_TYPE = 1 << 8


class Unresolvable(Exception):
    """The key names nothing patchable; the message says why and what to do."""


@dataclass
class Binding:
    """One attribute that refers to the target: ``owner.<name>`` holds ``raw`` (for classes, the
    raw class-dict value: a function, staticmethod or classmethod)."""

    owner: Any
    name: str
    raw: Any


@dataclass
class Target:
    key: str
    kind: str  # function | method | staticmethod | classmethod | callable_instance
    function: Any  # the plain callable the wrapper calls (unwrapped from static/classmethod)
    bindings: list[Binding] = field(default_factory=list)


def _find_module(key: str) -> tuple[types.ModuleType, list[str]]:
    parts = key.split(".")
    # Longest prefix that is a loaded module wins; otherwise import it (a plan may be applied in
    # a fresh process, e.g. a spawn DataLoader worker, before the user's code imported it).
    for cut in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:cut])
        if name in sys.modules and sys.modules[name] is not None:
            return sys.modules[name], parts[cut:]
    # A plan made while the script was imported as a module (codedag optimize-run: "train.crop"),
    # applied while it runs as a script: its functions live in __main__.
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if main_file and os.path.splitext(os.path.basename(main_file))[0] == parts[0] and len(parts) > 1:
        return main, parts[1:]
    for cut in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:cut])
        try:
            return importlib.import_module(name), parts[cut:]
        except ImportError:
            continue
        except Exception as exc:  # the module exists but failed to import
            raise Unresolvable(f"importing {name!r} failed: {type(exc).__name__}: {exc}") from exc
    raise Unresolvable(f"no module of {key!r} is loaded or importable; import it before apply()")


def _defining_class(cls: type, name: str) -> type:
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    raise Unresolvable(f"{cls.__qualname__} has no attribute {name!r}")


def _class_target(key: str, cls: type, name: str) -> Target:
    owner = _defining_class(cls, name)
    raw = vars(owner)[name]
    if isinstance(owner, type) and owner.__flags__ & _IMMUTABLE_TYPE:
        raise Unresolvable(f"{owner.__qualname__}.{name} belongs to an immutable builtin type and cannot be patched")
    if isinstance(raw, staticmethod):
        return Target(key, "staticmethod", raw.__func__, [Binding(owner, name, raw)])
    if isinstance(raw, classmethod):
        return Target(key, "classmethod", raw.__func__, [Binding(owner, name, raw)])
    if callable(raw):
        return Target(key, "method", raw, [Binding(owner, name, raw)])
    raise Unresolvable(f"{owner.__qualname__}.{name} is a {type(raw).__name__}, not a function")


def _instance_target(key: str, obj: Any) -> Target:
    """A callable instance: patch its class's ``forward`` (nn.Module) or ``__call__``."""
    import torch

    name = "forward" if isinstance(obj, torch.nn.Module) else "__call__"
    target = _class_target(key, type(obj), name)
    target.kind = "callable_instance"
    return target


def resolve(key: str, bind_instances: bool = False) -> Target:
    """Resolves one plan key; raises Unresolvable with a reason a user can act on.

    ``bind_instances``: a callable object bound at module level (numpy's ``_ArrayFunctionDispatcher``
    instances such as ``numpy.concatenate``, whose C type cannot be patched) is targeted by its module
    names instead of its class's ``__call__`` -- what a call-site dispatcher needs, since it only
    replaces the names the caller looks up."""
    if "<locals>" in key:
        raise Unresolvable("a nested function (defined inside another function) is not reachable from its module; "
                           "move it to module level to migrate it")
    if "<lambda>" in key:
        raise Unresolvable("a lambda has no name to patch; make it a module-level def to migrate it")
    module, rest = _find_module(key)
    if not rest:
        raise Unresolvable(f"{key!r} names a module, not a function")
    obj: Any = module
    for i, part in enumerate(rest):
        last = i == len(rest) - 1
        if isinstance(obj, type):
            if last:
                return _class_target(key, obj, part)
            obj = inspect.getattr_static(obj, part, None)
        elif isinstance(obj, types.ModuleType):
            if part not in vars(obj):
                raise Unresolvable(f"module {obj.__name__!r} has no attribute {part!r} (renamed or defined elsewhere?)")
            value = vars(obj)[part]
            if last:
                if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
                    return Target(key, "function", value, [Binding(obj, part, value)])
                if isinstance(value, type):
                    return _class_target(key, value, "__call__") if "__call__" in vars(value) else _fail(
                        key, "names a class; name the method to migrate (e.g. Class.__call__)")
                if callable(value) and bind_instances and not isinstance(value, types.MethodType):
                    return Target(key, "function", value, [Binding(obj, part, value)])
                if callable(value):
                    return _instance_target(key, value)
                raise Unresolvable(f"{key!r} is a {type(value).__name__}, not a callable")
            obj = value
        else:  # an instance: its methods live on its class
            if last:
                return _class_target(key, type(obj), part)
            obj = getattr(obj, part, None)
        if obj is None:
            raise Unresolvable(f"{'.'.join(rest[: i + 1])!r} does not exist in module {module.__name__!r}")
    raise Unresolvable(f"{key!r} could not be resolved")  # pragma: no cover - loop always returns


def _fail(key: str, why: str):
    raise Unresolvable(f"{key!r} {why}")


def module_bindings(function: Any, already: list[Binding]) -> list[Binding]:
    """Every other module-level name bound to ``function`` (``from x import f`` copies)."""
    seen = {(id(b.owner), b.name) for b in already}
    found: list[Binding] = []
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        try:
            items = list(namespace.items())
        except RuntimeError:  # a module mutating its globals in another thread
            continue
        for name, value in items:
            if value is function and (id(module), name) not in seen:
                seen.add((id(module), name))
                found.append(Binding(module, name, value))
    return found
