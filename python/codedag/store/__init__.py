"""Experiment records: every run recorded so it can be listed, compared, explained and re-run.

The engine (ids, files, index, lease, git snapshot) is C++ (``codedag._core``); these modules are
its Python face plus the parts that must be Python (hooks into the interpreter, imported versions).
"""

from .experiment import Experiment, StoreWarning, active_experiment
from .hooks import GitCommit, Heartbeat, Hook, LastCmd, LockFile, RecordAbort, default_hooks
from .watcher import Watcher

__all__ = [
    "Experiment",
    "Watcher",
    "StoreWarning",
    "Hook",
    "LastCmd",
    "LockFile",
    "RecordAbort",
    "GitCommit",
    "Heartbeat",
    "default_hooks",
    "active_experiment",
]
