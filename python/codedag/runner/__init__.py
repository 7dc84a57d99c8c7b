"""Running many experiments (seed 000): ``codedag.sweep`` over a grid of parameters, locally or on
Slurm, and the helpers experiment scripts need — seeds, GPU detection, rank-0 printing.

The engine (expansion, manifest, leases, cell runners, Slurm, the summary) is C++; see docs/sweeps.md.
"""

from .devices import detect_gpus, detect_num_gpus
from .ranks import get_rank, is_rank_zero, rank_zero_print
from .reproducibility import seed_everything, seeded_indices, seeded_subset
from .sweep import SweepResult, sweep, sweep_status

__all__ = [
    "sweep",
    "sweep_status",
    "SweepResult",
    "seed_everything",
    "seeded_indices",
    "seeded_subset",
    "detect_gpus",
    "detect_num_gpus",
    "get_rank",
    "is_rank_zero",
    "rank_zero_print",
]
