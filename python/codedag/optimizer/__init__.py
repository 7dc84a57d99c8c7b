"""The optimizer area of CodeDAG: decide which contexts of a pipeline DAG run where.

All computation is in the C++ engine; see docs/optimizer.md.
"""

from .._core import DeviceModel, random_layered_dag
from .manager import OptimizerManager, evaluate_plan, load_plan, save_plan

__all__: list[str] = [
    "DeviceModel",
    "OptimizerManager",
    "evaluate_plan",
    "load_plan",
    "random_layered_dag",
    "save_plan",
]
