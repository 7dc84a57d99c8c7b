"""Where corpus pipelines build the files they read: one temporary directory per process that first
asks for it, removed when that process exits. A pipeline's files are built once (into a scratch
directory renamed into place, so a half-built set is never read) and found again by DataLoader
workers, forked or spawned, through the paths their pickled dataset carries."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

_root: Path | None = None
_owner = 0


def _remove(path: Path, owner: int) -> None:
    if os.getpid() == owner:  # a forked child inherits the handler; only the creator removes
        shutil.rmtree(path, ignore_errors=True)


def root() -> Path:
    global _root, _owner
    if _root is None or _owner != os.getpid():
        _root = Path(tempfile.mkdtemp(prefix="codedag-corpus-"))
        _owner = os.getpid()
        atexit.register(_remove, _root, _owner)
    return _root


def built(name: str, build: Callable[[Path], None]) -> Path:
    """The directory of `name`'s files, calling build(directory) the first time."""
    target = root() / name
    if not target.is_dir():
        scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root()))
        build(scratch)
        os.replace(scratch, target)
    return target
