"""``codedag.Experiment``: one recorded run (see docs/experiments.md)."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Mapping
from typing import Any

from .. import _core
from .._term import Terminal
from .distributed import Job, RankLog, broadcast_run_id, can_broadcast, current_job
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
        self._tracker: _Tracker | None = None
        # A rank of a distributed job (store/distributed.py): its job and console copy.
        self._job: Job | None = None
        self._rank_log: RankLog | None = None
        self._broadcast_ok = True

    @classmethod
    def _view(cls, core: Any) -> Experiment:
        exp = cls.__new__(cls)
        exp._core = core
        exp._hooks = []
        exp._tracker = None
        exp._job, exp._rank_log, exp._broadcast_ok = None, None, True
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
        job = current_job()
        if job is not None:
            self._start_rank(job, adopt, argv, extra, heartbeat, float(lease or 0.0))
        elif not (adopt and self._adopt(adopt, extra, heartbeat, float(lease or 0.0))):
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

    def _adopt(self, run_id: str, extra: dict[str, Any], heartbeat: bool, lease: float, attempt: int = 0) -> bool:
        try:
            self._core.adopt(run_id, sys.executable, os.getcwd(), extra, heartbeat, lease, attempt)
            return True
        except (_core.StateError, _core.NotFoundError) as e:
            warnings.warn(f"codedag: not adopting run {run_id} ({e}); recording a new run", stacklevel=3)
            return False

    def _start_rank(
        self, job: Job, adopt: str | None, argv: list[str], extra: dict[str, Any], heartbeat: bool, lease: float
    ) -> None:
        """One rank of a distributed job: rank 0 makes (or adopts) the run, the others join it as shards."""
        home = self._core.home
        # Off for callers that may run on one rank only (CodeDAGLogger): a broadcast there would hang.
        broadcast = self._broadcast_ok and can_broadcast(job)
        extra = {**extra, "attempt": job.attempt}
        if job.rank == 0:
            run_id, error = "", ""
            try:
                adopted = bool(adopt) and self._adopt(adopt, extra, heartbeat, lease, job.attempt)
                if not adopted and job.attempt > 0 and job.job_key:
                    # A torchelastic restart: the job's run goes on as attempt n.
                    previous = _core.read_rendezvous(home, job.job_key)
                    if previous:
                        adopted = self._adopt(previous["run_id"], extra, heartbeat, lease, job.attempt)
                if not adopted:
                    self._core.start(argv, sys.executable, os.getcwd(), extra, heartbeat, lease)
                self._core.record_shard(job.shard())
                run_id = f"{self._core.name}/{self._core.test_name}"
                if job.job_key:
                    try:
                        _core.publish_rendezvous(home, job.job_key, run_id, job.attempt)
                    except _core.Error:
                        if not broadcast and not adopt:
                            raise  # the other ranks have no other way to find the run
            except BaseException as e:
                error = f"{type(e).__name__}: {e}"
                if broadcast:  # the other ranks wait in the broadcast: tell them, then fail here
                    broadcast_run_id(job, "", error)
                raise
            if broadcast:
                broadcast_run_id(job, run_id, "")
        else:
            if broadcast:
                run_id, error = broadcast_run_id(job, "", "")
                if not run_id:
                    raise _core.StateError(f"rank {job.rank}: rank 0 could not start the run ({error})")
            elif adopt:
                run_id = adopt  # every rank inherited the launcher's run
            elif job.job_key:
                not_before = _core.process_start_time()
                run_id = _core.await_rendezvous(
                    home,
                    job.job_key,
                    job.attempt,
                    not_before - 300.0 if not_before > 0 else 0.0,
                    _core.default_rendezvous_timeout(),
                )
            else:
                raise _core.StateError(
                    f"rank {job.rank} of {job.world_size} ({job.source}): cannot tell which run to join: no "
                    "torch.distributed process group and no launcher job identity (TORCHELASTIC_RUN_ID, "
                    "SLURM_JOB_ID, MPI, MASTER_ADDR/PORT); call init_process_group() before "
                    "Experiment.start(), or set CODEDAG_RUN_ID for every rank"
                )
            self._core.join_shard(run_id, job.shard(), os.getcwd(), heartbeat, lease)
        self._job = job
        self._rank_log = RankLog(self._core.info_dir, job.rank)
        if job.rank == 0:
            Terminal(sys.stderr).info(
                f"codedag: run {self._core.name}/{self._core.test_name}: {job.world_size} ranks ({job.launcher}"
                f"{', attempt ' + str(job.attempt) if job.attempt else ''}); rank logs in "
                f"{os.path.join(self._core.info_dir, 'logs')}"
            )

    @property
    def rank(self) -> int:
        """This process's rank in the run (0 when the run is not distributed)."""
        return max(self._core.rank, 0)

    def end(self, status: str = "finished", **details: Any) -> None:
        """Ends the run: ``finished``, ``failed``, ``killed`` or ``interrupted``; ``details`` (for example
        ``exception={...}`` or ``signal="SIGTERM"``) are stored in run.json. A write that failed during
        the run (full disk) is retried here and, if it still fails, reported as a StoreWarning."""
        if not self.running:
            raise _core.StateError(f"end({status!r}): {self!r} is not running")
        if self._tracker is not None:
            try:
                self._tracker.sync(self)  # the last, partial window
            except Exception as e:  # a broken device must not lose the record of how the run ended
                warnings.warn(f"codedag: track() values not logged at end: {e}", StoreWarning, stacklevel=2)
        for hook in self._hooks:
            try:
                hook.on_end(self, status, details)
            except Exception as e:  # a hook must not lose the record of how the run ended
                warnings.warn(f"codedag: hook {hook.name} failed at end: {e}", StoreWarning, stacklevel=2)
        rank_log = self._rank_log
        if rank_log is not None:
            exception = details.get("exception")
            if isinstance(exception, Mapping) and exception.get("traceback"):
                rank_log.write(str(exception["traceback"]))  # printed after the run ends: keep it here too
            rank_log.close()
            self._rank_log = None
        problems = self._core.end(status, details)
        if self in _active:
            _active.remove(self)
        self._after_rank_end()
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

    def _after_rank_end(self) -> None:
        job = self._job
        if job is None or job.rank != 0:
            return
        # The rendezvous entry stays: a slow rank may start after rank 0 finished, and a torchelastic
        # restart finds the run through it (rendezvous.hpp prunes old entries).
        try:
            record = self._core.record()
        except _core.Error:
            return
        failed_rank = record.get("failed_rank")
        if record.get("status") == "failed" and isinstance(failed_rank, int):
            exception = record.get("exception") or {}
            term = Terminal(sys.stderr)
            term.fail(
                f"run {self._core.name}/{self._core.test_name} failed on rank {failed_rank}: "
                f"{exception.get('type', '?')}: {exception.get('message', '')}"
            )
            tail = _core.rank_log_tail(self._core.info_dir, failed_rank, 20)
            if tail and failed_rank != 0:
                term.line(f"last lines of rank {failed_rank} ({_core.rank_log_file(self._core.info_dir, failed_rank)}):")
                for line in tail.splitlines():
                    term.line(f"  [rank{failed_rank}] {line}")

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

    def track(self, step: int | None = None, *, log_every: int | None = None, **values: Any) -> None:
        """Accumulates training values of a plain loop and logs their means every ``log_every`` calls.

        ``exp.track(loss=loss, acc=acc)`` once per step: tensors are detached and summed on their own
        device (no ``.item()``, so no host sync and no autograd graph kept alive); every
        ``log_every`` calls (default 50, or the first call's value) the window's mean of each key is
        copied to the host once and appended to its series at the current step. Plain numbers work
        too. ``step`` overrides the step counter. What is pending is logged at ``end()``."""
        if not self.running:
            raise _core.StateError(f"track: {self!r} is not running")
        scalars = _Tracker.scalars(values)  # refused values change nothing
        tracker = self._tracker
        if tracker is None:
            tracker = self._tracker = _Tracker(log_every or 50)
        elif log_every is not None and log_every != tracker.log_every:
            raise _core.InputError(
                f"track(log_every={log_every}): this run tracks every {tracker.log_every} steps already"
            )
        tracker.add(self, step, scalars)

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


