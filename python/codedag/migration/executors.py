"""Executor names of a plan ("cpu", "batch:cpu", "cuda:0") -> what the migrator does with them.

Which names are executors is the engine's rule (the plan reader has already checked them); this
module only says where each one runs on this machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import _core


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


def parse_executor(name: str) -> Executor:
    """Where executor ``name`` runs. Raises InputError for a name that is not an executor and
    ExecutorUnavailable for a GPU this machine does not have (the migrator reports that context as
    skipped)."""
    if not isinstance(name, str) or not _core.is_executor_name(name):
        raise _core.InputError(f"unknown executor {name!r}: expected 'cpu', 'batch:cpu' or 'cuda:<index>'")
    if name == "cpu":
        return Executor(name, torch.device("cpu"), True)
    if name == "batch:cpu":
        return Executor(name, torch.device("cpu"), False)
    index = int(name[5:])
    if not torch.cuda.is_available():
        raise ExecutorUnavailable(f"{name}: torch sees no CUDA device on this machine")
    if index >= torch.cuda.device_count():
        raise ExecutorUnavailable(f"{name}: torch sees only {torch.cuda.device_count()} CUDA device(s)")
    return Executor(name, torch.device(name), False)
