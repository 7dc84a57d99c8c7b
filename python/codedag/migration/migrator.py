"""PipelineMigrator: applies a codedag.plan/1 to the live program and takes it back.

``apply()`` resolves each planned qualified name to the live function, replaces every binding of
it with a wrapper that runs the call on the planned executor, and ``restore()`` puts the identical
original objects back. Everything installed is recorded first and undone in reverse on failure, so
a half-applied plan never survives an exception.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any

import numpy as np
import torch

from .. import libraries, strategies
from ..graph import load_plan
from . import call_sites
from .batched_loader import PlanLoaderHook, should_defer
from .deferral_gate import DeferralGate, SharedDecisions
from .deferred import BatchedPlan, Deferred, DeferredBatch, _materialize_tree, warn_once
from .executors import ExecutorUnavailable, parse_executor
from .resolve import Binding, Target, Unresolvable, module_bindings, resolve
from .worker_report import worker_report

_registry_lock = threading.RLock()
_applied: list[PipelineMigrator] = []
_direct = threading.local()  # > 0: planned wrappers call straight through (CPU fallback in progress)


def applied_migrators() -> list[PipelineMigrator]:
    with _registry_lock:
        return list(_applied)


def _bypassing() -> bool:
    return getattr(_direct, "depth", 0) > 0


class _bypass:
    def __enter__(self):
        _direct.depth = getattr(_direct, "depth", 0) + 1

    def __exit__(self, *exc):
        _direct.depth -= 1


def _move(value: Any, device: torch.device, arrays: bool) -> Any:
    """Tensors (and with ``arrays`` ndarrays) -> ``device``, recursively through containers. A
    result that would share memory with the caller's object is cloned, so a failing call can never
    have mutated the arguments the CPU fallback reuses."""
    if isinstance(value, torch.Tensor):
        moved = value.to(device)
        return moved.clone() if moved.data_ptr() == value.data_ptr() else moved
    if arrays and isinstance(value, np.ndarray) and value.dtype != object:
        return torch.from_numpy(np.array(value, copy=True)).to(device)
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_move(v, device, arrays) for v in value)
    if isinstance(value, list):
        return [_move(v, device, arrays) for v in value]
    if isinstance(value, dict) and type(value) is dict:
        return {k: _move(v, device, arrays) for k, v in value.items()}
    return value


class PipelineMigrator:
    """Applies a migration plan to unchanged code. Use ``from_plan``; then ``apply``/``restore``
    or ``with migrator:``."""

    def __init__(self, plan: Any, default_device: str | None = None, use_registry: str = "auto",
                 batch_threads: int | None = None, loader: Any = None, apply_workers: bool = False,
                 apply_batch_size: bool = False, limit_worker_threads: bool = True):
        if use_registry not in ("auto", "always", "never"):
            raise _input_error(f"use_registry must be 'auto', 'always' or 'never', not {use_registry!r}")
        if batch_threads is not None and (isinstance(batch_threads, bool) or not isinstance(batch_threads, int)
                                          or batch_threads < 1):
            raise _input_error(f"batch_threads must be a whole number of at least 1 (or None: the cores the "
                               f"DataLoader workers leave), not {batch_threads!r}")
        self.batch_threads = batch_threads
        self.plan = _retarget(load_plan(plan), default_device)
        self._loader_settings = None
        if apply_batch_size and not apply_workers:
            raise _input_error("apply_batch_size=True goes with apply_workers=True (the plan's parallelism is "
                               "applied as a whole)")
        if apply_workers:
            if loader is None:
                raise _input_error("apply_workers=True needs loader=<the DataLoader whose worker count the plan sets>")
            parallelism = self.plan.get("parallelism")
            if parallelism is not None:
                from .loader_settings import LoaderSettings

                suggested = int(parallelism.get("suggested_batch_size") or 0) if apply_batch_size else 0
                limit = limit_worker_threads and parallelism.get("limit_threads", True)
                threads = parallelism.get("threads_per_worker") if limit else None
                self._loader_settings = LoaderSettings(loader, parallelism["workers"], threads,
                                                       batch_size=suggested or None)
        self.default_device = self.plan["default_device"]
        self.use_registry = use_registry
        self.options = {"default_device": default_device, "use_registry": use_registry,
                        "batch_threads": batch_threads}
        self._lock = threading.RLock()
        self._installed: list[tuple[Binding, Any]] = []  # (binding, what we put there)
        self._hooks: PlanLoaderHook | None = None
        self._batched: BatchedPlan | None = None
        self._warned: set[str] = set()
        self._warn_lock = threading.Lock()
        self._in_worker = False
        self.output_contexts: dict[str, list[str]] = {}  # batch position -> planned contexts behind it
        self._fallback_counts: dict[str, int] = {}  # in this process
        self._fallback_reasons: dict[str, str] = {}  # key -> the first reason
        self._worker_reports: list[Any] = []  # WorkerFallbacks of every batched apply (workers write them)
        # Which planned calls have earned deferral (deferral_gate.py), shared with the plan's
        # DataLoader workers; decisions survive restore()/apply() cycles, like the vectorisation probes.
        self._gate = DeferralGate(self._note_fallback)
        self._stats: dict[str, Any] = self._fresh_stats()

    @classmethod
    def from_plan(cls, plan: Any, default_device: str | None = None, use_registry: str = "auto",
                  batch_threads: int | None = None, loader: Any = None,
                  apply_workers: bool = False, apply_batch_size: bool = False,
                  limit_worker_threads: bool = True) -> PipelineMigrator:
        """``plan``: a codedag.plan/1 dict or a path to one, read by the engine's plan reader (a
        hand-written plan needs only ``schema`` and ``context_device_map``). ``default_device``: run
        what the plan puts on its own ``default_device`` on this executor instead (e.g. "cuda:1");
        None: as planned. ``use_registry``: "auto" runs library
        calls through the strategy registry on non-CPU executors, "always" on every moved context
        (the same code path a GPU takes, on the CPU), "never" not at all. ``batch_threads``: torch
        threads for batch work in the main process (default: the cores the workers leave free).
        ``apply_workers`` (opt-in, with ``loader``): also give ``loader`` the plan's worker count and
        threads per worker (its ``parallelism``), restored by ``restore()``; persistent workers are
        restarted both times so none runs a stale setting. ``apply_batch_size`` (a further opt-in, with
        ``apply_workers``): also the batch size the plan suggests (``parallelism.suggested_batch_size``);
        it changes training (fewer, larger optimiser steps), so it is never applied unasked.
        ``limit_worker_threads`` False (or the plan's ``parallelism.limit_threads`` false): apply the
        worker count but leave the workers' threads as torch sets them (the plan reader gives every
        plan a ``threads_per_worker``, 1 by default)."""
        return cls(plan, default_device=default_device, use_registry=use_registry, batch_threads=batch_threads,
                   loader=loader, apply_workers=apply_workers, apply_batch_size=apply_batch_size,
                   limit_worker_threads=limit_worker_threads)

    @staticmethod
    def _fresh_stats() -> dict[str, Any]:
        return {"patched": 0, "bindings": 0, "skipped": [], "unresolved": [], "fallbacks": 0,
                "reasons": {}, "fallback_contexts": {}, "fallback_reasons": {}, "worker_fallbacks": 0,
                "library_calls": [], "vectorised": {}, "stochastic": {}, "workers": None}

    # --- public API --------------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, Any]:
        """Live counters: the dict ``apply()`` returned, with fallbacks counted as they happen, in
        this process and in every DataLoader worker (``worker_fallbacks`` of them in workers)."""
        counts = dict(self._fallback_counts)
        reasons = dict(self._fallback_reasons)
        in_workers = 0
        for report in self._worker_reports:
            worker_counts, worker_reasons = report.read()
            for key, n in worker_counts.items():
                counts[key] = counts.get(key, 0) + n
                in_workers += n
                reasons.setdefault(key, worker_reasons[key])
        self._stats.update(fallbacks=sum(counts.values()), fallback_contexts=counts, fallback_reasons=reasons,
                           worker_fallbacks=in_workers)
        if self._batched is not None:
            self._stats["vectorised"] = dict(self._batched.vectorised)
            self._stats["stochastic"] = {k: list(v) for k, v in self._batched.stochastic.items()}
        return self._stats

    def is_applied(self) -> bool:
        with self._lock:
            return self in _applied

    def apply(self) -> dict[str, Any]:
        """Patches the planned contexts. Twice is a no-op returning the same stats."""
        with self._lock, _registry_lock:
            if self in _applied:
                return self.stats
            if any(m._hooks is not None for m in _applied) and self._wants_batched():
                raise _state_error("another batched migration plan is already applied; restore() it first")
            self._stats = self._fresh_stats()
            self._fallback_counts, self._fallback_reasons, self._worker_reports = {}, {}, []
            try:
                self._apply_locked()
                if self._loader_settings is not None:
                    self._loader_settings.apply()
                    self._stats["workers"] = {"workers": self._loader_settings.workers,
                                              "threads_per_worker": self._loader_settings.threads,
                                              "batch_size": self._loader_settings.batch_size}
            except BaseException:
                self._undo()
                raise
            _applied.append(self)
            return self.stats

    def restore(self) -> None:
        """Puts back the identical original objects. Safe to call when not applied."""
        with self._lock, _registry_lock:
            self._undo()
            if self in _applied:
                _applied.remove(self)

    @property
    def batched(self) -> bool:
        """True when the applied plan runs something in batched mode (after collation)."""
        return self._batched is not None

    @contextlib.contextmanager
    def timing_steps(self):
        """Inside the block, every batched step is timed both ways: per sample (as the workers
        would run it) and over the batch (as the migrated run does); ``step_timings`` then holds
        {key: {"per_sample_ns", "batch_ns", "batches"}}. Calibration of the device model uses it."""
        if self._batched is None:
            raise _state_error("timing_steps() needs an applied plan with a batched context")
        self._batched.calibrating = True
        try:
            yield self
        finally:
            self._batched.calibrating = False

    @property
    def step_timings(self) -> dict[str, dict]:
        return {} if self._batched is None else {k: dict(v) for k, v in self._batched.timings.items()}

    def __enter__(self) -> PipelineMigrator:
        self.apply()
        return self

    def __exit__(self, *exc) -> None:
        self.restore()

    # --- applying ----------------------------------------------------------------------------

    def _mode(self, key: str, executor: str) -> str:
        """"batched" or "inline". On batch:cpu always batched: inline there would run the same
        per-sample call in the same place (a worker, or the main process with num_workers=0), i.e.
        change nothing while a plan claims a speedup."""
        return "batched" if executor == "batch:cpu" else self.plan.get("modes", {}).get(key, "batched")

    def _wants_batched(self) -> bool:
        return any(self._mode(k, d) == "batched" and d != "cpu" for k, d in self.plan["context_device_map"].items())

    def _apply_locked(self) -> None:
        stats = self._stats
        devices: dict[str, torch.device] = {}
        tensor_path: dict[str, bool] = {}
        modes: dict[str, str] = {}
        wrappers: list[tuple[Target, Any]] = []
        seen_functions: dict[int, str] = {}
        # callee function id -> (callee target, {caller code: planned wrapper}, [keys])
        sites: dict[int, tuple[Target, dict, list[str]]] = {}
        for key, executor_name in self.plan["context_device_map"].items():
            try:
                executor = parse_executor(executor_name)
            except ExecutorUnavailable as exc:
                stats["skipped"].append(key)
                stats["reasons"][key] = f"{exc}; left in the DataLoader workers"
                continue
            if executor.in_workers:
                stats["skipped"].append(key)
                stats["reasons"][key] = "planned on 'cpu' (the DataLoader workers): nothing to change"
                continue
            mode = modes[key] = self._mode(key, executor_name)
            arrays = self.use_registry == "always" or (self.use_registry == "auto" and not executor.is_host)
            if call_sites.is_call_site(key):
                self._plan_call_site(key, executor.device, mode, arrays, sites)
                if key in stats["unresolved"] or key in stats["skipped"]:
                    continue
                devices[key], tensor_path[key] = executor.device, arrays
                continue
            library = _library_of_key(key)
            if library is not None:  # judged before resolving: C types of libraries cannot be resolved
                stats["skipped"].append(key)
                stats["reasons"][key] = (f"library code ({library}): it runs where the planned code that calls "
                                         "it runs; the library itself is never patched")
                continue
            try:
                target = resolve(key)
            except Unresolvable as exc:
                stats["unresolved"].append(key)
                stats["reasons"][key] = str(exc)
                continue
            library = _library_of(target.function)
            if library is not None:
                # A library call moves with the planned user function that makes it (through the
                # strategy registry where needed); patching the library itself would change every
                # caller in the program, planned or not.
                stats["skipped"].append(key)
                stats["reasons"][key] = (f"library code ({library}): it runs where the planned code that calls "
                                         "it runs; the library itself is never patched")
                continue
            if hasattr(target.function, "__codedag_original__"):
                # Another applied plan owns it; wrapping its wrapper would make restore order matter.
                stats["skipped"].append(key)
                stats["reasons"][key] = "already patched by another applied migration plan; restore() that one first"
                continue
            if id(target.function) in seen_functions:
                stats["skipped"].append(key)
                stats["reasons"][key] = f"same function as {seen_functions[id(target.function)]}, patched once"
                continue
            seen_functions[id(target.function)] = key
            devices[key], tensor_path[key] = executor.device, arrays
            wrappers.append((target, self._make_wrapper(target, executor.device, mode, arrays)))

        originals = {t.key: t.function for t, _ in wrappers}
        for callee, _, keys in sites.values():
            originals.update((key, callee.function) for key in keys)
        needs_batched = any(modes.get(key, "batched") == "batched" for key in originals)
        if needs_batched:
            if self._gate.shared is None:  # before any worker starts: forked ones inherit it
                self._gate.shared = SharedDecisions(list(self.plan["context_device_map"]))
            known = self._batched
            self._batched = BatchedPlan(originals, devices, tensor_path, self)
            if known is not None:  # probe decisions survive restore()/apply() cycles
                self._batched.vectorised.update(known.vectorised)
                self._batched.stochastic.update(known.stochastic)
                self._batched.random_strategies.update(known.random_strategies)
            self._hooks = PlanLoaderHook(self)
            self._hooks.install(in_worker=self._in_worker)
            self._worker_reports.append(self._hooks.report)
        for target, wrapper in wrappers:
            bindings = target.bindings + (module_bindings(target.function, target.bindings)
                                          if target.kind == "function" else [])
            for binding in bindings:
                self._install(binding, _rewrap(binding.raw, wrapper))
            stats["patched"] += 1
            stats["bindings"] += len(bindings)
        for callee, routes, keys in sites.values():
            dispatcher = call_sites.dispatcher(callee.function, routes)
            bindings = callee.bindings + (module_bindings(callee.function, callee.bindings)
                                          if callee.kind == "function" else [])
            for binding in bindings:
                self._install(binding, _rewrap(binding.raw, dispatcher))
            stats["patched"] += len(keys)
            stats["bindings"] += len(bindings)
        # Library calls of contexts that take the tensor path go through the registry's dispatchers.
        if any(tensor_path.get(t.key) for t, _ in wrappers):
            self._install_dispatchers([t for t, _ in wrappers if tensor_path.get(t.key)])

    def _plan_call_site(self, key: str, device: torch.device, mode: str, arrays: bool, sites: dict) -> None:
        """Resolves a call-site key and adds its planned route to ``sites`` (call_sites.py), or
        reports it as unresolved/skipped."""
        stats = self._stats
        try:
            site = call_sites.resolve_call_site(key)
        except Unresolvable as exc:
            stats["unresolved"].append(key)
            stats["reasons"][key] = str(exc)
            return
        if _library_of(site.caller.function) is not None:
            stats["unresolved"].append(key)
            stats["reasons"][key] = "the caller is library code: its calls are not told apart; plan the user caller"
            return
        callee = site.callee.function
        if hasattr(callee, "__codedag_original__"):  # another applied plan's wrapper
            stats["skipped"].append(key)
            stats["reasons"][key] = "already patched by another applied migration plan; restore() that one first"
            return
        target = Target(key, site.callee.kind, callee, [])
        _, routes, keys = sites.setdefault(id(callee), (site.callee, {}, []))
        routes[site.caller_code] = self._make_wrapper(target, device, mode, arrays)
        keys.append(key)

    def _install(self, binding: Binding, new: Any) -> None:
        # Record before setting: if setattr fails half-way nothing is left unrecorded.
        current = vars(binding.owner).get(binding.name, _MISSING) if hasattr(binding.owner, "__dict__") else _MISSING
        if current is not binding.raw:
            raise _state_error(f"{binding.owner!r}.{binding.name} changed while the plan was being applied; retry")
        try:
            setattr(binding.owner, binding.name, new)
        except (AttributeError, TypeError) as exc:
            raise _state_error(
                f"cannot patch {getattr(binding.owner, '__name__', binding.owner)!r}.{binding.name}: {exc}; "
                "the plan was not applied (everything already patched was restored)"
            ) from exc
        self._installed.append((binding, new))

    def _install_dispatchers(self, targets: list[Target]) -> None:
        for fn, name in _library_calls_used(targets).items():
            strategy = strategies.get(name)
            dispatcher = strategies.make_dispatcher(strategy, fn)
            owner_path, attr = strategy.original_path.rsplit(".", 1)
            owner = strategies.resolve_path(owner_path)
            if owner is None or getattr(owner, "__dict__", {}).get(attr) is not fn:
                continue
            primary = Binding(owner, attr, fn)
            for binding in [primary] + module_bindings(fn, [primary]):
                self._install(binding, dispatcher)
            self._stats["library_calls"].append(name)

    def _undo(self) -> None:
        while self._installed:
            binding, new = self._installed.pop()
            try:
                if vars(binding.owner).get(binding.name) is new:
                    setattr(binding.owner, binding.name, binding.raw)
            except Exception:  # keep restoring the rest; one stubborn owner must not leak the others
                continue
        if self._hooks is not None:
            self._hooks.remove()
            self._hooks = None
        if self._loader_settings is not None:
            self._loader_settings.restore()

    # --- running -----------------------------------------------------------------------------

    def _make_wrapper(self, target: Target, device: torch.device, mode: str, arrays: bool) -> Any:
        original, key = target.function, target.key
        migrator = self
        moved = device.type != "cpu" or arrays

        @functools.wraps(original)
        def planned(*args, **kwargs):
            if _bypassing():
                return original(*args, **kwargs)
            if mode == "batched" and should_defer():
                gate = migrator._gate
                defers = gate.state(key)
                if not defers:
                    # Undecided (this fetch decides: deferral_gate.py) or refused: the real value, as
                    # without the plan; deferred arguments are computed first, never handed on.
                    args, kwargs = _materialize_tree((args, kwargs), f"an argument of {key}, which runs in place")
                    out = original(*args, **kwargs)
                    if defers is None:
                        gate.ran_in_place(key, (args, kwargs), out)
                    return out
                gate.received(key, (args, kwargs))
                resource = _open_resource_in((args, kwargs), depth=3)
                if resource is None:
                    gate.deferred(key)
                    return Deferred(key, original, args, kwargs, migrator)
                # Deferred, the call would run at collation, after the dataset closed the file
                # (``with Image.open(p) as im: im.convert()``, an npz archive): run it now.
                migrator._note_fallback(key, f"an argument is an open resource ({resource}); a deferred call "
                                             "would run after it is closed, so it ran in place")
                return original(*args, **kwargs)
            if not moved:
                return original(*args, **kwargs)
            if device.type == "cuda" and (migrator._in_worker or _in_dataloader_worker()):
                return original(*args, **kwargs)  # CUDA cannot be used in forked workers: run as written
            try:
                with strategies.scope(device):
                    return original(*_move(args, device, arrays), **_move(kwargs, device, arrays))
            except Exception as exc:
                migrator._note_fallback(key, f"failed on {device} ({type(exc).__name__}: {exc}); ran on the CPU")
                with _bypass(), strategies.suspended():
                    return original(*args, **kwargs)

        planned.__codedag_original__ = original
        planned.__codedag_key__ = key
        return planned

    def _evaluate_batch(self, batch: DeferredBatch, workers: int = 0, path: str = "") -> Any:
        if self._batched is None:
            raise _state_error("a deferred batch arrived but no batched plan is applied")
        self.output_contexts[path] = batch.keys()
        threads = self._batch_threads(workers)
        previous = torch.get_num_threads()
        if threads == previous:
            return batch.evaluate(self._batched)
        # The batch executor's share of the cores: the DataLoader workers keep theirs. More OpenMP
        # threads than free cores makes every parallel op wait on descheduled threads (measured:
        # 5-10x slower batch work on a busy 2-core machine).
        torch.set_num_threads(threads)
        try:
            return batch.evaluate(self._batched)
        finally:
            torch.set_num_threads(previous)

    def _batch_threads(self, workers: int) -> int:
        if self.batch_threads is not None:
            return self.batch_threads
        import os

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(1, min(torch.get_num_threads(), cores - workers))

    def _note_fallback(self, key: str, message: str) -> None:
        report = worker_report()
        if report is not None:
            # In a DataLoader worker: this object is a copy the main process never sees. The
            # shared report is counted there and warned about once, by the main process.
            report.add(key, message)
            return
        with self._warn_lock:
            self._fallback_counts[key] = self._fallback_counts.get(key, 0) + 1
            self._fallback_reasons.setdefault(key, message)
        warn_once(self._warned, self._warn_lock, key, message)

    def _warn_worker_fallbacks(self) -> None:
        """In the main process, as batches arrive: one warning per context that fell back in a worker."""
        for report in self._worker_reports:
            counts, reasons = report.read()
            for key in counts:
                warn_once(self._warned, self._warn_lock, key, f"in a DataLoader worker: {reasons[key]}")


_MISSING = object()


def _open_resource_in(value: Any, depth: int = 2) -> str | None:
    """The type name of the first argument that is a context manager (an open file, image, archive:
    only valid until its ``with`` block ends), looking into tuples, lists and dicts; None if none."""
    if isinstance(value, (Deferred, torch.Tensor, np.ndarray, str, bytes, int, float, type(None))):
        return None
    if isinstance(value, (tuple, list)) and depth > 0:
        return next((r for r in (_open_resource_in(v, depth - 1) for v in value[:16]) if r), None)
    if isinstance(value, dict) and depth > 0:
        return next((r for r in (_open_resource_in(v, depth - 1) for v in list(value.values())[:16]) if r), None)
    kind = type(value)
    if hasattr(kind, "__enter__") and hasattr(kind, "__exit__") and not isinstance(value, type):
        return f"a {kind.__module__}.{kind.__qualname__}"
    return None


def _retarget(plan: dict, executor: str | None) -> dict:
    """Moves what ``plan`` places on its default executor to ``executor`` (None: unchanged)."""
    if executor is None or executor == plan["default_device"]:
        return plan
    from .. import _core

    if not isinstance(executor, str) or not _core.is_executor_name(executor):
        raise _input_error(f"default_device {executor!r} is not an executor: expected 'cpu', 'batch:cpu' or "
                           "'cuda:<index>'")
    planned = plan["default_device"]
    plan["context_device_map"] = {k: executor if v == planned and v != "cpu" else v
                                  for k, v in plan["context_device_map"].items()}
    plan["default_device"] = executor
    return plan


def _rewrap(raw: Any, wrapper: Any) -> Any:
    if isinstance(raw, staticmethod):
        return staticmethod(wrapper)
    if isinstance(raw, classmethod):
        return classmethod(wrapper)
    return wrapper


def _library_of_key(key: str) -> str | None:
    """The library a plan key's module is (codedag.libraries, on its longest loaded module prefix),
    None for the user's code or a module not loaded here."""
    import sys

    parts = key.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:cut])
        if module in sys.modules:
            decision = libraries.decide(module)
            return (decision.distribution or "a library") if decision.library else None
    return None