class _Tracker:
    """exp.track's accumulator: per key a running sum (a tensor on its device, or a float) and a count."""

    def __init__(self, log_every: int) -> None:
        if not isinstance(log_every, int) or log_every < 1:
            raise _core.InputError(f"track: log_every must be a positive integer, not {log_every!r}")
        self.log_every = log_every
        self.calls = 0
        self.step = 0
        self.sums: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    @staticmethod
    def scalars(values: Mapping[str, Any]) -> dict[str, Any]:
        """Detached scalar tensors and floats, or an InputError naming the key."""
        out: dict[str, Any] = {}
        for key, value in values.items():
            detach = getattr(value, "detach", None)
            if callable(detach):
                value = detach()
                if value.numel() != 1:
                    raise _core.InputError(
                        f"track({key}=...): expected a scalar, got a tensor of shape {tuple(value.shape)}"
                    )
                out[key] = value.reshape(())
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _core.InputError(
                    f"track({key}=...): expected a number or a scalar tensor, got {type(value).__name__}"
                )
            else:
                out[key] = float(value)
        return out

    def add(self, exp: Experiment, step: int | None, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            previous = self.sums.get(key)
            # Sums stay where the values are (a GPU tensor stays on the GPU): adding is asynchronous.
            self.sums[key] = value if previous is None else previous + value
            self.counts[key] = self.counts.get(key, 0) + 1
        self.step = int(step) if step is not None else self.step + (1 if self.calls else 0)
        self.calls += 1
        if self.calls % self.log_every == 0:
            self.sync(exp)

    def sync(self, exp: Experiment) -> None:
        """One host copy per key for the whole window."""
        for key, total in self.sums.items():
            count = self.counts[key]
            mean = total / count
            item = getattr(mean, "item", None)
            exp.log_metric(key, float(item() if callable(item) else mean), self.step)
        self.sums.clear()
        self.counts.clear()
