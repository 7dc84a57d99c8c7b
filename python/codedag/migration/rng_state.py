"""Which random number generators a call draws from, judged by their state before and after it.

A planned step is vectorised (one call over the batch instead of one per sample) only when the
batched call gives the per-sample results. Comparing outputs cannot judge a function that draws
randomness: ``x.flip(-1) if np.random.rand() < .5 else x`` agrees with its per-sample calls whenever
the draws of the probe batch happen to agree, and from then on whole batches would be flipped
all-or-nothing. A function that *consumes* generator state is therefore never vectorised
(deferred.py asks ``RngWatch.consumed``), whatever its outputs looked like.

Watched: the process-wide generators (``random``, numpy's legacy global ``RandomState``, torch's
default CPU generator) and every ``random.Random``, ``numpy.random.RandomState``/``Generator`` and
``torch.Generator`` reachable from the call: its arguments, the function's closure and the module
globals its code names, and the attributes of those objects two levels deep (``self.rng``,
``self.aug.rng``). A generator created inside the call from fresh OS entropy is not visible here; its
outputs are not reproducible, which verification reports.
"""

from __future__ import annotations

import inspect
import random
import types
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

_RNG_TYPES = (random.Random, np.random.RandomState, np.random.Generator, torch.Generator)
_SCAN_DEPTH = 2
_SCAN_LIMIT = 2000  # objects looked at per scan: a dataset holding a million items is not walked


def _state(rng: Any) -> Any:
    if isinstance(rng, random.Random):
        return rng.getstate()
    if isinstance(rng, np.random.RandomState):
        return rng.get_state(legacy=False)
    if isinstance(rng, np.random.Generator):
        return rng.bit_generator.state
    return rng.get_state()  # torch.Generator: a ByteTensor copy


def _set_state(rng: Any, state: Any) -> None:
    if isinstance(rng, random.Random):
        rng.setstate(state)
    elif isinstance(rng, np.random.RandomState):
        rng.set_state(state)
    elif isinstance(rng, np.random.Generator):
        rng.bit_generator.state = state
    else:
        rng.set_state(state)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and bool(np.array_equal(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def global_generators() -> list[tuple[str, Any]]:
    """The process-wide generators: (name, generator)."""
    return [("random", random._inst), ("numpy.random", np.random.mtrand._rand),
            ("torch", torch.default_generator)]


def _describe(rng: Any) -> str:
    return {random.Random: "a random.Random", np.random.RandomState: "a numpy RandomState",
            np.random.Generator: "a numpy Generator", torch.Generator: "a torch.Generator"}.get(
        type(rng), f"a {type(rng).__name__}")


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _code_names(const)
    return names


def _roots_of(fn: Callable[..., Any]) -> list[Any]:
    """What a function can reach without arguments: its bound self, closure, and named globals."""
    fn = inspect.unwrap(fn)
    roots: list[Any] = []
    owner = getattr(fn, "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType):
        roots.append(owner)
    fn = getattr(fn, "__func__", fn)
    if not isinstance(fn, types.FunctionType) and callable(fn):
        # A callable instance: its own state and its class's __call__.
        call = next((c.__dict__["__call__"] for c in type(fn).__mro__ if "__call__" in c.__dict__), None)
        roots.append(fn)
        fn = getattr(call, "__func__", call)
    code = getattr(fn, "__code__", None)
    if code is None:
        return roots
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            roots.append(cell.cell_contents)
        except ValueError:  # an empty cell
            continue
    module_globals = getattr(fn, "__globals__", {})
    for name in _code_names(code):
        if name in module_globals:
            roots.append(module_globals[name])
    return roots


def reachable_generators(roots: Iterable[Any], depth: int = _SCAN_DEPTH) -> list[Any]:
    """Generators among ``roots`` and their attributes/items up to ``depth`` levels."""
    found: dict[int, Any] = {}
    seen: set[int] = set()
    budget = [_SCAN_LIMIT]

    def visit(obj: Any, level: int) -> None:
        if budget[0] <= 0 or id(obj) in seen:
            return
        seen.add(id(obj))
        budget[0] -= 1
        if isinstance(obj, _RNG_TYPES):
            found[id(obj)] = obj
            return
        if level >= depth or isinstance(obj, (str, bytes, int, float, bool, type(None), torch.Tensor, np.ndarray,
                                              types.ModuleType, types.FunctionType, type)):
            return
        if isinstance(obj, dict):
            children = list(obj.values())[:64]
        elif isinstance(obj, (list, tuple)):
            children = list(obj)[:64]
        else:
            try:
                children = list(vars(obj).values())[:64]
            except TypeError:  # no __dict__ (slots, C objects)
                children = [getattr(obj, s, None) for s in getattr(type(obj), "__slots__", ())][:64]
        for child in children:
            visit(child, level + 1)

    for root in roots:
        visit(root, 0)
    return list(found.values())


class RngSnapshot:
    """Generator states at one moment: ``consumed`` says which changed since, ``restore`` rewinds them."""

    def __init__(self, generators: list[tuple[str, Any]]):
        self.entries = [(name, rng, _state(rng)) for name, rng in generators]

    def consumed(self) -> list[str]:
        """Names of the generators whose state changed since the snapshot."""
        return [name for name, rng, state in self.entries if not _same(_state(rng), state)]

    def restore(self) -> None:
        for _, rng, state in self.entries:
            _set_state(rng, state)


class RngWatch:
    """The generators one planned function can draw from (found once), snapshotted around calls."""

    def __init__(self, fn: Callable[..., Any]):
        self.local = [(f"{_describe(rng)} reachable from the function", rng)
                      for rng in reachable_generators(_roots_of(fn))]

    def snapshot(self, arguments: Iterable[Any] = ()) -> RngSnapshot:
        """Snapshot of the global generators, the function's own and those reachable from ``arguments``."""
        known = {id(rng) for _, rng in self.local} | {id(rng) for _, rng in global_generators()}
        extra = [(f"{_describe(rng)} passed to the call", rng)
                 for rng in reachable_generators(arguments) if id(rng) not in known]
        return RngSnapshot(global_generators() + self.local + extra)
