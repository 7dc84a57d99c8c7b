"""Rank-0-only output under torch.distributed (seed 000 §1.2): every process inherits the terminal,
only rank 0 should speak."""

from __future__ import annotations

import os
import sys
from typing import Any


def get_rank() -> int:
    """The global rank: torch.distributed's when it is initialised, else $RANK, else 0."""
    dist = sys.modules.get("torch.distributed")
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            return int(dist.get_rank())
    except Exception:  # a half-initialised process group must not break printing
        pass
    for name in ("RANK", "SLURM_PROCID"):
        value = os.environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return 0


def is_rank_zero() -> bool:
    """True in the process that should log (rank 0, or not distributed at all)."""
    local = os.environ.get("LOCAL_RANK", "").strip()
    return get_rank() == 0 and (not local.isdigit() or int(local) == 0)


def rank_zero_print(*args: Any, **kwargs: Any) -> None:
    """``print`` on rank 0 only."""
    if is_rank_zero():
        print(*args, **kwargs)
