"""``codedag.Watcher``: list and retrieve recorded runs (through the SQLite index, in C++)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import warnings
from collections.abc import Iterable
from typing import Any

from .. import _core


class StoreWarning(UserWarning):
    """A run record that could not be read and was skipped (the message names the file)."""


def _timestamp(value: Any, what: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, _dt.datetime):
        return value.timestamp()
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day).timestamp()
    if isinstance(value, str):
        try:
            return _dt.datetime.fromisoformat(value).timestamp()
        except ValueError:
            raise _core.InputError(f"{what}={value!r}: use a date such as 2024-03-06 or 2024-03-06T12:00") from None
    raise _core.InputError(f"{what}: expected a date, datetime, ISO string or unix time, got {type(value).__name__}")


class Watcher:
    """Runs of the store under ``root`` (default: $CODEDAG_HOME or ~/.codedag)."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self._store = _core._Store(os.fspath(root) if root is not None else "")

    @property
    def root(self) -> str:
        return self._store.home

    def load(
        self,
        name: str | None = None,
        *,
        status: str | None = None,
        since: Any = None,
        until: Any = None,
        params: Iterable[str] = (),
        metrics: Iterable[str] = (),
        tags: Iterable[str] = (),
        include_deleted: bool = False,
        as_frame: bool = False,
    ):
        """Runs as a list of dicts (oldest first), or a pandas DataFrame with ``as_frame=True``.

        Filters: experiment ``name``, ``status`` (running, finished, failed, killed, dead),
        ``since``/``until`` (dates), ``params=["lr=0.1", "epochs>=10"]`` on dump_info values (dotted
        keys reach into dicts), ``metrics=["acc>0.9"]`` on best/last metrics, ``tags``.
        Runs whose lease expired and whose process is gone are marked ``dead`` first.
        """
        text, problems = self._store.list(
            name or "",
            status or "",
            _timestamp(since, "since"),
            _timestamp(until, "until"),
            list(params),
            list(metrics),
            list(tags),
            include_deleted,
        )
        rows = json.loads(text)
        for p in problems:
            warnings.warn(p, StoreWarning, stacklevel=2)
        if not as_frame:
            return rows
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "Watcher.load(as_frame=True) needs pandas, which is not installed: "
                "`pip install pandas`, or call load() for a list of dicts"
            ) from None
        flat = []
        for r in rows:
            row = {k: v for k, v in r.items() if k not in ("info", "metrics", "last")}
            for k, v in (r.get("info") or {}).items():
                row[f"info.{k}"] = v
            for k, v in (r.get("last") or {}).items():
                row[f"last.{k}"] = v.get("value") if isinstance(v, dict) else v
            for k, v in (r.get("metrics") or {}).items():
                row[f"best.{k}"] = v.get("value") if isinstance(v, dict) else v
            flat.append(row)
        return pd.DataFrame(flat)

    def retrieve(self, test_name: str) -> dict[str, Any]:
        """The full record (run.json plus info_dir, blob_dir, cache_dir) of one run: its test_name,
        ``name/test_name``, or an unambiguous prefix."""
        record, problems = self._store.retrieve(test_name)
        for p in problems:
            warnings.warn(p, StoreWarning, stacklevel=2)
        return record

    def series(self, test_name: str) -> dict[str, list[list[Any]]]:
        """Metric series of a run: ``{key: [[step, value, unix_time], ...]}``."""
        series, problems = self._store.series(test_name)
        for p in problems:
            warnings.warn(p, StoreWarning, stacklevel=2)
        return series

    def rebuild(self) -> int:
        """Recreates the index from the files; returns how many runs it holds."""
        n, problems = self._store.rebuild()
        for p in problems:
            warnings.warn(p, StoreWarning, stacklevel=2)
        return n
