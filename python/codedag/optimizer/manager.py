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


def _names(name: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(v, str) and v for v in value):
        raise _core.InputError(f"{name} must be a list of package names (or None), got {value!r}")
    return list(value)


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


def _whole(name: str, value: Any, minimum: int, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _core.InputError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    if value < minimum:
        raise _core.InputError(f"{name} must be at least {minimum}, got {value}")
    return value


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

    ``k`` bounds the partitions (cpu plus k-1 main-process executors; None: 1 + GPUs, at least 2).
    ``gpu_count`` None detects GPUs with torch. ``workers`` overrides the DataLoader worker count of
    the device model and of the DAG's meta. ``device_model`` is a DeviceModel, a dict or a path.
    ``library_modules``: top-level package names whose contexts fold into the user function that
    calls them before partitioning (the migrator never patches library code); None: the engine's
    default list (docs/optimizer.md); to add packages pass
    ``OptimizerManager.default_library_modules() + ["mypkg"]``.
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
        library_modules: list[str] | None = None,
    ):
        self.k = _whole("k", k, 2, allow_none=True)
        self.coarsen_max_depth = _whole("coarsen_max_depth", coarsen_max_depth, 0)
        self.max_iterations = _whole("max_iterations", max_iterations, 0)
        self.seed = _whole("seed", seed, 0)
        self.device_model = _as_device_model(device_model)
        self.gpu_count = detect_gpu_count() if gpu_count is None else _whole("gpu_count", gpu_count, 0)
        self.workers = _whole("workers", workers, 1, allow_none=True)
        if algorithm not in _core.partitioner_names():
            raise _core.InputError(
                f"unknown algorithm {algorithm!r}; known: {', '.join(_core.partitioner_names())}"
            )
        self.algorithm = algorithm
        self.preset = preset
        # Merge single-producer/single-consumer chains on graphs at least this large (0: never).
        self.chain_merge_min_nodes = _whole("chain_merge_min_nodes", chain_merge_min_nodes, 0)
        # Top-level packages whose contexts fold into their user caller (None: the engine's list).
        self.library_modules = _names("library_modules", library_modules)
        self.last_result: dict | None = None

    @staticmethod
    def default_library_modules() -> list[str]:
        """The package names treated as libraries when ``library_modules`` is None."""
        return list(_core.default_library_modules())

    def optimize(self, dag: _DagLike, export_dir: str | os.PathLike | None = None) -> dict:
        """Coarsen, partition and plan. Returns a dict with optimized_partitions {node_id: partition},
        coarsened_dag, cost, baseline_cost, predicted_speedup, lower_bound, gap, executors (partition
        index -> executor), plan and the cost breakdown. ``export_dir`` receives dag.json,
        coarsened_dag.json, partitions.json, plan.json, dag.dot and summary.md."""
        engine_dag = _as_dag(dag)
        summary, coarse, plan = _core._optimize(
            engine_dag,
            self.k or 0,
            self.coarsen_max_depth,
            self.max_iterations,
            self.seed,
            self.gpu_count,
            self.workers,
            self.device_model,
            self.algorithm,
            self.preset,
            self.chain_merge_min_nodes,
            None if export_dir is None else os.fspath(export_dir),
            self.library_modules,
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
        gpus = _whole("gpu_count", gpu_count, 0)
        try:
            parts = {int(k): int(v) for k, v in dict(partitions).items()}
        except (TypeError, ValueError) as exc:
            raise _core.InputError(f"partitions must map node ids to partition numbers: {exc}") from None
        model = _core._resolve_device_model(engine_dag, self.device_model, self.workers)
        return _core._migration_plan(engine_dag, parts, gpus, model)


def evaluate_plan(dag: _DagLike, plan: Any, device_model: Any = None) -> dict:
    """Scores a plan (dict or path) on a DAG with SPEC §2's cost model (the plan's own device model
    unless one is given): stage_ns per executor, stages, transfers, cost, baseline_cost,
    predicted_speedup, bottleneck. Raises InfeasiblePlanError naming a broken constraint."""
    if isinstance(plan, os.PathLike):
        plan = os.fspath(plan)
    return _core.evaluate_plan(_as_dag(dag), plan, _as_device_model(device_model))


def load_plan(path: str | os.PathLike) -> dict:
    """Reads and validates a codedag.plan/1 file (FormatError names the field)."""
    return _core.load_plan(os.fspath(path))


def save_plan(plan: dict, path: str | os.PathLike) -> None:
    """Validates a plan dict and writes it atomically."""
    _core.save_plan(plan, os.fspath(path))
