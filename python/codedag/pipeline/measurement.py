"""Honest throughput comparison of ways to run one DataLoader: interleaved rounds on fresh iterators.

Each *setting* (the loader untouched, a plain DataLoader with another worker count, a plan) is
measured once per round, in an order that alternates between rounds (A B C, C B A, ...) so a drift
in the machine's load hits every setting alike. Every measurement starts a fresh iterator (new
workers: persistent ones are shut down first, so none runs a stale plan), discards its warm-up
batches (worker start-up, the first batch each worker prefetches, the vectorisation probe) and
times the next ``batches`` batches, running the training ``step`` on each when one is given.
Throughput is samples/s. The engine turns the rounds into a speedup and its bootstrap interval
(``_core.speedup_interval``): a setting is better only when the interval's lower bound says so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import _core
from ..migration import PipelineMigrator
from ..migration.loader_settings import shut_down_workers


@dataclass
class Setting:
    """One way to run the loader: as it is (``migrator`` None) or with a migrator applied (a plan,
    or only a worker count: a plan that moves nothing)."""

    name: str
    kind: str  # "untouched", "plain" or "plan"
    workers: int
    migrator: PipelineMigrator | None = None
    threads_per_worker: int | None = None
    samples_per_s: list[float] = field(default_factory=list)
    fallbacks: int = 0
    error: str | None = None  # why it stopped being measured
    batch_size: int | None = None  # another batch size than the loader's (opt-in: it changes training)
    beaten: str | None = None  # why measuring it stopped early: clearly slower than another (racing)

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "workers": self.workers,
                "threads_per_worker": self.threads_per_worker, "batch_size": self.batch_size,
                "samples_per_s": list(self.samples_per_s), "fallbacks": self.fallbacks, "error": self.error,
                "beaten": self.beaten}


def samples_in(batch: Any) -> int:
    """Samples in a collated batch: the leading size of its first tensor (1 if it has none)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    if isinstance(batch, (tuple, list)):
        for item in batch:
            n = samples_in(item)
            if n:
                return n
        return 0
    if isinstance(batch, dict):
        for item in batch.values():
            n = samples_in(item)
            if n:
                return n
        return 0
    return 0


def warmup_for(workers: int) -> int:
    """Batches to discard: every worker delivers its first batch at about the same time after
    start-up, so the steady state begins after one batch per worker, plus one. Without workers the
    first batch (which carries the vectorisation probe) is enough."""
    return workers + 1 if workers > 0 else 1


MIN_SECONDS = 0.25


def measure_once(loader: Any, batches: int, warmup: int, step: Callable[[Any], Any] | None = None,
                 max_epochs: int = 50, min_seconds: float = 0.0) -> float:
    """Samples/s over ``batches`` batches of fresh iterators, after ``warmup`` discarded ones, and
    on until ``min_seconds`` have passed (10 batches of a fast pipeline last a few milliseconds:
    a scheduler hiccup would decide the comparison). A
    loader shorter than that is iterated again (a new epoch, as training does; the restart's cost,
    new workers included, is part of the time), at most ``max_epochs`` times. ValueError when the
    loader yields no batch."""
    shut_down_workers(loader)  # persistent workers would otherwise be reused
    samples = 0
    measured = 0
    start = None
    epochs = 0
    seen = 0
    def more() -> bool:
        return measured < batches or (start is not None and time.perf_counter() - start < min_seconds)

    def within_epochs() -> bool:  # a fast loader's short epochs may be many before min_seconds
        return epochs < max_epochs or (start is not None and time.perf_counter() - start < min_seconds)

    while more() and within_epochs():
        it = iter(loader)
        epochs += 1
        got = 0
        try:
            while more():
                batch = next(it)
                got += 1
                if step is not None:
                    step(batch)
                if seen < warmup:
                    seen += 1
                    if seen == warmup:
                        start = time.perf_counter()
                    continue
                if start is None:
                    start = time.perf_counter()
                samples += max(1, samples_in(batch))
                measured += 1
        except StopIteration:
            pass
        finally:
            shutdown = getattr(it, "_shutdown_workers", None)
            del it
            if callable(shutdown):
                shutdown()
            shut_down_workers(loader)
        if got == 0:
            break
    if start is None or measured < 2:
        raise ValueError(f"the DataLoader has too few batches to measure: {warmup} warm-up batches and at least 2 "
                         "timed ones are needed (it yields no batch, or fewer than that in "
                         f"{max_epochs} epochs)")
    return samples / (time.perf_counter() - start)


