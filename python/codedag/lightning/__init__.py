"""PyTorch Lightning integration (issue 14; docs/lightning.md): ``CodeDAGLogger`` records a
Trainer's metrics, hyperparameters and checkpoints in ONE codedag run for the whole job (every rank
of ddp / ddp_spawn / torchrun / srun), and ``CodeDAGCallback`` traces the training DataLoader at fit
start and records loader wait against step time per epoch.

Imports Lightning (``lightning``, else ``pytorch_lightning``): import this module only where
Lightning is installed (``requirements-dev.txt`` pins it)."""

from .callback import CodeDAGCallback
from .logger import CodeDAGLogger

__all__ = ["CodeDAGLogger", "CodeDAGCallback"]
