"""One run per distributed job (issue 14; docs/experiments.md "Distributed jobs").

Every rank of a torchrun / Lightning ddp / ddp_spawn / srun / MPI job that starts a
``codedag.Experiment`` records into ONE run: rank 0 creates it (or adopts the launcher's
``CODEDAG_RUN_ID``) and the others join it as shards. The run id reaches the other ranks by
``CODEDAG_RUN_ID`` when a launcher set it, else by a ``torch.distributed`` broadcast when a process
group is up, else through a rendezvous file keyed by the launcher's job identity (C++:
store/rendezvous.hpp). The global rank comes from the environment each time it is asked
(``RANK``, srun's ``SLURM_PROCID``, MPI ranks; never ``LOCAL_RANK``), then from torch.distributed.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any

from .. import _core

# Rank logs are capped: a rank printing in a tight loop must not fill the disk.
RANK_LOG_MAX_BYTES = 64 << 20


@dataclass(frozen=True)
class Job:
    """This process's place in a distributed job."""

    rank: int
    world_size: int
    local_rank: int
    attempt: int  # TORCHELASTIC_RESTART_COUNT
    launcher: str  # torchrun | slurm | mpi | master | torch.distributed
    job_key: str  # the launcher's job identity ("" when none)
    source: str  # where the rank came from: RANK, SLURM_PROCID, ..., torch.distributed

    def shard(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "world_size": self.world_size,
            "local_rank": self.local_rank,
            "attempt": self.attempt,
            "launcher": self.launcher,
            "job_key": self.job_key,
        }


def _torch_distributed():
    """torch.distributed when it is imported and initialised (never imports torch itself)."""
    dist = sys.modules.get("torch.distributed")
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            return dist
    except Exception:  # a half-imported or broken torch: no process group to use
        return None
    return None


def global_rank() -> tuple[int, int, int, str]:
    """(rank, world_size, local_rank, source), resolved now: environment first, then torch.distributed."""
    rank, world, local, source = _core.process_rank()
    if rank >= 0 and world > 0:
        return rank, world, local, source
    dist = _torch_distributed()
    if dist is not None:
        rank, world = int(dist.get_rank()), int(dist.get_world_size())
        _core.set_known_rank(rank, world)  # the terminal (C++) keeps quiet on ranks but 0 from now on
        return rank, world, local, "torch.distributed"
    return rank, world, local, source


def _attempt() -> int:
    value = os.environ.get("TORCHELASTIC_RESTART_COUNT", "")
    return int(value) if value.isdigit() and len(value) < 7 else 0


def current_job() -> Job | None:
    """This process's job when it is one rank of several, else None."""
    rank, world, local, source = global_rank()
    if rank < 0 or world <= 1:
        return None
    launcher, key = _core.launcher_job()
    if source == "torch.distributed" and not launcher:
        launcher = "torch.distributed"
    return Job(rank, world, local, _attempt(), launcher or source, key, source)


def broadcast_run_id(job: Job, run_id: str, error: str) -> tuple[str, str]:
    """Rank 0 sends (run_id, error) to every rank of the process group; the others receive it."""
    dist = _torch_distributed()
    assert dist is not None
    message: list[Any] = [run_id, error] if job.rank == 0 else [None, None]
    dist.broadcast_object_list(message, src=0)
    return str(message[0] or ""), str(message[1] or "")


def can_broadcast(job: Job) -> bool:
    dist = _torch_distributed()
    return dist is not None and int(dist.get_world_size()) == job.world_size


class _Tee(io.TextIOBase):
    """A text stream that writes to the console stream and to the rank's log file."""

    def __init__(self, console, log: RankLog) -> None:
        self._console = console
        self._log = log

    def write(self, text: str) -> int:
        self._log.write(text)
        return self._console.write(text)

    def flush(self) -> None:
        self._console.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._console, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self._console.fileno()

    @property
    def encoding(self):  # type: ignore[override]
        return getattr(self._console, "encoding", "utf-8")

    def __getattr__(self, name: str):
        return getattr(self._console, name)


class RankLog:
    """Copies this rank's sys.stdout and sys.stderr into <info_dir>/logs/rank<k>.log (capped)
    while the run lives; every rank writes its own, whatever the console shows."""

    def __init__(self, info_dir: str, rank: int) -> None:
        self.path = _core.rank_log_file(info_dir, rank)
        self._lock = threading.Lock()
        self._written = 0
        self._file = None
        self._saved: tuple[Any, Any] | None = None
        try:
            self._file = open(self.path, "a", encoding="utf-8", errors="replace", buffering=1)  # noqa: SIM115
        except OSError:
            return  # bookkeeping never stops training: no rank log then
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = _Tee(sys.stdout, self)
        sys.stderr = _Tee(sys.stderr, self)

    def write(self, text: str) -> None:
        with self._lock:
            if self._file is None:
                return
            try:
                if self._written + len(text) > RANK_LOG_MAX_BYTES:
                    self._file.write(f"\n[codedag: rank log capped at {RANK_LOG_MAX_BYTES} bytes]\n")
                    self._file.close()
                    self._file = None
                    return
                self._file.write(text)
                self._written += len(text)
            except (OSError, ValueError):
                self._file = None

    def close(self) -> None:
        if self._saved is not None:
            # Only undo what is still ours: the script may have replaced the streams since.
            if isinstance(sys.stdout, _Tee) and sys.stdout._log is self:
                sys.stdout = self._saved[0]
            if isinstance(sys.stderr, _Tee) and sys.stderr._log is self:
                sys.stderr = self._saved[1]
            self._saved = None
        with self._lock:
            if self._file is not None:
                with contextlib.suppress(OSError):
                    self._file.close()
                self._file = None