def interleave(loader: Any, settings: list[Setting], rounds: int, batches: int,
               step: Callable[[Any], Any] | None = None, progress: Any = None,
               min_seconds: float = MIN_SECONDS, deadline: float | None = None) -> int:
    """Measures every setting once per round (order alternating by round) into ``samples_per_s``
    and returns the rounds measured. A setting that fails is marked with ``error`` and not measured
    again; the untouched setting failing raises (without it there is no baseline). With
    ``deadline`` (a ``time.perf_counter()`` value) no round starts that the longest round so far
    says would end after it: the first round always runs (without it there is nothing to decide on).
    From the second round on, a setting clearly slower than another (``_core.beaten_settings``: its
    best round under half of the other's worst) is measured no more and marked ``beaten``; the
    untouched setting, the baseline of every speedup, always runs every round."""
    done = 0
    longest = 0.0
    for r in range(rounds):
        started = time.perf_counter()
        if r and deadline is not None and started + longest > deadline:
            if progress is not None:
                progress.finish()
            return r
        order = settings if r % 2 == 0 else list(reversed(settings))
        for s in order:
            if s.error is not None or s.beaten is not None:
                continue
            warmup = warmup_for(s.workers)
            try:
                if s.migrator is None:
                    s.samples_per_s.append(measure_once(loader, batches, warmup, step, min_seconds=min_seconds))
                else:
                    with s.migrator:
                        s.samples_per_s.append(measure_once(loader, batches, warmup, step, min_seconds=min_seconds))
                        s.fallbacks += s.migrator.stats["fallbacks"]
            except Exception as exc:
                if s.kind == "untouched":
                    raise
                s.error = f"{type(exc).__name__}: {exc}"
            done += 1
            if progress is not None:
                progress.update(done)
        longest = max(longest, time.perf_counter() - started)
        _race(settings, r + 1)
    if progress is not None:
        progress.finish()
    return rounds


def _race(settings: list[Setting], rounds: int) -> None:
    """Marks the settings measured so far that another clearly beats (see ``interleave``)."""
    # Only settings with usable rates race (the engine refuses a zero or non-finite rate; a loop
    # must never raise for the user's pipeline): the others keep being measured.
    live = [s for s in settings if s.error is None and s.beaten is None
            and all(math.isfinite(x) and x > 0 for x in s.samples_per_s)]
    beaten_by = _core.beaten_settings([s.samples_per_s for s in live], [s.kind == "untouched" for s in live])
    for s, winner in zip(live, beaten_by, strict=True):
        if winner >= 0:
            w = live[winner]
            s.beaten = (f"out after {rounds} rounds: its best round ({max(s.samples_per_s):.3g} samples/s) is under "
                        f"half of {w.name}'s slowest ({min(w.samples_per_s):.3g})")


def speedup(baseline: Setting, candidate: Setting, level: float = 0.95) -> dict | None:
    """The candidate's speedup over the baseline with its interval (rounds in which both were
    measured), or None when it has no complete round."""
    n = min(len(baseline.samples_per_s), len(candidate.samples_per_s))
    if candidate.error is not None or n == 0:
        return None
    return _core.speedup_interval(baseline.samples_per_s[:n], candidate.samples_per_s[:n], level=level)
