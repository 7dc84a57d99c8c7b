"""OptimizerManager: the Python face of the C++ optimizer (coarsen -> partition -> plan).

Everything computed here is computed by the engine (codedag._core); this module only accepts the
argument shapes Python users pass (paths, dicts, objects) and returns plain dicts.
"""

from __future__ import annotations

import os
from typing import Any

from .. import _core

_DagLike = Any  # codedag.Dag | dict | str | os.PathLike


def _as_dag(dag: _DagLike) -> _core.Dag:
    if isinstance(dag, _core.Dag):
        return dag
    if isinstance(dag, (str, os.PathLike)):
        return _core.Dag.load(os.fspath(dag))
    if isinstance(dag, dict):
        return _core.Dag.from_dict(dag)
    # The tracer's DAG builder and similar wrappers expose the engine Dag as `.dag`.
    inner = getattr(dag, "dag", None)
    if isinstance(inner, _core.Dag):
        return inner
    raise _core.InputError(
        f"expected a codedag.Dag, a DAG dict or the path of a dag.json, got {type(dag).__name__}"
    )


def _as_device_model(model: Any) -> _core.DeviceModel | None:
    if model is None or isinstance(model, _core.DeviceModel):
        return model
    if isinstance(model, (str, os.PathLike)):
        return _core.DeviceModel.load(os.fspath(model))
    if isinstance(model, dict):
        return _core.DeviceModel.from_dict(model)
    raise _core.InputError(
        f"device_model must be a codedag.DeviceModel, a dict or a path, got {type(model).__name__}"
    )


def detect_gpu_count() -> int:
    """GPUs visible to torch (0 when torch is not installed or has no CUDA)."""
    try:
        import torch
    except ImportError:
        return 0
    try:
        return int(torch.cuda.device_count())
    except Exception:  # a broken driver is "no GPU" for placement purposes
        return 0


class OptimizerManager:
    """Decides which contexts of a pipeline DAG run where (SPEC §2).

    The arguments are those of ``codedag.OptimizerOptions`` (the C++ struct ``codedag optimize``
    fills from its command line, checked there: a wrong type or range is an InputError naming it).
    ``k`` bounds the partitions (cpu plus k-1 main-process executors; None: 1 + GPUs, at least 2).
    ``gpu_count`` None detects GPUs with torch. ``workers`` overrides the DataLoader worker count of
    the device model and of the DAG's meta. ``device_model`` is a DeviceModel, a dict or a path.
    Which contexts are library code is not an option: every DAG node carries the one decision
    (``library``, from ``codedag.libraries``; override it in ``[tool.codedag]`` of pyproject.toml).
    ``choose_workers``: also decide the DataLoader worker count (0 to ``max_workers``, default
    twice the cores) and threads per worker on the device model's ``cores`` (or ``cores`` here); the
    plan then carries ``parallelism``.
    """

    def __init__(
        self,
        k: int | None = 2,
        coarsen_max_depth: int = 5,
        max_iterations: int = 50,
        seed: int = 0,
        device_model: Any = None,
        gpu_count: int | None = None,
        workers: int | None = None,
        algorithm: str = "auto",
        preset: str = "default",
        chain_merge_min_nodes: int = 0,
        choose_workers: bool = False,
        max_workers: int = 0,
        cores: float | None = None,
    ):
        self.options = _core.OptimizerOptions.from_dict(
            {
                "k": k,
                "coarsen_max_depth": coarsen_max_depth,
                "max_iterations": max_iterations,
                "seed": seed,
                "gpu_count": detect_gpu_count() if gpu_count is None else gpu_count,
                "workers": workers,
                "algorithm": algorithm,
                "preset": preset,
                "chain_merge_min_nodes": chain_merge_min_nodes,
                "choose_workers": choose_workers,
                "max_workers": max_workers,
                "cores": cores,
            }
        )
        self.options.device_model = _as_device_model(device_model)
        self.last_result: dict | None = None

    def optimize(self, dag: _DagLike, export_dir: str | os.PathLike | None = None) -> dict:
        """Coarsen, partition and plan. Returns a dict with optimized_partitions {node_id: partition},
        coarsened_dag, cost, baseline_cost, predicted_speedup, lower_bound, gap, executors (partition
        index -> executor), plan and the cost breakdown. ``export_dir`` receives dag.json,
        coarsened_dag.json, partitions.json, plan.json, dag.dot and summary.md."""
        engine_dag = _as_dag(dag)
        summary, coarse, plan = _core._optimize(
            engine_dag, self.options, None if export_dir is None else os.fspath(export_dir)
        )
        result = dict(summary)
        result["executors"] = summary["partition_executors"]
        result["all_executors"] = summary["executors"]
        result["coarsened_dag"] = coarse
        result["plan"] = plan
        self.last_result = result
        return result

    def get_migration_plan(self, partitions: dict, dag: _DagLike, gpu_count: int = 1) -> dict:
        """Maps partitions onto the executors that exist with ``gpu_count`` GPUs (none: everything
        moved runs in the main process, batch:cpu) and returns a codedag.plan/1 dict."""
        engine_dag = _as_dag(dag)
        if isinstance(gpu_count, bool) or not isinstance(gpu_count, int) or gpu_count < 0:
            raise _core.InputError(f"gpu_count must be a whole number of at least 0, got {gpu_count!r}")
        try:
            parts = {int(k): int(v) for k, v in dict(partitions).items()}
        except (TypeError, ValueError) as exc:
            raise _core.InputError(f"partitions must map node ids to partition numbers: {exc}") from None
        model = _core._resolve_device_model(engine_dag, self.options.device_model, self.options.workers)
        return _core._migration_plan(engine_dag, parts, gpu_count, model)


def evaluate_plan(dag: _DagLike, plan: Any, device_model: Any = None) -> dict:
    """Scores a plan (dict or path) on a DAG with SPEC §2's cost model (the plan's own device model
    unless one is given): stage_ns per executor, stages, transfers, cost, baseline_cost,
    predicted_speedup, bottleneck. Raises InfeasiblePlanError naming a broken constraint."""
    return _core.evaluate_plan(_as_dag(dag), load_plan(plan), _as_device_model(device_model))


def load_plan(plan: Any) -> dict:
    """Reads and validates a codedag.plan/1 (a path, a dict, or an object with ``to_dict()``) with
    the engine's one plan reader (FormatError names the field); returns a normalised copy. A
    hand-written plan needs only ``schema`` and ``context_device_map``."""
    if isinstance(plan, os.PathLike):
        plan = os.fspath(plan)
    elif not isinstance(plan, (str, dict)):
        to_dict = getattr(plan, "to_dict", None)
        if not callable(to_dict):
            raise _core.InputError(f"a plan must be a dict or the path of a plan.json, not {type(plan).__name__}")
        plan = to_dict()
    return _core.validate_plan(plan)


def save_plan(plan: dict, path: str | os.PathLike) -> None:
    """Validates a plan dict and writes it atomically."""
    _core.save_plan(plan, os.fspath(path))
