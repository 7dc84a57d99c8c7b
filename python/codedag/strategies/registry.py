"""The strategy registry: library calls (cv2.resize, numpy.fft.rfft, librosa.stft, ...) mapped to
torch implementations that run on any torch device.

A *strategy* has the library function's own signature, so positional and keyword arguments map
the same way they do for the original. It is type preserving at its boundary: numpy arrays in ->
numpy arrays out (computed with torch on the CPU), torch tensors in -> tensors out on the same
device. That is what lets a planned context run on a GPU: the migrator hands it device tensors, every
library call it makes keeps them on the device, and a call the registry does not cover fails, which
the migrator turns into the CPU fallback.

Strategies are never installed globally. The migrator installs a *dispatcher* in place of the
library function only while a plan is applied and only for the functions its planned contexts
use; the dispatcher runs the strategy on the thread that is inside a planned context and the
original everywhere else (see ``scope``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


class UnsupportedArguments(Exception):
    """Raised by a strategy for an argument combination it does not implement exactly; the
    dispatcher then calls the original library function instead (never a silent approximation)."""


@dataclass
class Strategy:
    """One registry entry: ``name`` is the library path users know ("cv2.resize")."""

    name: str
    impl: Callable[..., Any]
    original_path: str  # importable path of the live callable, e.g. "PIL.Image.Image.resize"
    doc: str = ""
    tolerance: str = ""  # how close to the library it is (documented in docs/registry.md)
    tags: tuple[str, ...] = field(default_factory=tuple)
    # "per_sample": called over a batch (leading dimension), it draws independent randomness for
    # every sample, as the per-sample calls would. The one way a function that draws randomness
    # may run vectorised (deferred.py); verification still tests the independence.
    randomness: str = ""

    def original(self) -> Callable[..., Any] | None:
        """The live library callable, or None when its library is not installed."""
        return resolve_path(self.original_path)


def resolve_path(path: str) -> Any:
    """Imports the longest importable module prefix of a dotted path and walks the rest as
    attributes; None when any part is missing (a library that is not installed)."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        except Exception:  # a broken installation (e.g. a torchvision built for another torch)
            return None
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


_lock = threading.RLock()
_entries: dict[str, Strategy] = {}


def register(name: str, original: str | None = None, *, tolerance: str = "", tags: tuple[str, ...] = (),
             tensor_output: bool = False, randomness: str = ""):
    """Decorator that adds a torch implementation for a library call to the registry.

    ``name`` is the library path ("cv2.resize"); ``original`` the importable path of the live
    callable when it differs from ``name`` (methods: "PIL.Image.Image.resize"). The decorated
    function must accept the library function's arguments (same names, same order, same defaults)
    and is wrapped so numpy inputs come back as numpy outputs. Re-registering a name replaces it
    (a user's own entry wins over the built-in one). ``tensor_output``: the library itself returns
    a tensor (torchvision's to_tensor), so numpy inputs do not mean numpy outputs. ``randomness``:
    "per_sample" declares that the implementation, called over a batch, draws independent random
    numbers for each sample (a planned function that draws randomness is otherwise never run over
    a whole batch at once); "" (default) for deterministic entries."""
    if randomness not in ("", "per_sample"):
        raise ValueError(f"randomness must be '' or 'per_sample', not {randomness!r}")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        impl = array_boundary(fn, tensor_output)
        with _lock:
            _entries[name] = Strategy(name, impl, original or name, (fn.__doc__ or "").strip(), tolerance, tags,
                                      randomness)
        return impl

    return decorate


def unregister(name: str) -> None:
    with _lock:
        _entries.pop(name, None)


def get(name: str) -> Strategy:
    _load_builtin_entries()
    with _lock:
        if name not in _entries:
            raise KeyError(
                f"the strategy registry has no entry {name!r}; known entries: {', '.join(sorted(_entries))[:400]}"
            )
        return _entries[name]


def per_sample_random(name: str) -> Strategy | None:
    """The entry registered under ``name`` that declares per-sample randomness over a batch, if any."""
    _load_builtin_entries()
    with _lock:
        strategy = _entries.get(name)
    return strategy if strategy is not None and strategy.randomness == "per_sample" else None


def entries() -> dict[str, Strategy]:
    _load_builtin_entries()
    with _lock:
        return dict(_entries)


