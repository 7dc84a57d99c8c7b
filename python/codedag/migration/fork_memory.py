"""Batched mode's forked workers share the main process's memory: keep it shared.

A forked DataLoader worker starts with every page of the main process shared copy-on-write. The
untouched pipeline's main process runs almost no Python while it waits for batches, so those pages
stay shared. With a batched plan the main process runs the plan's suffix, allocating enough Python
objects for the cyclic garbage collector's full collections, and a full collection writes to every
tracked object: every page holding one is copied, in the main process or the worker, and counted
once per process. Measured on the audio demo (2 forked workers): each worker's private memory went
from 13 to 63 MB.

So while a batched plan's forked workers run, the objects that existed when they were forked are
moved out of the collector's reach (``gc.freeze()``, what the gc documentation advises before a
fork) and given back (``gc.unfreeze()``) when the last such iterator is gone, so garbage among them
is only collected later, never kept. Left alone when someone else froze objects already (their
freeze is theirs to undo) and for spawn/forkserver workers (they share nothing).
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
import weakref
from typing import Any

_lock = threading.Lock()
_alive = 0  # forked iterators of a batched plan started and not yet collected
_frozen_by_us = False


def _forks(loader: Any) -> bool:
    context = loader.multiprocessing_context
    if context is None:
        method = multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_context().get_start_method()
    elif isinstance(context, str):
        method = context
    else:
        method = context.get_start_method()
    return method == "fork"


def workers_starting(iterator: Any, loader: Any) -> None:
    """Called as a batched plan's multiprocess iterator is about to fork its workers."""
    global _alive, _frozen_by_us
    if not _forks(loader):
        return
    with _lock:
        if not _frozen_by_us:
            if gc.get_freeze_count():
                return  # someone else's freeze: not ours to extend or undo
            _frozen_by_us = True
        gc.freeze()  # again for each iterator: what was created since is shared by its workers too
        _alive += 1
    weakref.finalize(iterator, _iterator_gone)


def _iterator_gone() -> None:
    global _alive, _frozen_by_us
    with _lock:
        _alive -= 1
        if _alive == 0 and _frozen_by_us:
            gc.unfreeze()
            _frozen_by_us = False


def frozen() -> bool:
    """Whether objects are out of the collector's reach because of a batched plan's workers."""
    return _frozen_by_us
