"""``CodeDAGCallback``: what CodeDAG knows about a pipeline, inside a Lightning Trainer.

- At the start of training, rank 0 traces one batch of the training DataLoader and stores the DAG
  with the run (attachment ``dag``). With ``apply_plan=True`` it runs the closed loop
  (``codedag.optimize_pipeline``: trace, optimize, verify, measure) and keeps the plan only when it
  verifies and is faster; the plan kept is then applied on every rank (broadcast by the Trainer's
  strategy), so all ranks load data the same way.
- Every epoch, every rank records how long the loop waited for its DataLoader against how long its
  steps took: series ``loader_wait_ms``, ``step_ms`` (per batch, means) and ``loader_wait_share``
  (wait / (wait + step)), step = epoch, in the run (rank 0) or the rank's shard. Rank 0 also keeps
  an ``ExperimentMonitor`` over training and attaches its result as ``monitor_result``, the file
  ``codedag lint --with-run`` reads for "loader wait vs step time" (docs/cli/lint.md).

The callback records into the run of the Trainer's ``CodeDAGLogger`` (else the running
``codedag.Experiment``; else it only measures and says so once).
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

from ..store.experiment import Experiment, StoreWarning, active_experiment
from ._compat import Callback


def _first_dataloader(loaders: Any):
    """The first torch DataLoader in what Lightning holds (a loader, a list, a dict, a CombinedLoader)."""
    from torch.utils.data import DataLoader

    stack = [loaders]
    while stack:
        item = stack.pop(0)
        if isinstance(item, DataLoader):
            return item
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif hasattr(item, "iterables"):  # CombinedLoader
            stack.append(item.iterables)
    return None


class CodeDAGCallback(Callback):
    """``Trainer(callbacks=[CodeDAGCallback()], logger=CodeDAGLogger(...))``.

    ``trace``: trace one training batch at the start (rank 0). ``apply_plan``: run the closed loop
    and apply the plan it keeps (opt-in). ``optimize_options``: passed to ``codedag.optimize_pipeline``.
    ``monitor``: keep an ExperimentMonitor over training on rank 0 (attached as ``monitor_result``)."""

    def __init__(
        self,
        *,
        trace: bool = True,
        apply_plan: bool = False,
        optimize_options: dict[str, Any] | None = None,
        monitor: bool = True,
        max_depth: int = 10,
    ) -> None:
        self.trace = trace
        self.apply_plan = apply_plan
        self.optimize_options = dict(optimize_options or {})
        self.monitor = monitor
        self.max_depth = max_depth
        self.plan_result: dict[str, Any] | None = None  # what the closed loop decided (rank 0)
        self._monitor = None
        self._migrator = None
        self._reset_epoch()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_monitor"] = None  # a sampler thread never crosses processes (ddp_spawn)
        state["_migrator"] = None
        return state

    # where to record --------------------------------------------------------------------------
    @staticmethod
    def _experiment(trainer) -> Experiment | None:
        from .logger import CodeDAGLogger

        for logger in getattr(trainer, "loggers", None) or []:
            if isinstance(logger, CodeDAGLogger):
                return logger.experiment
        return active_experiment()

    # start: trace, optionally apply a verified plan, start the monitor --------------------------
    def on_train_start(self, trainer, pl_module) -> None:
        exp = self._experiment(trainer)
        if exp is None:
            warnings.warn(
                "CodeDAGCallback: no CodeDAGLogger and no running codedag.Experiment: loader wait and step "
                "times are measured but not recorded",
                StoreWarning,
                stacklevel=2,
            )
        loader = _first_dataloader(getattr(trainer, "train_dataloader", None))
        if trainer.global_rank == 0 and loader is not None and exp is not None:
            if self.trace and not self.apply_plan:
                self._trace(loader, exp)
            if self.apply_plan:
                self._optimize(loader, exp)
        if self.apply_plan:
            # Every rank loads data the same way: rank 0's verified plan (or none) goes to all.
            plan = self.plan_result["plan"] if self.plan_result and self.plan_result.get("kept") else None
            plan = trainer.strategy.broadcast(plan, src=0)
            if plan is not None and trainer.global_rank != 0:
                from ..migration import PipelineMigrator

                self._migrator = PipelineMigrator.from_plan(plan)
                self._migrator.apply()
        if self.monitor and trainer.global_rank == 0:
            from ..monitor import ExperimentMonitor

            save_dir = exp.cache_dir if exp is not None else os.path.join(trainer.default_root_dir, "codedag")
            self._monitor = ExperimentMonitor(exp.name if exp is not None else "lightning", save_dir)
            self._monitor.start_mode("baseline", {"source": "CodeDAGCallback", "world_size": trainer.world_size})

    def _trace(self, loader, exp: Experiment) -> None:
        from ..trace import EnhancedTracer

        tracer = EnhancedTracer(max_depth=self.max_depth)
        iterator = iter(loader)
        try:
            with tracer.tracing_context():
                next(iterator)
        except StopIteration:
            warnings.warn("CodeDAGCallback: the training DataLoader is empty: nothing traced", StoreWarning, stacklevel=3)
            return
        finally:
            del iterator
        tracer.save(os.path.join(exp.cache_dir, "dag.json"))  # attached to the run as "dag"

    def _optimize(self, loader, exp: Experiment) -> None:
        from ..pipeline import optimize_pipeline

        options = {"quiet": False, **self.optimize_options, "keep": True}
        result = optimize_pipeline(loader, **options)  # stores plan and report with the run
        self.plan_result = dict(result)
        self._migrator = result.migrator if result.kept else None
        exp.dump_info("codedag_plan", {"kept": bool(result.kept), "reason": result.get("reason", "")})

    # per batch and per epoch --------------------------------------------------------------------
    def _reset_epoch(self) -> None:
        self._wait = 0.0
        self._step = 0.0
        self._batches = 0
        self._last_end: float | None = None
        self._batch_start = 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._reset_epoch()
        self._last_end = time.perf_counter()  # the first batch's wait includes starting the workers

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._last_end is not None:
            self._wait += now - self._last_end
        self._batch_start = now
        if self._monitor is not None:
            self._monitor.start_batch()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._monitor is not None:
            self._monitor.end_batch()
        now = time.perf_counter()
        self._step += now - self._batch_start
        self._batches += 1
        self._last_end = now

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not self._batches:
            return
        exp = self._experiment(trainer)
        if exp is None or not exp.running:
            return
        wait_ms = 1e3 * self._wait / self._batches
        step_ms = 1e3 * self._step / self._batches
        epoch = int(trainer.current_epoch)
        exp.log_metric("loader_wait_ms", wait_ms, epoch)
        exp.log_metric("step_ms", step_ms, epoch)
        exp.log_metric("loader_wait_share", wait_ms / (wait_ms + step_ms) if wait_ms + step_ms > 0 else 0.0, epoch)

    def on_train_end(self, trainer, pl_module) -> None:
        if self._monitor is not None:
            self._monitor.stop_mode()
            exp = self._experiment(trainer)
            if exp is not None and exp.running:
                self._monitor.save_json(os.path.join(exp.cache_dir, "monitor_result.json"))  # attached
            self._monitor = None

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self._migrator is not None and self._migrator.is_applied():
            self._migrator.restore()  # the process's functions as they were before fit()
        self._migrator = None
