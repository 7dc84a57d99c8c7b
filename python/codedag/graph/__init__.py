"""The optimizer front: decide which contexts of a pipeline DAG run where (``OptimizerManager``),
score a plan (``evaluate_plan``), read and write codedag.plan/1 (``load_plan``, ``save_plan``).

All computation is in the C++ engine; see docs/optimizer.md.
"""

from .._core import DeviceModel, OptimizerOptions, random_layered_dag
from .optimizer import OptimizerManager, evaluate_plan, load_plan, save_plan

__all__: list[str] = [
    "DeviceModel",
    "OptimizerManager",
    "OptimizerOptions",
    "evaluate_plan",
    "load_plan",
    "random_layered_dag",
    "save_plan",
]
