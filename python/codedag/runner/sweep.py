"""``codedag.sweep(...)``: the CLI's ``codedag sweep run`` with the same options, from Python.

The manifest is written in-process (bad options raise ``codedag.InputError`` at once); the cells are
then run by ``codedag sweep resume ID``, a child process with this terminal, so a sweep started here
behaves exactly like one started from a shell (status board, Ctrl-C, cell runners that outlive it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import _core


class SweepResult:
    """The closing summary of a sweep (``sweep_summary.json``'s layout) with shortcuts."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self.summary = summary

    @property
    def sweep_id(self) -> str:
        return self.summary["sweep"]

    @property
    def cells(self) -> list[dict[str, Any]]:
        return self.summary["cells"]

    @property
    def ok(self) -> bool:
        """True when every cell finished."""
        return all(c["status"] == "finished" for c in self.cells)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The cells that did not finish, each with ``cause``, ``log`` and ``log_tail``."""
        return [c for c in self.cells if c["status"] != "finished"]

    @property
    def best(self) -> dict[str, Any] | None:
        """``{"cell", "run", "metric"}`` of the best finished cell by ``metric=``, or None."""
        return self.summary.get("best")

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.summary.get("status", {}).items()) or "no cells"
        return f"SweepResult({self.sweep_id!r}: {counts})"


def _cli() -> str:
    """The codedag executable: $CODEDAG_CLI, the one installed beside this Python, or PATH's."""
    if os.environ.get("CODEDAG_CLI"):
        return os.path.abspath(os.environ["CODEDAG_CLI"])
    beside = Path(sys.executable).parent / "codedag"
    if beside.exists():
        return str(beside)
    found = shutil.which("codedag")
    if not found:
        raise _core.NotFoundError(
            "the codedag command is not installed (pip install codedag puts it beside python)"
        )
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _grid(params: Mapping[str, Sequence[Any] | Any] | None) -> list[str]:
    out = []
    for key, values in (params or {}).items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            values = [values]
        out.append(f"{key}=" + ",".join(_text(v) for v in values))
    return out


def _random(ranges: Mapping[str, Sequence[Any]] | None) -> list[str]:
    out = []
    for key, spec in (ranges or {}).items():
        if not isinstance(spec, Sequence) or isinstance(spec, str) or len(spec) not in (2, 3):
            raise _core.InputError(f"sweep(random={{{key!r}: ...}}): give (low, high) or (low, high, 'log')")
        out.append(f"{key}=" + ":".join(_text(v) for v in spec))
    return out


def sweep(
    command: Sequence[str] | str,
    params: Mapping[str, Sequence[Any] | Any] | None = None,
    *,
    random: Mapping[str, Sequence[Any]] | None = None,
    samples: int = 0,
    repeat: int = 1,
    random_seed: int | None = None,
    name: str | None = None,
    parallel: int | None = None,
    gpus: Sequence[int | str] | str | None = None,
    gpus_per_run: int | None = None,
    backend: str = "local",
    retries: int = 0,
    retry_on: str = "signals",
    fail_fast: bool = False,
    max_consecutive_failures: int = 0,
    timeout: float = 0.0,
    metric: str | None = None,
    slurm_args: Sequence[str] = (),
    home: str | os.PathLike | None = None,
    cwd: str | os.PathLike | None = None,
) -> SweepResult:
    """Runs ``command`` once per cell, each cell its own process and its own run, and returns the summary.

    ``params={"lr": [0.1, 0.01], "bs": [32, 64]}`` is the grid (``-p``); each cell gets ``--lr=0.1 --bs=32``.
    ``random={"lr": (1e-4, 1e-1, "log")}`` with ``samples=N`` draws seeded values; ``repeat=K`` adds
    ``--seed=0..K-1``. The other options are those of ``codedag sweep run`` (docs/cli/sweep.md).
    A sweep whose cells fail returns normally: look at ``result.ok`` and ``result.failed``.
    """
    argv = [command] if isinstance(command, str) else list(command)
    if isinstance(gpus, (list, tuple)):
        gpus = ",".join(str(g) for g in gpus)
    request = {
        "command": [os.fspath(a) for a in argv],
        "grid": _grid(params),
        "random": _random(random),
        "samples": samples,
        "repeat": repeat,
        "random_seed": random_seed,
        "name": name or "",
        "parallel": parallel,
        "gpus": None if gpus is None else str(gpus),
        "gpus_per_run": gpus_per_run,
        "backend": backend,
        "retries": retries,
        "retry_on": retry_on,
        "fail_fast": fail_fast,
        "max_consecutive_failures": max_consecutive_failures,
        "timeout": float(timeout),
        "metric": metric or "",
        "slurm_args": list(slurm_args),
        "home": os.fspath(home) if home is not None else "",
        "cwd": os.path.abspath(os.fspath(cwd)) if cwd is not None else "",
    }
    created = _core.create_sweep(request)
    env = dict(os.environ, CODEDAG_HOME=created["home"])
    proc = subprocess.Popen([_cli(), "sweep", "resume", created["sweep"]], env=env)
    try:
        proc.wait()
    except KeyboardInterrupt:
        # Ctrl-C reached the sweep too (same process group): let it stop its cells and print its
        # summary; only a second Ctrl-C leaves it behind.
        with contextlib.suppress(KeyboardInterrupt):
            proc.wait()
        raise
    return SweepResult(_core.sweep_status(created["sweep"], created["home"]))


def sweep_status(sweep_id: str, home: str | os.PathLike | None = None) -> SweepResult:
    """The summary of a sweep as the store has it now (``codedag sweep status ID --json``)."""
    return SweepResult(_core.sweep_status(sweep_id, os.fspath(home) if home is not None else ""))
