"""``codedag.Watcher``: list and retrieve recorded runs (through the SQLite index, in C++)."""

from __future__ import annotations

import datetime as _dt
import importlib.util
import os
import warnings
from collections.abc import Iterable
from typing import Any

from .. import _core
from .experiment import Experiment, StoreWarning

__all__ = ["Watcher", "StoreWarning"]


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
            raise _core.InputError(
                f"{what}={value!r}: use a date such as 2024-03-06 or 2024-03-06T12:00"
            ) from None
    raise _core.InputError(
        f"{what}: expected a date, datetime, ISO string or unix time, got {type(value).__name__}"
    )


def _warn_all(problems: list[str]) -> None:
    for p in problems:
        warnings.warn(p, StoreWarning, stacklevel=3)


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
        as_frame: bool | None = None,
    ):
        """Runs, oldest first: a pandas DataFrame when pandas is installed (lumo's ``w.load()``; one
        row per run, ``info.*``, ``best.*`` and ``last.*`` columns), else a list of dicts.
        ``as_frame`` chooses explicitly.

        Filters: experiment ``name``, ``status`` (running, finished, failed, killed, dead, ...),
        ``since``/``until`` (dates), ``params=["lr=0.1", "epochs>=10"]`` on dump_info values (dotted
        keys reach into dicts), ``metrics=["acc>0.9"]`` on best/last metrics, ``tags``.
        Runs whose lease expired and whose process is gone are marked ``dead`` first; a run whose
        files cannot be read is skipped with a StoreWarning naming the file.
        """
        args = (
            name or "",
            status or "",
            _timestamp(since, "since"),
            _timestamp(until, "until"),
            list(params),
            list(metrics),
            list(tags),
            include_deleted,
        )
        # The dicts are built in C++ from the index summaries (no JSON text for all rows, no
        # json.loads); a damaged row is skipped and named.
        rows, problems = self._store.list_objects(*args)
        _warn_all(problems)
        if as_frame is None:
            as_frame = importlib.util.find_spec("pandas") is not None
        if not as_frame:
            return rows
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "Watcher.load(as_frame=True) needs pandas, which is not installed: "
                "`pip install pandas`, or call load(as_frame=False) for a list of dicts"
            ) from None
        flat = []
        for r in rows:
            row = {k: v for k, v in r.items() if k not in ("info", "metrics", "last")}
            row["exp_name"] = r.get("name")
            for k, v in (r.get("info") or {}).items():
                row[f"info.{k}"] = v
            for k, v in (r.get("last") or {}).items():
                row[f"last.{k}"] = v.get("value") if isinstance(v, dict) else v
            for k, v in (r.get("metrics") or {}).items():
                row[f"best.{k}"] = v.get("value") if isinstance(v, dict) else v
            flat.append(row)
        return pd.DataFrame(flat)

    def retrieve(self, test_name: str) -> Experiment:
        """The run ``test_name`` (its test_name, ``name/test_name``, or an unambiguous prefix) as an
        Experiment: ``.properties``, ``.record()``, ``.info_dir`` ... (lumo's ``w.retrieve``). A
        ``running`` run whose lease expired and whose process is gone is marked ``dead`` first."""
        record = self.record(test_name)
        return Experiment._view(
            _core._Experiment.open(f"{record['name']}/{record['test_name']}", self._store.home)
        )

    def record(self, test_name: str) -> dict[str, Any]:
        """The full record of one run: run.json plus ``info_dir``, ``blob_dir`` and ``cache_dir``,
        after checking whether a ``running`` run is still alive."""
        record, problems = self._store.retrieve(test_name)
        _warn_all(problems)
        return record

    def series(self, test_name: str) -> dict[str, list[list[Any]]]:
        """Metric series of a run: ``{key: [[step, value, unix_time], ...]}``."""
        series, problems = self._store.series(test_name)
        _warn_all(problems)
        return series

    def shards(self, test_name: str) -> list[dict[str, Any]]:
        """The ranks of a distributed run (one shard.json each, by rank), each with its metric series
        under ``series``: ``{key: [[step, value, t], ...]}``. Empty for a run of one process."""
        shards, problems = self._store.shards(test_name)
        _warn_all(problems)
        return shards

    def rebuild(self) -> int:
        """Recreates the index from the files; returns how many runs it holds."""
        n, problems = self._store.rebuild()
        _warn_all(problems)
        return n
