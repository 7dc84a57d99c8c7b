"""``codedag.Experiment``: one recorded run (see docs/experiments.md)."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from typing import Any

from .. import _core
from .hooks import Heartbeat, Hook, default_hooks, details_of

_active: list[Experiment] = []


def active_experiment() -> Experiment | None:
    """The Experiment running in this process (the innermost one), or None."""
    for exp in reversed(_active):
        if exp.running:
            return exp
    return None


class Experiment:
    """A run of the experiment ``name``, recorded under ``root`` (default: $CODEDAG_HOME or ~/.codedag).

    ``with Experiment("moco") as exp: ...`` or ``exp.start()`` / ``exp.end()``. An exception leaving
    the ``with`` block ends the run as ``failed`` with its type, message and traceback.
    """

    def __init__(
        self,
        name: str,
        root: str | os.PathLike | None = None,
        *,
        hooks: list[Hook] | None = None,
        snapshot: bool = True,
        lease_seconds: float | None = None,
    ) -> None:
        self._core = _core._Experiment(name, os.fspath(root) if root is not None else "")
        self._hooks: list[Hook] = default_hooks(snapshot)
        if lease_seconds is not None:
            for h in self._hooks:
                if isinstance(h, Heartbeat):
                    h.lease_seconds = lease_seconds
        self._hooks.extend(hooks or [])

    # identity ---------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._core.name

    @property
    def test_name(self) -> str:
        return self._core.test_name

    @property
    def info_dir(self) -> str:
        return self._core.info_dir

    @property
    def blob_dir(self) -> str:
        return self._core.blob_dir

    @property
    def cache_dir(self) -> str:
        return self._core.cache_dir

    @property
    def running(self) -> bool:
        return self._core.running

    def __repr__(self) -> str:
        tn = self._core.test_name if self._core.started else "not started"
        return f"Experiment({self.name!r}, {tn})"

    def add_hook(self, hook: Hook) -> Experiment:
        if self._core.started:
            raise _core.StateError(f"add_hook({type(hook).__name__}): add hooks before start()")
        self._hooks.append(hook)
        return self

    # life cycle -------------------------------------------------------------------------------
    def start(self) -> Experiment:
        extra: dict[str, Any] = {"script_argv": list(sys.argv), "hooks": [h.name for h in self._hooks]}
        for hook in self._hooks:
            extra.update(hook.start_fields(self))
        lease = next((h.lease_seconds for h in self._hooks if isinstance(h, Heartbeat)), None)
        heartbeat = any(isinstance(h, Heartbeat) for h in self._hooks)
        argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
        # A launcher (codedag sweep, a DDP launcher) created this process's run already: take it over
        # instead of making a second one. Popped, so the script's own child processes make their own.
        adopt = os.environ.pop("CODEDAG_RUN_ID", None)
        adopted = False
        if adopt:
            try:
                self._core.adopt(adopt, sys.executable, os.getcwd(), extra, heartbeat, float(lease or 0.0))
                adopted = True
            except (_core.StateError, _core.NotFoundError) as e:
                warnings.warn(f"codedag: not adopting run {adopt} ({e}); recording a new run", stacklevel=2)
        if not adopted:
            self._core.start(argv, sys.executable, os.getcwd(), extra, heartbeat, float(lease or 0.0))
        _active.append(self)
        rerun_from = os.environ.pop("CODEDAG_RERUN_FROM", None)  # our children are not reruns
        os.environ.pop("CODEDAG_RERUN_SNAPSHOT", None)
        if rerun_from:
            try:
                self._core.link_rerun(rerun_from)
            except _core.Error as e:
                warnings.warn(f"codedag: cannot link this rerun to {rerun_from}: {e}", stacklevel=2)
        for hook in self._hooks:
            hook.on_start(self)
        return self

    def end(self, status: str = "finished", **details: Any) -> None:
        """Ends the run: ``finished``, ``failed``, ``killed`` or ``interrupted``; ``details`` (for example
        ``exception={...}`` or ``signal="SIGTERM"``) are stored in run.json."""
        if not self.running:
            raise _core.StateError(f"end({status!r}): {self!r} is not running")
        for hook in self._hooks:
            try:
                hook.on_end(self, status, details)
            except Exception as e:  # a hook must not lose the record of how the run ended
                warnings.warn(f"codedag: hook {hook.name} failed at end: {e}", stacklevel=2)
        self._core.end(status, details)
        if self in _active:
            _active.remove(self)

    def __enter__(self) -> Experiment:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self.running:
            if exc_type is None:
                self.end("finished")
            else:
                self.end(**details_of(exc_type, exc, tb))
        return False

    # recording --------------------------------------------------------------------------------
    def dump_info(self, key: str, value: Any) -> None:
        """Stores ``value`` (JSON-able: dicts, lists, numbers, strings; other objects as str) under info.key."""
        self._core.dump_info(key, value)

    def dump_metric(self, key: str, value: float, cmp: str = "max", **extra: Any) -> dict[str, Any]:
        """Keeps the best ``value`` of ``key`` (``cmp`` "max" or "min") with ``extra`` fields recorded next
        to it; returns the best so far as a dict (``best["value"]``)."""
        best = self._core.dump_metric(key, float(value), cmp, extra)
        for hook in self._hooks:
            hook.on_progress(self, **{key: value})
        return best

    def dump_metrics(self, metrics: dict[str, float], cmp: str = "max") -> dict[str, dict[str, Any]]:
        return {k: self.dump_metric(k, v, cmp) for k, v in metrics.items()}

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Appends (step, value) to the series ``key`` (metrics.jsonl; buffered in C++, on disk within a second)."""
        self._core.log_metric(key, value, step)

    def progress(self, **progress: Any) -> None:
        """Tells the hooks about progress (epoch=..., step=...)."""
        for hook in self._hooks:
            hook.on_progress(self, **progress)

    def add_tag(self, tag: str) -> None:
        self._core.add_tag(tag)

    def add_note(self, note: str) -> None:
        self._core.add_note(note)

    def attach(self, kind: str, path: str | os.PathLike) -> str:
        """Copies the file ``path`` into the run (info_dir/attachments/<kind>/) and records it; returns the copy's path."""
        return self._core.attach(kind, os.fspath(path))

    def blob_file(self, filename: str) -> str:
        """A path inside the run's blob directory (for models and artifacts)."""
        os.makedirs(self.blob_dir, exist_ok=True)
        return os.path.join(self.blob_dir, filename)

    def flush(self) -> None:
        self._core.flush_metrics()

    def record(self) -> dict[str, Any]:
        """The run's run.json as it is on disk now."""
        return self._core.record()

    def clear_cache(self) -> None:
        shutil.rmtree(self.cache_dir, ignore_errors=True)