def covered_functions() -> dict[object, str]:
    """Live library callables the registry covers -> their registry names (the tracer's contract:
    it marks a context GPU-eligible when every library call it makes is a key here). Libraries that
    are not installed are simply absent."""
    out: dict[object, str] = {}
    for name, strategy in entries().items():
        fn = strategy.original()
        if fn is not None:
            out[fn] = name
    return out


# --- conversions at the boundary -------------------------------------------------------------

_loaded = False


def _load_builtin_entries() -> None:
    """Imports the built-in entry modules once (each registers itself)."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        from . import cv2_ops, librosa_ops, numpy_ops, pil_ops  # noqa: F401

        _loaded = True


def as_tensor(x: Any, device: torch.device | str | None = None) -> torch.Tensor:
    """ndarray / scalar / tensor -> tensor (no copy on the CPU when possible)."""
    if isinstance(x, torch.Tensor):
        return x if device is None else x.to(device)
    if isinstance(x, np.ndarray):
        # A tensor cannot be read-only: a read-only array (np.frombuffer, a decoded image, a
        # broadcast view) is copied, so no implementation can write through it, and torch's "NumPy
        # array is not writable" warning never reaches the user's log.
        a = np.ascontiguousarray(x) if x.flags.writeable else np.array(x, order="C", copy=True)
        t = torch.from_numpy(a)
        return t if device is None else t.to(device)
    return torch.as_tensor(x, device=device)


def _to_tensors(value: Any) -> tuple[Any, bool]:
    """Top-level positional/keyword values and one level of lists/tuples: ndarrays -> tensors."""
    if isinstance(value, np.ndarray) and value.dtype != object:
        return as_tensor(value), True
    if isinstance(value, (list, tuple)) and value and any(isinstance(v, np.ndarray) for v in value):
        converted = [as_tensor(v) if isinstance(v, np.ndarray) else v for v in value]
        return type(value)(converted) if isinstance(value, tuple) else converted, True
    return value, False


def to_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().resolve_conj().resolve_neg().numpy()
    if isinstance(value, tuple):
        return tuple(to_numpy(v) for v in value)
    if isinstance(value, list):
        return [to_numpy(v) for v in value]
    return value


def array_boundary(fn: Callable[..., Any], tensor_output: bool = False) -> Callable[..., Any]:
    """numpy in -> numpy out around a tensor implementation; tensors pass through untouched."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        saw_array = False
        new_args = []
        for a in args:
            a, was = _to_tensors(a)
            saw_array |= was
            new_args.append(a)
        for k, v in list(kwargs.items()):
            kwargs[k], was = _to_tensors(v)
            saw_array |= was
        out = fn(*new_args, **kwargs)
        return to_numpy(out) if saw_array and not tensor_output else out

    wrapper.__codedag_strategy__ = True
    return wrapper


# --- scoping: strategies only inside planned contexts -----------------------------------------

_scope = threading.local()


def active_device() -> torch.device | None:
    """The device of the planned context the calling thread is in, or None outside any."""
    stack = getattr(_scope, "stack", None)
    return stack[-1] if stack else None


@contextlib.contextmanager
def scope(device: torch.device | str) -> Iterator[None]:
    """Marks the calling thread as inside a planned context on ``device``: dispatchers run
    strategies. Nested scopes stack; leaving restores the outer one."""
    stack = getattr(_scope, "stack", None)
    if stack is None:
        stack = _scope.stack = []
    stack.append(torch.device(device))
    try:
        yield
    finally:
        stack.pop()


@contextlib.contextmanager
def suspended() -> Iterator[None]:
    """Leaves every planned scope for the duration (the CPU fallback runs the true original)."""
    saved = getattr(_scope, "stack", None)
    _scope.stack = []
    try:
        yield
    finally:
        _scope.stack = saved if saved is not None else []


def make_dispatcher(strategy: Strategy, original: Callable[..., Any]) -> Callable[..., Any]:
    """The callable installed in place of a library function while a plan is applied."""

    @functools.wraps(original)
    def dispatcher(*args, **kwargs):
        if active_device() is None:
            return original(*args, **kwargs)
        try:
            return strategy.impl(*args, **kwargs)
        except UnsupportedArguments:
            # Exactness first: arguments the strategy does not implement go to the library, with
            # any device tensors brought back to host arrays the library understands.
            return original(*to_numpy(list(args)), **{k: to_numpy(v) for k, v in kwargs.items()})

    dispatcher.__codedag_dispatcher__ = (strategy.name, original)
    return dispatcher
