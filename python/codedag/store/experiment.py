"""``codedag.Experiment``: one recorded run (see docs/experiments.md)."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Mapping
from typing import Any

from .. import _core
from .hooks import Heartbeat, Hook, default_hooks, details_of

_active: list[Experiment] = []


class StoreWarning(UserWarning):
    """Bookkeeping that could not be done (a run record skipped, a write that failed); the message
    names the file and what happened."""


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
    ``Experiment.from_cache(row)`` and ``Watcher().retrieve(id)`` give a view of a recorded run.
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

    @classmethod
    def _view(cls, core: Any) -> Experiment:
        exp = cls.__new__(cls)
        exp._core = core
        exp._hooks = []
        return exp

    @classmethod
    def from_cache(cls, row: Mapping[str, Any]) -> Experiment:
        """The recorded run a listing row names (a ``Watcher().load()`` row, or ``df.iloc[i].to_dict()``).

        Reads the run from its files, so the view is current even when the row is old."""
        if not isinstance(row, Mapping):
            raise _core.InputError(f"from_cache: expected a row (a dict), got {type(row).__name__}")
        test_name = row.get("test_name")
        name = row.get("name") or row.get("exp_name")
        if not isinstance(test_name, str) or not test_name:
            raise _core.InputError("from_cache: the row has no 'test_name' (pass a row of Watcher().load())")
        root = ""
        info_dir = row.get("info_dir")
        if isinstance(info_dir, str) and info_dir:
            # <root>/info/<name>/<test_name>: the row says which store it came from.
            parts = os.path.normpath(info_dir).split(os.sep)
            if (
                len(parts) < 4
                or parts[-1] != test_name
                or parts[-3] != "info"
                or (name and parts[-2] != name)
            ):
                raise _core.InputError(
                    f"from_cache: info_dir {info_dir!r} is not <root>/info/<name>/{test_name}"
                )
            name = parts[-2]
            root = os.sep.join(parts[:-3]) or os.sep
        run_id = f"{name}/{test_name}" if isinstance(name, str) and name else test_name
        return cls._view(_core._Experiment.open(run_id, root))

    # identity ---------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._core.name

    @property
    def exp_name(self) -> str:
        """The experiment's name (lumo's spelling)."""
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
    def heartbeat_fn(self) -> str:
        """The run's lease file (heartbeat.json), rewritten while the run lives; a Watcher reads the
        run again whenever it or run.json changed."""
        return self._core.heartbeat_file

    @property
    def running(self) -> bool:
        return self._core.running

    @property
    def properties(self) -> dict[str, Any]:
        """Everything recorded about the run, as lumo's ``exp.properties``: the run.json fields, the
        ``dump_info`` values, the ``properties`` links (``rerun``, ``rerun_at``), ``git`` (the code
        snapshot), ``lock`` (library versions), ``exception`` when it failed."""
        record = self._core.record()
        props: dict[str, Any] = dict(record)
        for key, value in (record.get("info") or {}).items():
            props.setdefault(key, value)
        props.update(record.get("properties") or {})
        props["lock"] = record.get("versions") or {}
        return props

    @property
    def write_problems(self) -> dict[str, Any]:
        """What could not be written so far (full disk, I/O errors): ``error`` is empty when nothing failed."""
        return self._core.write_problems()

    def __repr__(self) -> str:
        if self._core.is_view:
            return f"Experiment(info_dir={self.info_dir!r})"
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
                warnings.warn(
                    f"codedag: cannot link this rerun to {rerun_from}: {e}", StoreWarning, stacklevel=2
                )
        for hook in self._hooks:
            hook.on_start(self)
        return self

    def end(self, status: str = "finished", **details: Any) -> None:
        """Ends the run: ``finished``, ``failed``, ``killed`` or ``interrupted``; ``details`` (for example
        ``exception={...}`` or ``signal="SIGTERM"``) are stored in run.json. A write that failed during
        the run (full disk) is retried here and, if it still fails, reported as a StoreWarning."""
        if not self.running:
            raise _core.StateError(f"end({status!r}): {self!r} is not running")
        for hook in self._hooks:
            try:
                hook.on_end(self, status, details)
            except Exception as e:  # a hook must not lose the record of how the run ended
                warnings.warn(f"codedag: hook {hook.name} failed at end: {e}", StoreWarning, stacklevel=2)
        problems = self._core.end(status, details)
        if self in _active:
            _active.remove(self)
        if problems.get("error") or problems.get("heartbeat_error"):
            lost = []
            if problems["record_changes_pending"]:
                lost.append(f"{problems['record_changes_pending']} record change(s)")
            if problems["metric_bytes_pending"]:
                lost.append(f"{problems['metric_bytes_pending']} bytes of metric lines")
            if problems["metric_lines_dropped"]:
                lost.append(f"{problems['metric_lines_dropped']} metric lines past the in-memory limit")
            state = (
                "could not be written and are kept in memory only: " + ", ".join(lost)
                if lost
                else "everything was written after retrying"
            )
            why = problems.get("error") or problems.get("heartbeat_error")
            warnings.warn(
                f"codedag: run {self.name}/{self.test_name} had write errors ({why}); {state}",
                StoreWarning,
                stacklevel=2,
            )

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

    def dump_metric(
        self, key: str, value: float, *args: Any, cmp: str | None = None, flush: bool = True, **extra: Any
    ):
        """Keeps the best ``value`` of ``key`` and returns the best so far.

        ``dump_metric("acc", acc, "max", cls_acc=cls_acc)``; lumo's form ``dump_metric("acc", acc,
        "cls_acc", cls_acc)`` records the name/value pairs after ``value`` next to it (direction "max").
        The direction ("max" or "min") is fixed by the first call for a key."""
        rest = list(args)
        if len(rest) % 2 and isinstance(rest[0], str) and cmp is None:
            cmp = rest.pop(0)  # the direction; anything but "max"/"min" is refused below, by name
        elif rest and rest[0] in ("max", "min"):
            if cmp is not None and cmp != rest[0]:
                raise TypeError(f"dump_metric({key!r}): cmp given twice ({rest[0]!r} and {cmp!r})")
            cmp = rest.pop(0)
        if len(rest) % 2:
            raise TypeError(
                f"dump_metric({key!r}, value, ...): after the value give 'max'/'min' and name, value pairs "
                f"(got {len(rest)} extra argument{'s' if len(rest) != 1 else ''})"
            )
        for name, extra_value in zip(rest[::2], rest[1::2], strict=True):
            if not isinstance(name, str):
                raise TypeError(
                    f"dump_metric({key!r}): extra names must be strings, got {type(name).__name__}"
                )
            extra[name] = extra_value
        best = self._core.dump_metric(key, float(value), cmp or "max", extra)
        for hook in self._hooks:
            hook.on_progress(self, **{key: value})
        return best["value"]

    def dump_metrics(self, metrics: Mapping[str, float], cmp: str = "max") -> dict[str, float]:
        """``dump_metric`` for each key; returns the best value of each."""
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