def _library_of(fn: Any) -> str | None:
    """What library a function belongs to (codedag.libraries: its distribution, "stdlib", or "C code"
    for a function without Python source), None for the user's own code."""
    import inspect

    fn = inspect.unwrap(getattr(fn, "__func__", fn))
    module = getattr(fn, "__module__", None) or ""
    if not inspect.isfunction(fn):
        return (libraries.decide(module).distribution or "C code") if module else "C code"
    decision = libraries.decide(module)
    return (decision.distribution or "a library") if decision.library else None


def _in_dataloader_worker() -> bool:
    from torch.utils.data import get_worker_info

    return get_worker_info() is not None


def _library_calls_used(targets: list[Target]) -> dict[Any, str]:
    """The covered library callables the planned functions can call: those bound directly in their
    modules (``from cv2 import resize``) and those reached as ``<module alias>.<name>`` (``cv2.resize``,
    ``np.fft.rfft``) -- judged from the names their code (and their module's other functions, which
    they may call) refers to. Nothing else is touched: patching stays scoped to the plan."""
    import inspect
    import sys
    import types

    names: set[str] = set()
    roots: set[str] = set()
    direct: dict[Any, str] = {}
    covered = strategies.covered_functions()

    def walk(code):
        names.update(code.co_names)
        for c in code.co_consts:
            if inspect.iscode(c):
                walk(c)

    for target in targets:
        fn = inspect.unwrap(target.function)
        if getattr(fn, "__code__", None) is not None:
            walk(fn.__code__)
        module = sys.modules.get(getattr(fn, "__module__", "") or "")
        if module is None:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, types.ModuleType):
                roots.add(value.__name__.split(".")[0])
            elif inspect.isfunction(value) and value.__module__ == module.__name__:
                walk(value.__code__)
            elif inspect.isclass(value) and value.__module__ == module.__name__:
                for member in vars(value).values():
                    member = getattr(member, "__func__", member)
                    if inspect.isfunction(member):
                        walk(member.__code__)
            else:
                try:
                    if value in covered:
                        direct[value] = covered[value]
                except TypeError:  # unhashable globals
                    continue
    used = dict(direct)
    for fn, name in covered.items():
        if name.split(".")[0] in roots and name.rsplit(".", 1)[-1] in names:
            used[fn] = name
    return used


def _state_error(message: str) -> Exception:
    from .. import _core

    return _core.StateError(message)


def _input_error(message: str) -> Exception:
    from .. import _core

    return _core.InputError(message)
