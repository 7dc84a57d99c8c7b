"""Fallbacks that happen in DataLoader worker processes, counted where the main process can see them.

A worker is another process: the migrator there is a copy (fork) or a fresh object (spawn), so the
counts it keeps are lost with it, and a warning it prints says nothing to ``migrator.stats``. Each
applied batched plan therefore owns one ``WorkerFallbacks``: counters and the first reason per plan
key in shared memory (one lock; fallbacks are rare, so contention is not a concern). Workers write
it; the main process reads it into ``stats`` and warns once per key when a batch arrives.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

REASON_BYTES = 240
OTHER = "<another context>"


class WorkerFallbacks:
    """Shared counters, created in the main process and handed to workers by their worker_init_fn
    (picklable while workers are being spawned; inherited as-is by forked ones)."""

    def __init__(self, keys: list[str]):
        ctx = multiprocessing.get_context("spawn")
        self.keys = sorted(set(keys)) + [OTHER]
        self._index = {k: i for i, k in enumerate(self.keys)}
        self._counts = ctx.RawArray("q", len(self.keys))
        self._reasons = ctx.RawArray("c", len(self.keys) * REASON_BYTES)
        self._lock = ctx.Lock()

    def __getstate__(self) -> dict:
        return {"keys": self.keys, "counts": self._counts, "reasons": self._reasons, "lock": self._lock}

    def __setstate__(self, state: dict) -> None:
        self.keys, self._counts, self._reasons, self._lock = (state["keys"], state["counts"], state["reasons"],
                                                              state["lock"])
        self._index = {k: i for i, k in enumerate(self.keys)}

    def add(self, key: str, reason: str) -> None:
        """In a worker: one more fallback of ``key``; the first reason per key is kept."""
        i = self._index.get(key, len(self.keys) - 1)
        text = (reason if i < len(self.keys) - 1 else f"{key}: {reason}").encode("utf-8", "replace")[:REASON_BYTES - 1]
        with self._lock:
            self._counts[i] += 1
            start = i * REASON_BYTES
            if self._reasons[start] == b"\0":
                self._reasons[start:start + len(text)] = text

    def read(self) -> tuple[dict[str, int], dict[str, str]]:
        """(count per key, first reason per key) for the keys that fell back."""
        counts: dict[str, int] = {}
        reasons: dict[str, str] = {}
        with self._lock:
            for i, key in enumerate(self.keys):
                if self._counts[i]:
                    counts[key] = int(self._counts[i])
                    raw = bytes(self._reasons[i * REASON_BYTES:(i + 1) * REASON_BYTES]).split(b"\0", 1)[0]
                    reasons[key] = raw.decode("utf-8", "replace")
        return counts, reasons


# Set in a worker process by the plan's worker_init_fn.
_in_this_worker: WorkerFallbacks | None = None


def set_worker_report(report: WorkerFallbacks | None) -> None:
    global _in_this_worker
    _in_this_worker = report


def worker_report() -> Any:
    """The report of the plan applied in this DataLoader worker (None in the main process)."""
    from torch.utils.data import get_worker_info

    return _in_this_worker if get_worker_info() is not None else None
