"""Executor names of a plan ("cpu", "batch:cpu", "cuda:0") -> what the migrator does with them."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Executor:
    name: str  # as in the plan
    device: torch.device  # where the work runs
    in_workers: bool  # "cpu": the DataLoader workers, i.e. nothing moves

    @property
    def is_host(self) -> bool:
        return self.device.type == "cpu"


class ExecutorUnavailable(Exception):
    """The executor is valid but does not exist on this machine (a GPU index torch cannot see)."""


def parse_executor(name: str, default_device: str = "cpu") -> Executor:
    """Parses an executor name; "cuda"/"gpu"/"default" mean ``default_device``.

    Raises ValueError for a name that is not an executor and ExecutorUnavailable for a GPU this
    machine does not have (the migrator reports that context as skipped)."""
    raw = name.strip()
    if raw in ("default", "gpu", "cuda"):
        raw = default_device if raw == "default" or default_device.startswith("cuda") else "cuda:0"
    if raw == "cpu":
        return Executor(raw, torch.device("cpu"), True)
    if raw == "batch:cpu":
        return Executor(raw, torch.device("cpu"), False)
    if raw.startswith("cuda:") and raw[5:].isdigit():
        index = int(raw[5:])
        if not torch.cuda.is_available():
            raise ExecutorUnavailable(f"{raw}: torch sees no CUDA device on this machine")
        if index >= torch.cuda.device_count():
            raise ExecutorUnavailable(f"{raw}: torch sees only {torch.cuda.device_count()} CUDA device(s)")
        return Executor(raw, torch.device(raw), False)
    raise ValueError(f"unknown executor {name!r}: expected 'cpu', 'batch:cpu' or 'cuda:<index>'")
