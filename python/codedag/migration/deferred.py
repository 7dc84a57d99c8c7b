"""Batched mode: the planned suffix of a sample's pipeline is *deferred* in the DataLoader worker
(its inputs are carried through collation instead of being computed) and run afterwards, in the
main process, on the whole batch.

A worker-side call of a planned function returns a ``Deferred``: the function and its arguments,
which may themselves be ``Deferred`` (a chain, e.g. mel -> log -> normalise). ``collate_deferred``
turns the batch's per-sample chains into one ``DeferredBatch`` whose array arguments are collated
like ``default_collate`` would (stacked, in shared memory when in a worker). ``DeferredBatch.evaluate``
runs each step once over the batch when the function accepts a leading batch dimension (decided once
per function on a probe batch by comparing against per-sample results), else per sample.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import strategies
from .rng_state import RngWatch

_NUMBER = (int, float, bool, np.number)


class Deferred:
    """A planned call not made yet: ``fn(*args, **kwargs)`` of the function planned as ``key``."""

    __slots__ = ("key", "fn", "args", "kwargs", "owner", "_value")

    def __init__(self, key: str, fn: Callable[..., Any], args: tuple, kwargs: dict, owner: Any):
        self.key, self.fn, self.args, self.kwargs, self.owner = key, fn, args, kwargs, owner
        self._value = _UNSET

    def materialize(self, reason: str) -> Any:
        """Computes the chain here and now (per sample, on the CPU): the correct answer when code
        outside the plan looks at a deferred value. Counted as a fallback, warned once."""
        if self._value is _UNSET:
            if self.owner is not None:
                self.owner._note_fallback(self.key, f"its output was used by code outside the plan ({reason}); "
                                          "computed it in place")
            args, kwargs = _materialize_tree((self.args, self.kwargs), reason)
            with strategies.suspended():
                self._value = self.fn(*args, **kwargs)
        return self._value

    # Unplanned code touching the value gets the real value (correct, just not faster).
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(self.materialize(f"attribute {name!r}"), name)

    def __array__(self, dtype=None, copy=None):
        value = np.asarray(self.materialize("numpy conversion"))
        return value.astype(dtype) if dtype is not None else value

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        args, kwargs = _materialize_tree((args, kwargs or {}), getattr(func, "__name__", "a torch function"))
        return func(*args, **kwargs)

    def __getitem__(self, index):
        return self.materialize("indexing")[index]

    def __len__(self):
        return len(self.materialize("len()"))

    def __iter__(self):
        return iter(self.materialize("iteration"))

    def __getstate__(self):
        return {s: getattr(self, s) for s in ("key", "args", "kwargs", "_value")}

    def __setstate__(self, state):
        for k, v in state.items():
            object.__setattr__(self, k, v)
        object.__setattr__(self, "owner", None)
        object.__setattr__(self, "fn", _original_for(self.key))

    def __repr__(self) -> str:
        return f"<deferred {self.key}>"


def _forward(name: str):
    def op(self, *args):
        return getattr(self.materialize(f"operator {name}"), name)(*args)

    op.__name__ = name
    return op


# Operators on a deferred value (x * 1.0 in unplanned code) also compute it in place.
for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
              "__rtruediv__", "__floordiv__", "__mod__", "__pow__", "__rpow__", "__matmul__", "__rmatmul__",
              "__neg__", "__pos__", "__abs__", "__lt__", "__le__", "__gt__", "__ge__", "__and__", "__or__",
              "__invert__", "__float__", "__int__", "__index__", "__bool__", "__contains__",
              # ``with Image.open(p) as im:`` on a deferred call: Python looks the protocol up on the type.
              "__enter__", "__exit__"):
    setattr(Deferred, _name, _forward(_name))


class _Unset:
    """'No value' marker that stays the same object after pickling (workers -> main process)."""

    def __reduce__(self):
        return "_UNSET"

    def __repr__(self):
        return "<unset>"


_UNSET = _Unset()


def _original_for(key: str) -> Callable[..., Any] | None:
    from .migrator import applied_migrators

    for m in applied_migrators():
        if m._batched is not None and key in m._batched.originals:
            return m._batched.originals[key]
    return None


def _materialize_tree(tree: Any, reason: str) -> Any:
    """``tree`` with every Deferred in its tuples, lists and dicts computed; containers without a
    Deferred are the same objects (a function that mutates its list argument still mutates the
    caller's list)."""
    if isinstance(tree, Deferred):
        return tree.materialize(reason)
    if isinstance(tree, (tuple, list)):
        items = [_materialize_tree(t, reason) for t in tree]
        if all(a is b for a, b in zip(items, tree, strict=True)):
            return tree
        if isinstance(tree, tuple):
            return type(tree)(*items) if hasattr(tree, "_fields") else tuple(items)
        return items
    if isinstance(tree, dict) and type(tree) is dict:
        values = {k: _materialize_tree(v, reason) for k, v in tree.items()}
        return tree if all(values[k] is tree[k] for k in tree) else values
    return tree


# --- flattening one sample's chain ----------------------------------------------------------

# A sample's chain is flattened into (structure, leaves): the structure is the same for every
# sample of a batch (functions, constants, shapes of the argument trees); leaves are what varies.
# Structure items: ("node", i) refers to the i-th step; ("leaf", j) to the j-th leaf; ("const", v).


def _flatten(root: Deferred) -> tuple[list[tuple], list[Any], list[Any]]:
    steps: list[tuple] = []  # (key, fn, args_template, kwargs_template)
    leaves: list[Any] = []
    consts: list[Any] = []
    index_of: dict[int, int] = {}

    def template(value: Any) -> Any:
        if isinstance(value, Deferred):
            if value._value is not _UNSET:  # already materialized: its value is an ordinary leaf
                return template(value._value)
            if id(value) not in index_of:
                a = template(value.args)
                k = template(value.kwargs)
                steps.append((value.key, a, k))
                index_of[id(value)] = len(steps) - 1
            return ("node", index_of[id(value)])
        if isinstance(value, (torch.Tensor, np.ndarray, *_NUMBER)):
            leaves.append(value)
            return ("leaf", len(leaves) - 1)
        if isinstance(value, tuple):
            return ("tuple", tuple(template(v) for v in value))
        if isinstance(value, list):
            return ("list", tuple(template(v) for v in value))
        if isinstance(value, dict):
            return ("dict", tuple((k, template(v)) for k, v in value.items()))
        consts.append(value)
        return ("const", len(consts) - 1)

    template(root)
    return steps, leaves, consts


def _same_structure(a: list[tuple], b: list[tuple]) -> bool:
    return len(a) == len(b) and all(x == y for x, y in zip(a, b, strict=True))


def _same_const(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:
        return False


# --- collated leaves -------------------------------------------------------------------------


@dataclass
class Column:
    """One leaf position across the batch: stacked (tensor with a leading batch dim; ``numpy``
    says the samples were ndarrays) or a list (ragged shapes, or numbers that differ)."""

    stacked: Any = None
    items: list | None = None
    numpy: bool = False
    uniform: Any = _UNSET  # a number equal in every sample

    def sample(self, i: int) -> Any:
        if self.uniform is not _UNSET:
            return self.uniform
        if self.items is not None:
            return self.items[i]
        x = self.stacked[i]
        return x.numpy() if self.numpy else x

    def batched(self) -> Any:
        """The batch as one value a vectorised call receives, or _UNSET when there is none."""
        if self.uniform is not _UNSET:
            return self.uniform
        if self.stacked is None:
            return _UNSET
        return self.stacked.numpy() if self.numpy else self.stacked

    def rows(self, start: int, end: int) -> Column:
        """Samples ``start`` to ``end`` (a view of the stacked rows, no copy)."""
        if self.uniform is not _UNSET:
            return self
        if self.items is not None:
            return Column(items=self.items[start:end])
        return Column(stacked=self.stacked[start:end], numpy=self.numpy)


def _collate_column(values: list[Any]) -> Column:
    from torch.utils.data._utils.collate import default_collate

    first = values[0]
    if isinstance(first, _NUMBER) and not isinstance(first, np.ndarray):
        if all(type(v) is type(first) and v == first for v in values):
            return Column(uniform=first)
        return Column(items=list(values))
    if isinstance(first, torch.Tensor) and all(
        isinstance(v, torch.Tensor) and v.shape == first.shape and v.dtype == first.dtype for v in values
    ):
        return Column(stacked=default_collate(values))  # shared memory inside a worker
    if isinstance(first, np.ndarray) and first.dtype != object and all(
        isinstance(v, np.ndarray) and v.shape == first.shape and v.dtype == first.dtype for v in values
    ):
        return Column(stacked=default_collate([torch.from_numpy(np.ascontiguousarray(v)) for v in values]), numpy=True)
    return Column(items=list(values))


class DeferredBatch:
    """The deferred suffix of a whole batch, produced by collation, consumed by ``evaluate``."""

    def __init__(self, steps: list[tuple], columns: list[Column], consts: list[Any], size: int):
        self.steps, self.columns, self.consts, self.size = steps, columns, consts, size

    def pin_memory(self, *args, **kwargs) -> DeferredBatch:  # the pin thread sees it before we do
        return self

    def keys(self) -> list[str]:
        return [s[0] for s in self.steps]

    def evaluate(self, plan: BatchedPlan) -> Any:
        """The batch's output: the chain run over row chunks of the batch (all of it at once when
        it is small, see ``_chunk_rows``), the chunks' outputs joined in order. A batch is
        evaluated once (its inputs are freed as it runs)."""
        if self.columns is None:
            raise RuntimeError("this deferred batch was already evaluated (its inputs are freed as it runs)")
        columns, self.columns = self.columns, None
        outputs: list[_Value] = []
        start = 0
        rows = min(self.size, plan.first_chunk_rows(self.size))
        while start < self.size:
            end = min(self.size, start + rows)
            if self.size - end < 2:  # never a one-row tail: a vectorised call is judged on batches
                end = self.size
            whole = start == 0 and end == self.size
            chunk = DeferredBatch(self.steps, columns if whole else [c.rows(start, end) for c in columns],
                                  self.consts, end - start)
            value, live_bytes = chunk._run_chain(plan)
            outputs.append(value)
            if start == 0:
                rows = plan.chunk_rows(self.size, end - start, live_bytes)
            start = end
        del columns
        return (outputs[0] if len(outputs) == 1 else _join(outputs)).collated()

    def _run_chain(self, plan: BatchedPlan) -> tuple[_Value, int]:
        """Runs the steps in order over this (chunk of the) batch: (the last step's output, the
        most bytes of step outputs alive at once). Each step's output, and each input column, is
        dropped as soon as its last consumer has run: a chain of whole-batch intermediates (stft ->
        power -> mel -> log -> ...) would otherwise all stay alive until the end."""
        release = _release_points(self.steps)
        values: list[_Value | None] = []
        live = most = 0
        for i, (key, args_t, kwargs_t) in enumerate(self.steps):
            values.append(plan.run_step(key, plan.originals[key], args_t, kwargs_t, self, values))
            live += values[-1].nbytes()
            most = max(most, live)
            nodes, leaves = release[i]
            for j in nodes:
                live -= values[j].nbytes()
                values[j] = None
            for j in leaves:
                self.columns[j] = None
        return values[-1], most

    def __repr__(self) -> str:
        return f"<deferred batch of {self.size}: {' -> '.join(self.keys())}>"


def _refs(template: Any, nodes: set[int], leaves: set[int]) -> None:
    kind = template[0]
    if kind == "node":
        nodes.add(template[1])
    elif kind == "leaf":
        leaves.add(template[1])
    elif kind in ("tuple", "list"):
        for t in template[1]:
            _refs(t, nodes, leaves)
    elif kind == "dict":
        for _, t in template[1]:
            _refs(t, nodes, leaves)


def _release_points(steps: list[tuple]) -> list[tuple[list[int], list[int]]]:
    """Per step: the earlier steps' outputs and the input columns whose last consumer it is (the
    last step's own output is the result, never released)."""
    last_node: dict[int, int] = {}
    last_leaf: dict[int, int] = {}
    for i, (_, args_t, kwargs_t) in enumerate(steps):
        nodes: set[int] = set()
        leaves: set[int] = set()
        _refs(args_t, nodes, leaves)
        _refs(kwargs_t, nodes, leaves)
        for j in nodes:
            last_node[j] = i
        for j in leaves:
            last_leaf[j] = i
    out: list[tuple[list[int], list[int]]] = [([], []) for _ in steps]
    for j, i in last_node.items():
        if j != len(steps) - 1:
            out[i][0].append(j)
    for j, i in last_leaf.items():
        out[i][1].append(j)
    return out


def collate_deferred(batch: list[Deferred], *, collate_fn_map=None) -> Any:
    """The collate function registered for ``Deferred`` while a batched plan is applied."""
    from torch.utils.data._utils.collate import default_collate

    # Samples that are not deferred (a branch of the dataset that skipped the planned call) and
    # samples the dataset already read (``x.shape`` before returning x: computed in place then,
    # counted as a fallback there) are plain values here.
    read = [not isinstance(d, Deferred) or d._value is not _UNSET for d in batch]
    if all(read):
        return default_collate([d._value if isinstance(d, Deferred) else d for d in batch])
    flat = [_flatten(d) if isinstance(d, Deferred) else ([], [d], []) for d in batch]
    steps0, leaves0, consts0 = flat[0]
    consistent = all(
        _same_structure(steps0, s) and len(leaves0) == len(lv) and len(consts0) == len(c)
        and all(_same_const(x, y) for x, y in zip(consts0, c, strict=True))
        for s, lv, c in flat[1:]
    )
    if not consistent:
        # Samples took different planned paths (or carry different objects): compute them here,
        # per sample, exactly as without the plan.
        deferred = [d for d in batch if isinstance(d, Deferred)]
        owner = next((d.owner for d in deferred if d.owner is not None), None)
        if owner is not None:
            why = ("the dataset read some samples' values before returning them"
                   if all(isinstance(d, Deferred) for d in batch) and any(read) else
                   "samples of one batch made different planned calls (or passed different objects)")
            owner._note_fallback(deferred[0].key, f"{why}; computed per sample during collation")
        return default_collate([d.materialize("collation") if isinstance(d, Deferred) else d for d in batch])
    columns = [_collate_column([lv[j] for _, lv, _ in flat]) for j in range(len(leaves0))]
    return DeferredBatch(steps0, columns, consts0, len(batch))


# --- evaluation ------------------------------------------------------------------------------


class _Value:
    """A step's output over the batch: stacked (leading batch dim) or per sample."""

    def __init__(self, stacked: Any = None, items: list | None = None):
        self.stacked, self.items = stacked, items

    def sample(self, i: int) -> Any:
        return self.items[i] if self.items is not None else self.stacked[i]

    def batched(self) -> Any:
        return _UNSET if self.stacked is None else self.stacked

    def nbytes(self) -> int:
        """Bytes of the tensors and arrays it holds (what a chunk's size is judged by)."""
        return sum(_nbytes(x) for x in ([self.stacked] if self.stacked is not None else self.items or []))

    def collated(self) -> Any:
        from torch.utils.data._utils.collate import default_collate

        if self.stacked is not None:
            return torch.from_numpy(self.stacked) if isinstance(self.stacked, np.ndarray) else self.stacked
        return default_collate(self.items)


def _nbytes(x: Any) -> int:
    if isinstance(x, torch.Tensor):
        return x.element_size() * x.nelement()
    if isinstance(x, np.ndarray):
        return int(x.nbytes)
    if isinstance(x, (tuple, list)):
        return sum(_nbytes(v) for v in x)
    if isinstance(x, dict):
        return sum(_nbytes(v) for v in x.values())
    return 0


def _join(parts: list[_Value]) -> _Value:
    """The outputs of consecutive row chunks as the output of the whole batch: concatenated when
    every chunk is stacked alike (what the whole batch's step would have stacked), else per sample
    (what the whole batch's step would have given then: its items, collated later)."""
    stacked = [p.stacked for p in parts]
    first = stacked[0]
    if isinstance(first, torch.Tensor) and all(isinstance(x, torch.Tensor) and x.shape[1:] == first.shape[1:]
                                               and x.dtype == first.dtype for x in stacked):
        return _Value(stacked=torch.cat(stacked))
    if isinstance(first, np.ndarray) and all(isinstance(x, np.ndarray) and x.shape[1:] == first.shape[1:]
                                             and x.dtype == first.dtype for x in stacked):
        return _Value(stacked=np.concatenate(stacked))
    return _Value(items=[p.sample(i) for p in parts for i in range(len(p.items) if p.items is not None
                                                                      else p.stacked.shape[0])])


# Batched mode's memory: the chain's step outputs alive at once in the main process are kept near
# this many bytes by running the chain over row chunks of the batch (the ops' own temporaries, an
# stft's frames, come on top: about 5x these outputs on the audio demo). Measured on the demo
# (bench/peak_memory.py --compare, 2 forked workers, medians of 3): process-tree PSS over the
# untouched pipeline's 1.30x with whole batches, 1.24x at 4 MiB, 1.06-1.20x at 2 MiB; the plan's
# throughput over untouched went from 1.52x to 1.28x at 2 MiB (fewer rows per vectorised call).
CHUNK_BYTES = 2 << 20
FIRST_CHUNK_ROWS = 8  # rows of the first chunk, whose step outputs size the others


def _stack(items: list[Any]) -> Any:
    first = items[0]
    if isinstance(first, torch.Tensor) and all(isinstance(x, torch.Tensor) and x.shape == first.shape
                                               and x.dtype == first.dtype for x in items):
        return torch.stack(items)
    if isinstance(first, np.ndarray) and all(isinstance(x, np.ndarray) and x.shape == first.shape
                                             and x.dtype == first.dtype for x in items):
        return np.stack(items)
    return None


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        a = torch.from_numpy(a)
    if isinstance(b, np.ndarray):
        b = torch.from_numpy(b)
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return False
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    a, b = a.detach().cpu(), b.detach().cpu()
    if not (a.is_floating_point() or a.is_complex()):
        return bool(torch.equal(a, b))
    return bool(torch.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True))


class BatchedPlan:
    """How deferred steps run in the main process: on which device, and (per function, decided
    once on a probe batch) whether one call over the batch gives the per-sample results."""

    def __init__(self, originals: dict[str, Callable[..., Any]], devices: dict[str, torch.device],
                 tensor_path: dict[str, bool], owner: Any):
        # Functions travel between processes by plan key, never by pickling the function: in a
        # patched process its module attribute is the wrapper, which pickle would refuse.
        self.originals, self.devices, self.tensor_path, self.owner = originals, devices, tensor_path, owner
        self.vectorised: dict[str, bool] = {}
        # Functions seen drawing randomness -> the generators they drew from (never vectorised
        # unless the registry declares per-sample randomness for them: random_strategies).
        self.stochastic: dict[str, list[str]] = {}
        self.random_strategies: dict[str, strategies.Strategy] = {}
        self._watches: dict[str, RngWatch] = {}
        self.calibrating = False  # time every step both ways (closed-loop calibration)
        self.timings: dict[str, dict] = {}
        self._lock = threading.Lock()
        # Row chunks (see DeferredBatch.evaluate): None runs every batch whole.
        self.chunk_bytes: float | None = CHUNK_BYTES
        self.row_bytes = 0.0  # most bytes of step outputs alive at once, per row, seen so far

    def first_chunk_rows(self, size: int) -> int:
        """Rows of a batch's first chunk: once this process knows the chain's bytes per row, as many
        as fit ``chunk_bytes``; before, ``FIRST_CHUNK_ROWS`` (measured, they size the rest)."""
        if self.chunk_bytes is None:
            return size
        if self.row_bytes:
            return max(2, int(self.chunk_bytes // self.row_bytes))
        return FIRST_CHUNK_ROWS

    def chunk_rows(self, size: int, rows: int, live_bytes: int) -> int:
        """Rows per chunk from a chunk of ``rows`` rows that had ``live_bytes`` of step outputs
        alive at once: as many as fit ``chunk_bytes``, at least 2 (a vectorised call needs a batch)."""
        if live_bytes > 0 and rows > 0:
            self.row_bytes = max(self.row_bytes, live_bytes / rows)
        if self.chunk_bytes is None or not self.row_bytes:
            return size
        return max(2, int(self.chunk_bytes // self.row_bytes))

    def _build(self, template: Any, pick: Callable[[tuple], Any], device: torch.device, to_tensor: bool) -> Any:
        kind = template[0]
        if kind in ("leaf", "node"):
            value = pick(template)
            if value is _UNSET:
                raise _NotBatched
            if to_tensor and isinstance(value, np.ndarray):
                value = torch.from_numpy(value)
            if isinstance(value, torch.Tensor) and value.device != device:
                value = value.to(device, non_blocking=True)
            return value
        if kind == "const":
            return pick(template)
        if kind == "tuple":
            return tuple(self._build(t, pick, device, to_tensor) for t in template[1])
        if kind == "list":
            return [self._build(t, pick, device, to_tensor) for t in template[1]]
        if kind == "dict":
            return {k: self._build(t, pick, device, to_tensor) for k, t in template[1]}
        raise AssertionError(kind)

    def run_step(self, key, fn, args_t, kwargs_t, batch: DeferredBatch, values: list[_Value]) -> _Value:
        device = self.devices.get(key, torch.device("cpu"))
        to_tensor = self.tensor_path.get(key, False)

        def batched_pick(t):
            if t[0] == "leaf":
                return batch.columns[t[1]].batched()
            if t[0] == "node":
                return values[t[1]].batched()
            return batch.consts[t[1]]

        def call(pick, impl=fn):
            args = self._build(args_t, pick, device, to_tensor)
            kwargs = self._build(kwargs_t, pick, device, to_tensor)
            with strategies.scope(device), _evaluating():
                return impl(*args, **kwargs)

        def per_sample() -> _Value:
            items = []
            for i in range(batch.size):
                def pick(t, i=i):
                    if t[0] == "leaf":
                        return batch.columns[t[1]].sample(i)
                    if t[0] == "node":
                        return values[t[1]].sample(i)
                    return batch.consts[t[1]]
                items.append(call(pick))
            stacked = _stack(items)
            return _Value(stacked=stacked) if stacked is not None else _Value(items=items)

        moved = device.type != "cpu" or to_tensor
        try:
            return self._run(key, fn, call, batched_pick, per_sample, batch.consts)
        except Exception as exc:
            if not moved:
                raise  # the host path is the user's own code: its errors are theirs, unchanged
            # Fallback: the step failed on its executor; run it per sample on the CPU as written.
            if self.owner is not None:
                self.owner._note_fallback(key, f"failed on {device} ({type(exc).__name__}: {exc}); ran on the CPU")
            device, to_tensor = torch.device("cpu"), False
            with strategies.suspended():
                return per_sample()

    def _watch(self, key: str, fn: Callable[..., Any]) -> RngWatch:
        watch = self._watches.get(key)
        if watch is None:
            watch = self._watches[key] = RngWatch(fn)
        return watch

    def _draws_randomness(self, key: str, generators: list[str]) -> None:
        with self._lock:
            self.vectorised[key] = False
            self.stochastic[key] = sorted(set(self.stochastic.get(key, [])) | set(generators))

    def _run(self, key, fn, call, batched_pick, per_sample, consts) -> _Value:
        decision = self.vectorised.get(key)
        if decision is not None and self.calibrating:
            return self._timed(key, decision, call, batched_pick, per_sample)
        strategy = self.random_strategies.get(key)
        if strategy is not None:  # declared per-sample randomness over a batch (registry)
            try:
                return _Value(stacked=call(batched_pick, strategy.impl))
            except _NotBatched:
                return per_sample()
        if decision is False:
            return per_sample()
        # Whether the function draws randomness is judged by generator state, not by outputs: a
        # batched call of a random function can agree with its per-sample calls by luck.
        watch = self._watch(key, fn)
        before = watch.snapshot(consts)
        try:
            out = call(batched_pick)
        except _NotBatched:
            before.restore()
            return per_sample()
        except Exception:
            # Does not accept a batch dimension (or not this batch): per sample from now on. What
            # the failed attempt drew is rewound: the per-sample calls draw as they would unmigrated.
            before.restore()
            with self._lock:
                self.vectorised[key] = False
            return per_sample()
        drew = before.consumed()
        if drew:
            before.restore()
            self._draws_randomness(key, drew)
            strategy = strategies.per_sample_random(key)
            if strategy is not None:
                with self._lock:
                    self.random_strategies[key] = strategy
                return self._run(key, fn, call, batched_pick, per_sample, consts)
            return per_sample()
        if decision is None:
            # Probe: one call over the batch must equal the per-sample calls, else per sample.
            probe = watch.snapshot(consts)
            reference = per_sample()
            drew = probe.consumed()
            if drew:  # the per-sample calls draw (a branch the batched call did not take)
                self._draws_randomness(key, drew)
                return reference
            ok = reference.stacked is not None and _equal(out, reference.stacked)
            if ok:
                ok = _samples_stay_apart(call, batched_pick, out)
            with self._lock:
                self.vectorised[key] = ok
            return reference
        return _Value(stacked=out)

    def _timed(self, key, decision, call, batched_pick, per_sample) -> _Value:
        """Calibration: the step both ways (over the batch as decided, and per sample as the workers
        would), timed, so the cost model's batch speedup is measured rather than assumed."""
        t0 = time.perf_counter_ns()
        reference = per_sample()
        t1 = time.perf_counter_ns()
        if decision:
            try:
                out = _Value(stacked=call(batched_pick))
            except _NotBatched:
                out = reference
        else:
            out = reference
        t2 = time.perf_counter_ns() if decision else t1 + (t1 - t0)
        record = self.timings.setdefault(key, {"per_sample_ns": 0, "batch_ns": 0, "batches": 0})
        record["per_sample_ns"] += t1 - t0
        record["batch_ns"] += t2 - t1
        record["batches"] += 1
        return out


def _samples_stay_apart(call: Callable[[Any], Any], batched_pick: Callable[[tuple], Any], out: Any) -> bool:
    """Whether one call over the batch keeps its samples apart: the first sample's inputs pushed far
    off (floats x1000 + 1000, integers to their maximum, booleans inverted), every other sample's
    output must stay as it was. Equality with the per-sample calls on one probe batch can be luck:
    ``db.max() - 80`` over the batch equals the per-sample maxima's clamp whenever nothing is that
    quiet in this batch, and clamps other samples in the next (a batch statistic, a norm over the
    batch). A call that fails on the pushed inputs is not trusted either."""
    size = out.shape[0] if isinstance(out, (torch.Tensor, np.ndarray)) and out.ndim else 0
    if size < 2:
        return True  # a single sample has nobody to depend on

    def push(value: Any) -> Any:
        if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == size and value.dtype != object:
            return push(torch.from_numpy(np.array(value, copy=True))).numpy()
        if not (isinstance(value, torch.Tensor) and value.ndim and value.shape[0] == size):
            return value
        value = value.clone()
        if value.dtype == torch.bool:
            value[0] = ~value[0]
        elif value.is_floating_point() or value.is_complex():
            value[0] = value[0] * 1000 + 1000
        else:
            value[0] = torch.iinfo(value.dtype).max
        return value

    def pushed_pick(t):
        value = batched_pick(t)
        return push(value) if t[0] in ("leaf", "node") else value

    try:
        pushed = call(pushed_pick)
    except Exception:
        return False
    if not isinstance(pushed, (torch.Tensor, np.ndarray)) or pushed.shape != out.shape:
        return False
    return _equal(pushed[1:], out[1:])


class _NotBatched(Exception):
    """Some input of the step has no single batched value (ragged shapes, differing numbers)."""


_state = threading.local()


class _evaluating:
    """While deferred steps run in the main process, planned functions they call run directly."""

    def __enter__(self):
        _state.depth = getattr(_state, "depth", 0) + 1

    def __exit__(self, *exc):
        _state.depth -= 1


def is_evaluating() -> bool:
    return getattr(_state, "depth", 0) > 0


def warn_once(seen: set, lock: threading.Lock, key: str, message: str) -> None:
    with lock:
        if key in seen:
            return
        seen.add(key)
    warnings.warn(f"codedag migration: {key}: {message}", RuntimeWarning, stacklevel=3)
