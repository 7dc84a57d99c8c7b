"""What the closed loop may disturb in the user's process, captured on entry and put back on exit.

Tracing, verifying and measuring iterate the user's DataLoader many times and seed generators for
reproducible comparisons. Without this, ``optimize_pipeline`` left ``random``/numpy at seed 0
whatever the script had seeded, so every cell of a seed sweep would draw the same stream after it.
Restored: the global generators of ``random``, numpy and torch (CPU and CUDA), the loader's own
generators (its ``generator`` and its sampler's: they decide the shuffling order and, through the
base seed, every worker's seed), torch's intra-op thread count, and the loader's attributes the
loop changes (the migrator's LoaderSettings restores those it sets itself). The loader's persistent
workers, if any, are shut down: they ran the code of before, and the next ``iter()`` starts new ones.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from ..migration.loader_settings import shut_down_workers

_LOADER_ATTRIBUTES = ("num_workers", "prefetch_factor", "worker_init_fn", "collate_fn", "pin_memory", "timeout",
                      "persistent_workers", "generator")
_ABSENT = object()


def _generators_of(loader: Any) -> list[torch.Generator]:
    found: list[torch.Generator] = []
    for owner in (loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None),
                  getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
        g = getattr(owner, "generator", None)
        if isinstance(g, torch.Generator) and all(g is not f for f in found):
            found.append(g)
    return found


class UserState:
    """A snapshot of the process state the closed loop touches; ``restore()`` puts it back."""

    def __init__(self, loader: Any):
        self.loader = loader
        self.random = random.getstate()
        self.numpy = np.random.get_state()
        self.torch = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        self.threads = torch.get_num_threads()
        self.loader_generators = [(g, g.get_state()) for g in _generators_of(loader)]
        self.attributes = {name: loader.__dict__.get(name, _ABSENT) for name in _LOADER_ATTRIBUTES}

    def restore(self) -> list[str]:
        """Puts everything back; returns what could not be restored (empty when all was)."""
        problems: list[str] = []

        def attempt(what: str, action) -> None:
            try:
                action()
            except Exception as exc:  # keep restoring the rest
                problems.append(f"{what}: {type(exc).__name__}: {exc}")

        attempt("random", lambda: random.setstate(self.random))
        attempt("numpy.random", lambda: np.random.set_state(self.numpy))
        attempt("torch generator", lambda: torch.set_rng_state(self.torch))
        if self.cuda is not None:
            attempt("CUDA generators", lambda: torch.cuda.set_rng_state_all(self.cuda))
        attempt("torch threads", lambda: torch.set_num_threads(self.threads))
        for g, state in self.loader_generators:
            attempt("the DataLoader's generator", lambda g=g, state=state: g.set_state(state))
        attempt("the DataLoader's workers", lambda: shut_down_workers(self.loader))
        for name, value in self.attributes.items():
            def put(name=name, value=value):
                if value is _ABSENT:
                    self.loader.__dict__.pop(name, None)
                else:
                    self.loader.__dict__[name] = value
            attempt(f"DataLoader.{name}", put)
        return problems

    def changed(self) -> list[str]:
        """What differs from the snapshot now (the tests' check that the loop left nothing behind)."""
        out = []
        if random.getstate() != self.random:
            out.append("random")
        state = np.random.get_state()
        if not (state[1] == self.numpy[1]).all() or state[2:] != self.numpy[2:]:
            out.append("numpy.random")
        if not torch.equal(torch.get_rng_state(), self.torch):
            out.append("torch generator")
        if torch.get_num_threads() != self.threads:
            out.append("torch threads")
        for g, state in self.loader_generators:
            if not torch.equal(g.get_state(), state):
                out.append("the DataLoader's generator")
        for name, value in self.attributes.items():
            if self.loader.__dict__.get(name, _ABSENT) is not value:
                out.append(f"DataLoader.{name}")
        return out
