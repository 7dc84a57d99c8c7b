"""Seeds and reproducible sampling (seed 000 §7): one call fixes every generator a training script
uses, and subsets drawn with a seed are the same on every run."""

from __future__ import annotations

import os
import random
import sys
from typing import Any


def seed_everything(seed: int, *, deterministic: bool = True) -> int:
    """Seeds Python's ``random``, numpy and torch (CPU and every CUDA device) with ``seed``.

    ``deterministic``: cuDNN picks deterministic kernels and stops benchmarking (``cudnn.deterministic
    = True``, ``cudnn.benchmark = False``). ``PYTHONHASHSEED`` is set for child processes (DataLoader
    workers started with spawn). numpy and torch are seeded only when installed. Returns ``seed``.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed_everything: the seed must be an int, not {type(seed).__name__}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed_everything: the seed must be in [0, 2**32), not {seed}")
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import torch
        except ImportError:
            torch = None
    if torch is not None:
        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
        if deterministic:
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
    return seed


def seeded_indices(total: int, count: int | None, seed: int = 66) -> list[int]:
    """``count`` distinct indices of ``range(total)`` drawn with ``seed`` (all of them, in order, for
    None or a count >= total). The same arguments give the same indices everywhere."""
    if total < 0:
        raise ValueError(f"seeded_indices: total must be >= 0, not {total}")
    if count is None or count >= total:
        return list(range(total))
    if count < 0:
        raise ValueError(f"seeded_indices: count must be >= 0, not {count}")
    return sorted(random.Random(seed).sample(range(total), count))


def seeded_subset(dataset: Any, count: int | None, seed: int = 66) -> Any:
    """A reproducible subset of ``dataset`` (``torch.utils.data.Subset`` when torch is installed, else
    a list of items) with ``count`` samples drawn with ``seed``; the dataset itself for None."""
    if count is None:
        return dataset
    indices = seeded_indices(len(dataset), count, seed)
    try:
        from torch.utils.data import Subset
    except ImportError:
        return [dataset[i] for i in indices]
    return Subset(dataset, indices)
