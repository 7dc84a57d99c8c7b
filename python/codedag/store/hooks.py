"""Hooks run at a run's start, progress and end. Subclass :class:`Hook` to add your own and pass it
to ``Experiment(..., hooks=[...])`` or ``exp.add_hook(...)``.

A hook may contribute fields to the first version of run.json (``start_fields``, so starting a run
stays one file write) and react to ``on_start`` / ``on_progress`` / ``on_end``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import traceback
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .experiment import Experiment


class Hook:
    """Base class: every method is optional."""

    name = "hook"

    def start_fields(self, exp: Experiment) -> dict[str, Any]:
        """Fields merged into run.json when the run is created."""
        return {}

    def on_start(self, exp: Experiment) -> None:
        pass

    def on_progress(self, exp: Experiment, **progress: Any) -> None:
        pass

    def on_end(self, exp: Experiment, status: str, details: dict[str, Any]) -> None:
        pass


class LastCmd(Hook):
    """Records the command line, shell-quoted, so it can be pasted back into a terminal."""

    name = "LastCmd"

    def start_fields(self, exp):
        argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
        return {"lastcmd": shlex.join(argv)}


# Libraries whose version matters to a training run, recorded when (and only when) imported.
_VERSIONED = (
    "torch",
    "numpy",
    "pandas",
    "scipy",
    "sklearn",
    "lightning",
    "pytorch_lightning",
    "torchvision",
    "transformers",
    "timm",
    "accelerate",
    "jax",
    "tensorflow",
    "PIL",
    "cv2",
    "albumentations",
)


class LockFile(Hook):
    """Records the versions of Python and of the libraries imported (lumo's LockFile): at start, and
    again at the end for the libraries the run imported meanwhile (``import torch`` inside ``main()``)."""

    name = "LockFile"

    def on_end(self, exp, status, details):
        exp._core.merge_fields(self.start_fields(exp))

    def start_fields(self, exp):
        versions: dict[str, Any] = {"python": sys.version.split()[0]}
        try:
            from .. import __version__

            versions["codedag"] = __version__
        except ImportError:
            pass
        for mod_name in _VERSIONED:
            mod = sys.modules.get(mod_name)
            version = getattr(mod, "__version__", None) if mod is not None else None
            if version is not None:
                versions[mod_name] = str(version)
        torch = sys.modules.get("torch")
        if torch is not None:
            cuda = getattr(getattr(torch, "version", None), "cuda", None)
            if cuda:
                versions["cuda"] = str(cuda)
            try:
                if torch.cuda.is_available():
                    versions["cudnn"] = str(torch.backends.cudnn.version())
            except Exception:  # a broken CUDA install must not stop the run
                pass
        return {"versions": versions}


class RecordAbort(Hook):
    """Records how a run that did not finish ended: an uncaught exception (type, message,
    traceback) as ``failed``; SIGTERM, or SIGINT / KeyboardInterrupt, as ``killed`` with the signal.
    A run started without a ``with`` block and never ended is closed as ``finished`` at exit."""

    name = "RecordAbort"

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._previous_excepthook = None

    def on_start(self, exp):
        import atexit

        if threading_main():
            for sig in (signal.SIGTERM,):
                with contextlib.suppress(ValueError, OSError):
                    self._previous[sig] = signal.signal(sig, self._make_handler(exp, sig))
        self._previous_excepthook = sys.excepthook

        def excepthook(exc_type, exc, tb):
            if exp.running:
                exp.end(**details_of(exc_type, exc, tb))
            (self._previous_excepthook or sys.__excepthook__)(exc_type, exc, tb)

        sys.excepthook = excepthook
        atexit.register(self._at_exit, exp)
        self._watch_worker_exit(exp)

    def _watch_worker_exit(self, exp):
        """A process started by multiprocessing (torch.multiprocessing.spawn, Lightning's ddp_spawn)
        never reaches sys.excepthook: its wrapper catches the exception and calls sys.exit(1), and
        atexit cannot see an exit code. multiprocessing runs its finalizers while that SystemExit
        unwinds, so the exception (the SystemExit's context) is visible there: the run ends failed
        with it, not finished (Lightning #21787)."""
        import multiprocessing
        import multiprocessing.util

        if multiprocessing.parent_process() is None:
            return

        def at_worker_exit():
            leaving = sys.exc_info()[1]
            if not exp.running or not isinstance(leaving, SystemExit) or leaving.code in (0, None):
                return
            cause = leaving.__context__
            if cause is not None:
                exp.end(**details_of(type(cause), cause, cause.__traceback__))
            else:
                exp.end("failed", exception={"type": "SystemExit", "message": f"exit code {leaving.code}"})

        self._worker_exit = multiprocessing.util.Finalize(None, at_worker_exit, exitpriority=100)

    def _make_handler(self, exp, sig):
        def handler(signum, frame):
            if exp.running:
                exp.end("killed", signal=signal.Signals(signum).name)
            previous = self._previous.get(sig)
            signal.signal(
                sig, previous if callable(previous) or previous in (signal.SIG_IGN,) else signal.SIG_DFL
            )
            if callable(previous):
                previous(signum, frame)
            else:
                os.kill(os.getpid(), signum)

        return handler

    def _at_exit(self, exp):
        if exp.running:
            exp.end("finished")

    def on_end(self, exp, status, details):
        for sig, previous in self._previous.items():
            try:
                if signal.getsignal(sig) is not previous and threading_main():
                    signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
            except (ValueError, OSError, TypeError):
                pass
        self._previous.clear()
        worker_exit = getattr(self, "_worker_exit", None)
        if worker_exit is not None:
            worker_exit.cancel()
            self._worker_exit = None
        if self._previous_excepthook is not None:
            sys.excepthook = self._previous_excepthook
            self._previous_excepthook = None


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def details_of(exc_type, exc, tb) -> dict[str, Any]:
    """status + exception/signal details for an exception that ended a run."""
    if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
        return {"status": "killed", "signal": "SIGINT"}
    return {
        "status": "failed",
        "exception": {
            "type": exc_type.__qualname__ if exc_type else "Exception",
            "module": getattr(exc_type, "__module__", ""),
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc_type, exc, tb)),
        },
    }


class GitCommit(Hook):
    """Snapshots the working tree (tracked + untracked-not-ignored files, size-capped) under
    ``refs/codedag/<name>/<test_name>``; the user's index, HEAD, branches and stash stay untouched."""

    name = "GitCommit"

    def __init__(self, max_file_bytes: int = 5 << 20, max_total_bytes: int = 100 << 20) -> None:
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes

    def on_start(self, exp):
        exp._core.snapshot_code(self.max_file_bytes, self.max_total_bytes)


class Heartbeat(Hook):
    """The run's lease, refreshed by a C++ thread (pid + process start time in heartbeat.json), so a
    run whose process vanished is listed as ``dead``. ``lease_seconds`` None: CODEDAG_LEASE_SECONDS or 30."""

    name = "Heartbeat"

    def __init__(self, lease_seconds: float | None = None) -> None:
        self.lease_seconds = lease_seconds


def default_hooks(snapshot: bool = True) -> list[Hook]:
    hooks: list[Hook] = [LastCmd(), LockFile(), RecordAbort(), Heartbeat()]
    if snapshot:
        hooks.append(GitCommit())
    return hooks
