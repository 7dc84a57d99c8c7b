"""``CodeDAGLogger``: Lightning's Logger contract over a codedag run.

What differs from the loggers users complain about (shared/research §3):
- one run for the whole job: the run opens at first use in each training process, rank 0 makes it
  and the other ranks join it as shards (codedag.store.distributed), so ``version`` is the same run
  id on every rank (MLFlowLogger's is None off rank 0, Lightning #11380, mlflow #11782);
- ``log_metrics`` appends to the run's buffered metrics.jsonl (a C++ buffer flushed by the run's
  thread), never rewrites a file (CSVLogger), and ``save()`` costs nothing;
- hyperparameters are kept as given: nested, untruncated, keys unchanged (MLFlowLogger cuts values
  at 250 characters and rewrites keys);
- the run's status comes from the process (excepthook, exit code, signals, lease); ``finalize`` only
  adds Lightning's word to it (Lightning #10397, #21787);
- pickling keeps the configuration and drops the open run, so ``ddp_spawn`` workers open their own
  handle on the job's one run instead of duplicating it.
"""

from __future__ import annotations

import math
import os
import warnings
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from .. import _core
from ..store.experiment import Experiment, StoreWarning
from ..store.hooks import Hook
from ._compat import Logger


def _plain(value: Any) -> Any:
    """A JSON-able copy of a hyperparameter value: nesting kept, tensors and numpy scalars as
    numbers or lists, anything else as its str (never truncated)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, Namespace):
        return _plain(vars(value))
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    tolist = getattr(value, "tolist", None)  # torch tensors, numpy arrays and scalars
    if callable(tolist):
        try:
            return _plain(tolist())
        except Exception:
            pass
    return str(value)


def _scalar(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return float(item())
        except (TypeError, ValueError, RuntimeError):
            return None
    return None


class CodeDAGLogger(Logger):
    """Records a Lightning Trainer in one codedag run per job.

    ``CodeDAGLogger("mnist")`` (experiment name), ``root`` = the store (default $CODEDAG_HOME or
    ~/.codedag); ``snapshot`` = git snapshot of the code at start; ``hooks`` = extra
    :class:`codedag.Hook`s; ``lease_seconds`` = the run's lease. Checkpoints written by
    ModelCheckpoint land in the run's blob directory (``save_dir``/name/version/checkpoints).
    """

    def __init__(
        self,
        name: str = "lightning",
        root: str | os.PathLike | None = None,
        *,
        snapshot: bool = True,
        hooks: list[Hook] | None = None,
        lease_seconds: float | None = None,
    ) -> None:
        super().__init__()
        self._name = name
        self._root = os.fspath(root) if root is not None else None
        self._snapshot = snapshot
        self._hooks = list(hooks or [])
        self._lease_seconds = lease_seconds
        self._exp: Experiment | None = None
        self._warned_keys: set[str] = set()
        # The store's home, resolved once, without opening a run (save_dir needs it on every rank).
        self._home = _core._Experiment(name, self._root or "").home

    # pickling (ddp_spawn, mp.spawn, DataLoader workers) ----------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_exp"] = None  # a run handle (a C++ thread, a descriptor) never crosses processes
        return state

    # the run ------------------------------------------------------------------------------------
    @property
    def experiment(self) -> Experiment:
        """The codedag Experiment of this process: the run on rank 0, this rank's shard of the same
        run elsewhere. Opened at first use (after Lightning has set up the process group)."""
        if self._exp is None:
            exp = Experiment(
                self._name,
                self._root,
                hooks=list(self._hooks),
                snapshot=self._snapshot,
                lease_seconds=self._lease_seconds,
            )
            # Lightning may touch the logger on rank 0 only (progress bar, rank-zero hooks): a
            # collective here could hang, so the ranks meet through the store, never a broadcast.
            exp._broadcast_ok = False
            exp.start()
            self._exp = exp
        return self._exp

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str:
        """The run's test_name: the same on every rank of the job."""
        return self.experiment.test_name

    @property
    def root_dir(self) -> str:
        return os.path.join(self._home, "blob")

    @property
    def save_dir(self) -> str:
        """<store>/blob: Lightning's save_dir/name/version is then the run's blob directory."""
        return self.root_dir

    @property
    def log_dir(self) -> str:
        """The run's info directory (run.json, metrics.jsonl, shards/, logs/)."""
        return self.experiment.info_dir

    # recording ----------------------------------------------------------------------------------
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Appends each value to its series (rank 0: the run's metrics.jsonl; rank k: its shard's)."""
        log = self.experiment._core.log_metric
        for key, value in metrics.items():
            number = _scalar(value)
            if number is None:
                if key not in self._warned_keys:
                    self._warned_keys.add(key)
                    warnings.warn(
                        f"CodeDAGLogger: metric {key!r} is a {type(value).__name__}, not a number; not logged",
                        StoreWarning,
                        stacklevel=2,
                    )
                continue
            log(key, number, step)

    def log_hyperparams(self, params: dict[str, Any] | Namespace | None, *args: Any, **kwargs: Any) -> None:
        """Stores the hyperparameters under info.hparams as given: nested, untruncated, keys unchanged."""
        if params is None:
            return
        exp = self.experiment
        if exp.rank != 0:
            return  # one record: every rank holds the same hparams
        values = vars(params) if isinstance(params, Namespace) else params
        exp.dump_info("hparams", _plain(values))

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """Records the module tree's shape: the root class and its parameter count."""
        exp = self.experiment
        if exp.rank != 0:
            return
        parameters = getattr(model, "parameters", None)
        count = sum(int(p.numel()) for p in parameters()) if callable(parameters) else None
        exp.dump_info("model", {"class": f"{type(model).__module__}.{type(model).__qualname__}", "parameters": count})

    def save(self) -> None:
        """Nothing to do: the run's C++ thread appends buffered metric lines every half second.
        The Trainer calls this after every log_metrics, so it must cost nothing."""

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Records the checkpoint files and their scores (info.checkpoints)."""
        exp = self.experiment
        if exp.rank != 0:
            return
        fields: dict[str, Any] = {}
        for attr in ("best_model_path", "last_model_path", "monitor", "mode", "dirpath"):
            value = getattr(checkpoint_callback, attr, None)
            if value:
                fields[attr] = str(value)
        for attr in ("best_model_score", "current_score"):
            score = _scalar(getattr(checkpoint_callback, attr, None))
            if score is not None and math.isfinite(score):
                fields[attr] = score
        top_k = getattr(checkpoint_callback, "best_k_models", None)
        if isinstance(top_k, Mapping):
            fields["best_k_models"] = {str(p): _scalar(s) for p, s in top_k.items()}
        exp.dump_info("checkpoints", fields)

    def finalize(self, status: str) -> None:
        """Advisory: Lightning's word ("success", "failed") is recorded next to the status the process
        gives the run when it ends (an exception, a signal, its exit). The run stays open."""
        if self._exp is None or not self._exp.running:
            return
        self._exp.flush()
        if self._exp.rank == 0:
            self._exp.dump_info("lightning_finalize", str(status))
