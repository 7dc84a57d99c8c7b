"""Every change CodeDAG makes to torch.utils.data, owned by this one module.

The tracer (worker streams, consumed batches), the migrator (batched plans in workers, deferred
batches evaluated after collation) and ``codedag trace --batches`` all need to step into the
DataLoader's iterators. If each patched the same methods itself, the result would depend on the
order they were applied and removed in (restoring one would drop the other's wrapper, or leave a
stale one in the chain). Instead each of them registers a ``LoaderHook`` here:

- the first hook added installs one wrapper per patched method (the originals are saved once);
- every wrapper asks the hooks registered *now*, ordered by ``rank`` (lower = closer to torch);
- the last hook removed puts the identical original objects back.

So hooks can come and go in any order. Nothing here imports torch until a hook is added.

Patched (when at least one hook is registered):
``_MultiProcessingDataLoaderIter.__init__`` (worker_init_fn wrappers), ``._reset`` (epoch count),
``._process_data`` / ``._next_data`` (batches handed over / lost), ``_SingleProcessDataLoaderIter
._next_data``, ``_BaseDataLoaderIter.__next__`` (around a batch), and entries of
``default_collate_fn_map`` (``add_collate``). In a worker process, ``wrap_worker_fetches`` wraps
the dataset fetcher (workers exit; nothing to restore there).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.RLock()
_hooks: tuple[LoaderHook, ...] = ()  # sorted by rank; replaced, never mutated (wrappers read it lock-free)
_saved: list[tuple[Any, str, Any, Any]] = []  # (owner, name, original, our wrapper)
_collate_saved: dict[type, Any] = {}  # type -> what the map held before (_ABSENT: nothing)
_ABSENT = object()
_EPOCH = "_codedag_epoch"


class LoaderHook:
    """One client's view of the DataLoader. Override what you need; the defaults change nothing.

    ``rank`` orders hooks: lower ranks are nearer to torch (their worker_init wrapper runs inside
    the others', their ``around_next`` is called by the others').
    """

    rank = 0

    def wrap_worker_init(self, iterator: Any, loader: Any, worker_init_fn: Any) -> Any:
        """Called while a multiprocess iterator starts its workers: return the worker_init_fn the
        workers get (it must be picklable for spawn), usually one that calls ``worker_init_fn``."""
        return worker_init_fn

    def batch_arrived(self, iterator: Any, epoch: int, index: int) -> None:
        """A multiprocess iterator hands batch ``index`` of ``epoch`` to the caller."""

    def batch_lost(self, iterator: Any, epoch: int, index: int) -> None:
        """A multiprocess iterator failed while waiting for batch ``index`` (a worker died or raised)."""

    def single_process_batch(self, iterator: Any) -> None:
        """A single-process iterator is about to fetch a batch."""

    def around_next(self, iterator: Any, next_batch: Callable[[], Any]) -> Any:
        """Wraps ``next(iterator)``: must call ``next_batch()`` and return (or replace) its batch."""
        return next_batch()


def add(hook: LoaderHook) -> None:
    """Registers ``hook`` (installing the wrappers if it is the first one). Twice is a no-op."""
    global _hooks
    with _lock:
        if hook in _hooks:
            return
        if not _hooks:
            _install()
        _hooks = tuple(sorted((*_hooks, hook), key=lambda h: h.rank))


def remove(hook: LoaderHook) -> None:
    """Unregisters ``hook``; when none is left the original methods are put back."""
    global _hooks
    with _lock:
        if hook not in _hooks:
            return
        _hooks = tuple(h for h in _hooks if h is not hook)
        if not _hooks:
            _uninstall()


def hooks() -> tuple[LoaderHook, ...]:
    """The hooks registered now, in rank order."""
    return _hooks


def installed() -> bool:
    """True while any wrapper of this module is in torch.utils.data."""
    return any(owner.__dict__.get(name) is not original for owner, name, original, _ in _saved)


def epoch_of(iterator: Any) -> int:
    """How many times a multiprocess iterator has started an epoch since the wrappers went in."""
    return iterator.__dict__.get(_EPOCH, 0)


def add_collate(kind: type, fn: Callable[..., Any]) -> None:
    """Makes ``default_collate`` (and every collate built on ``collate()``) collate ``kind`` with
    ``fn`` until ``remove_collate(kind)`` puts back what was there."""
    from torch.utils.data._utils import collate

    with _lock:
        table = collate.default_collate_fn_map
        if kind not in _collate_saved:
            _collate_saved[kind] = table.get(kind, _ABSENT)
        table[kind] = fn


def remove_collate(kind: type) -> None:
    from torch.utils.data._utils import collate

    with _lock:
        if kind not in _collate_saved:
            return
        before = _collate_saved.pop(kind)
        if before is _ABSENT:
            collate.default_collate_fn_map.pop(kind, None)
        else:
            collate.default_collate_fn_map[kind] = before


def on_worker_fetchers(callback: Callable[[Any], None]) -> None:
    """In a DataLoader worker process: ``callback(fetcher)`` for every dataset fetcher the worker
    creates (once at start, then once per epoch of persistent workers), before its first fetch. For
    the life of the worker (a separate process: nothing to restore)."""
    from torch.utils.data import _DatasetKind

    create = _DatasetKind.create_fetcher

    def create_fetcher(*args, **kwargs):
        fetcher = create(*args, **kwargs)
        callback(fetcher)
        return fetcher

    _DatasetKind.create_fetcher = staticmethod(create_fetcher)


def wrap_worker_fetches(around: Callable[[int, int | None, Callable[[], Any]], Any]) -> None:
    """In a DataLoader worker process: every fetch of a batch becomes ``around(epoch, index,
    fetch)``, where ``fetch()`` does the real fetch, ``epoch`` counts the worker's epochs from 1 and
    ``index`` is the batch's index in the epoch (None if the worker loop does not say). For the
    life of the worker (it is a separate process: nothing to restore)."""
    from torch.utils.data import _DatasetKind

    create = _DatasetKind.create_fetcher
    state = {"epoch": 0}

    def create_fetcher(*args, **kwargs):
        state["epoch"] += 1  # once at start, then once per epoch of persistent workers
        epoch = state["epoch"]
        fetcher = create(*args, **kwargs)
        fetch = fetcher.fetch

        def fetch_batch(possibly_batched_index):
            idx = sys._getframe(1).f_locals.get("idx")  # the worker loop's batch index
            index = idx if isinstance(idx, int) else None
            return around(epoch, index, lambda: fetch(possibly_batched_index))

        fetcher.fetch = fetch_batch
        return fetcher

    _DatasetKind.create_fetcher = staticmethod(create_fetcher)


# ---- the wrappers ---------------------------------------------------------------------------------


def _overrides(hook: LoaderHook, name: str) -> bool:
    return getattr(type(hook), name) is not getattr(LoaderHook, name)


def _mp_init(original):
    def __init__(self, loader, *args, **kwargs):
        current = _hooks
        if not current:
            return original(self, loader, *args, **kwargs)
        user_init = loader.worker_init_fn
        init = user_init
        for hook in current:
            init = hook.wrap_worker_init(self, loader, init)
        if init is user_init:
            return original(self, loader, *args, **kwargs)
        # Through __dict__: the loader is the user's object and its worker_init_fn is put back.
        loader.__dict__["worker_init_fn"] = init
        try:
            return original(self, loader, *args, **kwargs)
        finally:
            loader.__dict__["worker_init_fn"] = user_init

    return __init__


def _mp_reset(original):
    def _reset(self, loader, first_iter=False):
        self.__dict__[_EPOCH] = self.__dict__.get(_EPOCH, 0) + 1
        return original(self, loader, first_iter)

    return _reset


def _mp_process_data(original):
    def _process_data(self, data, *args, **kwargs):
        current = _hooks
        if current:
            # _next_data advanced _rcvd_idx just before handing the batch over (in-order mode).
            epoch, index = epoch_of(self), self._rcvd_idx - 1
            for hook in current:
                hook.batch_arrived(self, epoch, index)
        return original(self, data, *args, **kwargs)

    return _process_data


def _mp_next_data(original):
    def _next_data(self):
        try:
            return original(self)
        except StopIteration:
            raise
        except BaseException:
            epoch, index = epoch_of(self), self._rcvd_idx
            for hook in _hooks:
                hook.batch_lost(self, epoch, index)
            raise

    return _next_data


def _sp_next_data(original):
    def _next_data(self):
        for hook in _hooks:
            hook.single_process_batch(self)
        return original(self)

    return _next_data


def _base_next(original):
    def __next__(self):
        call = lambda: original(self)  # noqa: E731
        for hook in _hooks:  # lowest rank first: it ends up innermost
            if _overrides(hook, "around_next"):
                call = (lambda h, inner: lambda: h.around_next(self, inner))(hook, call)
        return call()

    return __next__


def _install() -> None:
    from torch.utils.data import dataloader

    mp = dataloader._MultiProcessingDataLoaderIter
    sp = dataloader._SingleProcessDataLoaderIter
    base = dataloader._BaseDataLoaderIter
    # An entry left from before (see _uninstall) whose method has since been put back to torch's
    # own is stale: wrap it again. Otherwise our wrapper is still in the chain: leave it.
    _saved[:] = [entry for entry in _saved if entry[0].__dict__.get(entry[1]) is not entry[2]]
    done = {(id(owner), name) for owner, name, _, _ in _saved}
    for owner, name, make in (
        (mp, "__init__", _mp_init),
        (mp, "_reset", _mp_reset),
        (mp, "_process_data", _mp_process_data),
        (mp, "_next_data", _mp_next_data),
        (sp, "_next_data", _sp_next_data),
        (base, "__next__", _base_next),
    ):
        if (id(owner), name) in done:  # still in place from before (see _uninstall)
            continue
        original = owner.__dict__[name]
        wrapper = make(original)
        wrapper.__wrapped__ = original
        wrapper.__codedag_hook__ = True
        _saved.append((owner, name, original, wrapper))
        setattr(owner, name, wrapper)


def _uninstall() -> None:
    kept = []
    for owner, name, original, wrapper in reversed(_saved):
        if owner.__dict__.get(name) is wrapper:
            setattr(owner, name, original)
        else:
            # Someone wrapped our wrapper since: taking it out would drop theirs. It stays (with no
            # hooks it only calls through) and is not installed a second time.
            kept.append((owner, name, original, wrapper))
    _saved[:] = reversed(kept)
