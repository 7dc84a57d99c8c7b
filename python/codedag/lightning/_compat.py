"""Lightning's two distributions: the unified ``lightning`` package, else ``pytorch_lightning``."""

from __future__ import annotations

try:
    from lightning.pytorch.callbacks import Callback
    from lightning.pytorch.loggers.logger import Logger
except ImportError:  # pragma: no cover - only one of the two is installed here
    from pytorch_lightning.callbacks import Callback  # type: ignore[no-redef]
    from pytorch_lightning.loggers.logger import Logger  # type: ignore[no-redef]

__all__ = ["Callback", "Logger"]
