"""Which planned calls may hand out a ``Deferred``: only those whose value is seen to reach the batch.

A deferred value is a promise that the call will be made later, in the main process, on the whole
batch. That is only correct when every consumer of the value is planned too (it defers as well) or is
collation. Code outside the plan gets a real value when it touches the promise from Python (an
attribute, an operator, ``np.asarray``: computed in place), but C code cannot: ``torch.from_numpy``,
numpy's seed coercion, librosa's type checks, numba raise on it, and some C code may misread it
silently. The trace cannot tell where a value goes: a library call's output returned by its caller
is attributed to the caller, and calls made from inside C code (``np.random.default_rng`` calling
``np.concatenate``) look like calls of the nearest Python frame.

So deferral is earned, per plan key and per process (each DataLoader worker decides for itself):
the first fetch that calls a key runs it in place (the real value, as without the plan) and watches
where each of its values goes. A key defers from then on only when every value it produced in that
fetch reached the samples handed to collation (found by identity in the sample's tuples, lists and
dicts, or inside another planned call's deferred arguments), or was an argument of a planned call
that itself qualified. Any other key runs in place for the life of the process, counted once as a
fallback with the reason. A key first called in a later fetch (another branch of the pipeline) gets
its own first fetch.

What one process learned is shared (``SharedDecisions``, in shared memory): the main process and
every DataLoader worker of the plan, forked or spawned, in this epoch and the later ones, read the
decisions the others made, so only the first process to meet a key pays its in-place first fetch.
A refusal anywhere wins over deferral everywhere (a value seen reaching code outside the plan in
one process may reach it in another).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .deferred import Deferred

_WALK_DEPTH = 8
_WALK_LIMIT = 20_000  # objects looked at per fetch: a sample holding a million items is not walked


def _trackable(value: Any) -> bool:
    # Identity says nothing about small ints, strings or None (interned, shared by everyone).
    return isinstance(value, (torch.Tensor, np.ndarray, list, dict, tuple)) or (
        not isinstance(value, (int, float, complex, str, bytes, bool, type(None), np.number)))


class SharedDecisions:
    """The decisions of every process of one plan: per key, an "earned" and a "refused" byte in
    shared memory (separate bytes, so concurrent writers never lose a refusal). Created in the main
    process; inherited by forked workers, handed to spawned ones by their worker_init_fn."""

    def __init__(self, keys: list[str]):
        import multiprocessing

        self.keys = sorted(set(keys))
        self._index = {k: i for i, k in enumerate(self.keys)}
        self._earned = multiprocessing.get_context("spawn").RawArray("b", max(1, len(self.keys)))
        self._refused = multiprocessing.get_context("spawn").RawArray("b", max(1, len(self.keys)))

    def __getstate__(self) -> dict:
        return {"keys": self.keys, "earned": self._earned, "refused": self._refused}

    def __setstate__(self, state: dict) -> None:
        self.keys, self._earned, self._refused = state["keys"], state["earned"], state["refused"]
        self._index = {k: i for i, k in enumerate(self.keys)}

    def get(self, key: str) -> bool | None:
        i = self._index.get(key)
        if i is None:
            return None
        if self._refused[i]:
            return False
        return True if self._earned[i] else None

    def put(self, key: str, defers: bool) -> None:
        i = self._index.get(key)
        if i is not None:
            (self._earned if defers else self._refused)[i] = 1


class DeferralGate:
    """One migrator's decisions: key -> True (defers) / False (runs in place); made in this process
    or read from the other processes of the plan (``shared``)."""

    def __init__(self, note: Callable[[str, str], None], shared: SharedDecisions | None = None):
        self._note = note
        self.shared = shared
        self.decided: dict[str, bool] = {}
        self._lock = threading.Lock()
        # The fetch under watch: id(value) -> (keys, value) of values made in place by undecided keys
        # (several keys when planned calls nest and the outer returns the inner's value, as a Compose
        # returns its last transform's), id(value) -> planned keys that received it as an argument.
        self._outputs: dict[int, tuple[list[str], Any]] = {}
        self._fed: dict[int, set[str]] = {}
        self._unfollowable: set[str] = set()  # keys that returned a number or a string in this fetch
        self._deferred_now: set[str] = set()  # keys that deferred in the fetch under way

    def state(self, key: str) -> bool | None:
        local = self.decided.get(key)
        if local is False or self.shared is None:
            return local
        other = self.shared.get(key)
        if other is None:
            return local
        if other != local:  # another process decided (or refused what this one deferred)
            self.decided[key] = other
        return other

    def watching(self) -> bool:
        return bool(self._outputs or self._unfollowable)

    def ran_in_place(self, key: str, args: Any, out: Any) -> None:
        """An undecided key ran in place: remember its value and which watched values it consumed."""
        with self._lock:
            self.received(key, args)
            if _trackable(out):
                keys, _ = self._outputs.setdefault(id(out), ([], out))
                if key not in keys:
                    keys.append(key)
            else:  # a number or a string: where it goes cannot be followed, so it never defers
                self._unfollowable.add(key)

    def received(self, key: str, args: Any) -> None:
        """A planned call (deferred or in place) got ``args``: watched values among them feed ``key``."""
        if not self._outputs:
            return
        for oid in _ids(args, self._outputs):
            self._fed.setdefault(oid, set()).add(key)

    def collating(self, samples: Any, outside: str = "") -> None:
        """Collation is about to receive ``samples``: decide every key watched in this fetch.
        ``outside``: the name of the loader's collate function when it is code outside the plan
        (then nothing reaches a planned consumer)."""
        with self._lock:
            if not (self._outputs or self._unfollowable):
                return
            outputs, fed, unfollowable = self._outputs, self._fed, self._unfollowable
            self._outputs, self._fed, self._unfollowable = {}, {}, set()
            reached = set() if outside else _ids(samples, outputs)
            verdict = {key: True for keys, _ in outputs.values() for key in keys}
            verdict.update((key, False) for key in unfollowable)
            # Fixed point: a value is fine when it reached collation, or fed a planned key that is
            # (or will be) deferring; a key defers when all its values are fine.
            changed = True
            while changed:
                changed = False
                for oid, (keys, _) in outputs.items():
                    if oid in reached:
                        continue
                    consumers = fed.get(oid, set())
                    fine = bool(consumers) and all(self._defers(c, verdict) for c in consumers)
                    for key in keys:
                        if verdict[key] and not fine:
                            verdict[key] = False
                            changed = True
            refused = []
            for key, ok in verdict.items():
                if key not in self.decided:
                    self.decided[key] = ok
                    if self.shared is not None:
                        self.shared.put(key, ok)
                    if not ok:
                        refused.append(key)
        where = (f"the loader's collate_fn {outside} is code outside the plan" if outside
                 else "its value went to code outside the plan, not (only) to the batch")
        for key in refused:  # outside the lock: noting may warn
            self._note(key, f"{where}; a deferred value there would be wrong, so it runs in place")

    def _defers(self, key: str, verdict: dict[str, bool]) -> bool:
        return verdict[key] if key in verdict else bool(self.state(key))

    def begin_fetch(self) -> None:
        with self._lock:  # what a failed fetch left under watch is no evidence (ids get reused)
            self._deferred_now, self._outputs, self._fed, self._unfollowable = set(), {}, {}, set()

    def deferred(self, key: str) -> None:
        """``key`` handed out a Deferred in the fetch under way."""
        self._deferred_now.add(key)

    def deferred_in_fetch(self) -> set[str]:
        return set(self._deferred_now)

    def refuse(self, key: str, reason: str) -> None:
        """A key whose deferred value broke code outside the plan: in place from now on."""
        with self._lock:
            if self.decided.get(key) is False:
                return
            self.decided[key] = False
            if self.shared is not None:
                self.shared.put(key, False)
        self._note(key, reason)


def _ids(tree: Any, wanted: dict[int, Any]) -> set[int]:
    """ids of ``wanted`` objects found in ``tree`` (tuples, lists, dicts and the arguments of
    deferred calls), bounded in depth and size."""
    found: set[int] = set()
    budget = [_WALK_LIMIT]

    def walk(value: Any, depth: int) -> None:
        if budget[0] <= 0:
            return
        budget[0] -= 1
        if id(value) in wanted:
            found.add(id(value))
        if depth <= 0:
            return
        if isinstance(value, Deferred):
            walk(value.args, depth - 1)  # a planned call's arguments travel to collation with it
            walk(value.kwargs, depth - 1)
        elif isinstance(value, (tuple, list)):
            for v in value:
                walk(v, depth - 1)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v, depth - 1)

    walk(tree, _WALK_DEPTH)
    return found


def unplanned_collate(collate_fn: Any) -> str:
    """The name of the loader's collate function when it is code outside the plan; "" for torch's
    ``default_collate``/``default_convert`` (deferred values have their collation) or a planned one."""
    from torch.utils.data._utils import collate

    fn = getattr(collate_fn, "func", collate_fn)  # functools.partial(collate, collate_fn_map=...)
    if fn in (collate.default_collate, collate.default_convert, collate.collate):
        return ""
    if getattr(collate_fn, "__codedag_key__", None) is not None:
        return ""
    name = getattr(collate_fn, "__qualname__", None) or type(collate_fn).__qualname__
    return f"{getattr(collate_fn, '__module__', '') or ''}.{name}".lstrip(".")


def watch_fetcher(fetcher: Any, gate_of: Callable[[], DeferralGate | None]) -> None:
    """Makes ``fetcher`` (a torch dataset fetcher) tell the gate what reaches its collate function,
    and (map-style datasets) fetch a batch again, in place, when a deferred value broke code outside
    the plan."""
    from torch.utils.data._utils.fetch import _MapDatasetFetcher

    collate_fn = fetcher.collate_fn
    if getattr(collate_fn, "__codedag_gate__", False):
        return
    outside = unplanned_collate(collate_fn)

    def collate(samples):
        gate = gate_of()
        if gate is not None and gate.watching():
            gate.collating(samples, outside)
        return collate_fn(samples)

    collate.__codedag_gate__ = True
    fetcher.collate_fn = collate
    if isinstance(fetcher, _MapDatasetFetcher):  # a stream's fetch cannot be repeated
        fetcher.fetch = _fetching_again(fetcher.fetch, fetcher.dataset, gate_of)


def _fetching_again(fetch: Callable[[Any], Any], dataset: Any, gate_of: Callable[[], DeferralGate | None]):
    """A deferred value can still meet code outside the plan after its key earned deferral (another
    branch of the dataset). When the fetch then raises, the keys deferred in it run in place from now
    on and the batch is fetched again, the generators the samples draw from (the process's and the
    dataset's own) rewound first, so the batch is the one the untouched loader gives."""
    from .rng_state import RngSnapshot, global_generators, reachable_generators

    own = [("a generator of the dataset", rng) for rng in reachable_generators([dataset])]

    def guarded(index):
        gate = gate_of()
        if gate is None:
            return fetch(index)
        while True:
            snapshot = RngSnapshot(global_generators() + own)
            gate.begin_fetch()
            try:
                return fetch(index)
            except Exception as exc:
                keys = gate.deferred_in_fetch()
                if not keys:
                    raise  # the dataset's own error, unchanged
                for key in keys:
                    gate.refuse(key, f"its deferred value reached code outside the plan, which raised "
                                     f"{type(exc).__name__}: {str(exc)[:160]}; the batch was fetched again with it "
                                     "in place")
                snapshot.restore()

    return guarded
