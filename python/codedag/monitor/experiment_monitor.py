"""The Python face of the monitor area. Every piece of state, statistic, sample and chart is made
by the C++ engine (``codedag._core``); these classes keep the seed's names and signatures, turn
tensors and numpy scalars into numbers, print with the terminal habits, and hand the files to a
running ``codedag.Experiment`` when there is one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import _core
from .._term import Terminal

__all__ = [
    "Timer",
    "ResourceMonitor",
    "MetricsLogger",
    "ExperimentMonitor",
    "compare_results",
    "render_report",
]


def _attach_to_experiment(kind: str, path: str) -> None:
    """Stores `path` with the running codedag.Experiment, if any (the store area may be absent)."""
    try:
        from ..store import active_experiment  # provided by the experiment store
    except ImportError:
        return
    experiment = active_experiment()
    if experiment is not None:
        experiment.attach(kind, path)


class Timer(_core.BatchTimer):
    """Batch times and total training time (the seed's Timer).

    ``start()``/``stop()`` time the whole mode; ``start_batch()``/``end_batch()`` each batch;
    ``batch_times`` is ``[(global_batch_idx, seconds), ...]``; ``get_stats()`` the summary.
    """

    def get_batch_times(self) -> list[tuple[int, float]]:
        return self.batch_times

    def get_total_time(self) -> float:
        return self.total_time


class MetricsLogger(_core.MetricsLog):
    """Losses and accuracies per (epoch, batch) (the seed's MetricsLogger)."""

    def log_loss(self, epoch: int, batch: int, loss: Any) -> None:
        super().log_loss(int(epoch), int(batch), float(loss))

    def log_accuracy(self, epoch: int, batch: int, acc: Any) -> None:
        super().log_accuracy(int(epoch), int(batch), float(acc))

    @property
    def losses(self) -> list[list[float]]:
        return self.get_metrics()["losses"]

    @property
    def accuracies(self) -> list[list[float]]:
        return self.get_metrics()["accuracies"]


class ResourceMonitor:
    """Background CPU / memory / GPU sampling by a C++ thread (the seed's ResourceMonitor).

    ``interval`` is in seconds (0.01 or more). ``pid`` is the root of the sampled process tree
    (default: this process and its DataLoader workers). Container aware: CPU % is relative to the
    cgroup's quota and memory % to its limit when they are set. Usable as a context manager.
    """

    def __init__(self, interval: float = 1.0, pid: int | None = None, gpu: bool = True):
        self._sampler = _core.ResourceSampler(float(interval), int(pid or 0), "/", bool(gpu))

    def start(self) -> None:
        self._sampler.start()

    def stop(self) -> None:
        self._sampler.stop()

    @property
    def running(self) -> bool:
        return self._sampler.running

    @property
    def interval(self) -> float:
        return self._sampler.interval

    def get_data(self) -> dict:
        """The series as the result file has them: cpu_usage, memory_usage, gpu_usage,
        gpu_memory ([[timestamp, value], ...], GPUs keyed by index) and CodeDAG's extras."""
        return self._sampler.usage()

    def get_samples(self) -> list[dict]:
        return self._sampler.samples()

    def clear(self) -> None:
        self._sampler.clear()

    @property
    def info(self) -> dict:
        """cgroup version and directories, CPU quota and capacity, memory limit, container evidence, GPUs."""
        return self._sampler.describe()

    @property
    def is_docker(self) -> bool:
        """Whether container evidence was found (reported only: limits are read from the cgroup files)."""
        return bool(self.info["container"]["detected"])

    def __enter__(self) -> ResourceMonitor:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class ExperimentMonitor:
    """Baseline against optimisation, as in seed 001 §3.3:

    >>> monitor = ExperimentMonitor("BirdCLEF_2023", save_dir="./results")
    >>> monitor.start_mode("baseline", config={"epochs": 2})
    >>> # per batch: monitor.start_batch(); ...; monitor.end_batch(); monitor.log_loss(epoch, i, loss)
    >>> monitor.stop_mode()
    >>> monitor.save_json(); monitor.plot_metrics()

    While a mode runs the result file is re-saved every ``resource_interval`` (at least 0.5 s
    apart), atomically, so a crash loses at most about one interval.
    """

    def __init__(self, experiment_name: str, save_dir: str | os.PathLike = "./results"):
        self.experiment_name = experiment_name
        self.save_dir = str(save_dir)
        self._session = _core.ExperimentSession(experiment_name, self.save_dir)
        self._term = Terminal()
        self._gpu_note_shown = False
        # The per-batch calls go straight to C++: no Python frame between the loop and the clock.
        self.start_batch = self._session.start_batch
        self.end_batch = self._session.end_batch

    def start_mode(self, mode: str, config: dict | None = None, resource_interval: float = 1.0) -> None:
        self._session.start_mode(mode, config, float(resource_interval))
        if not self._gpu_note_shown:
            self._gpu_note_shown = True
            info = self.results["modes"][mode]["resource_info"]
            if info.get("gpu_note"):
                self._term.info(info["gpu_note"])
        self._term.ok(f"mode '{mode}' started (resources every {float(resource_interval):g} s)")

    def log_loss(self, epoch: int, batch: int, loss: Any) -> None:
        self._session.log_loss(int(epoch), int(batch), float(loss))

    def log_accuracy(self, epoch: int, batch: int, acc: Any) -> None:
        self._session.log_accuracy(int(epoch), int(batch), float(acc))

    def stop_mode(self) -> None:
        mode = self._session.current_mode
        self._session.stop_mode()
        summary = self.results["modes"][mode]["summary"]
        bt = summary["batch_time"]
        mean = f", mean batch {bt['mean'] * 1e3:.1f} ms" if bt["mean"] is not None else ""
        self._term.ok(
            f"mode '{mode}' stopped: {summary['batches']} batches in {summary['total_time']:.2f} s{mean}"
        )
        if self._session.last_autosave_error:
            self._term.warn(
                f"the result file could not be saved ({self._session.last_autosave_error}); the results are "
                "in memory: save_json(path) writes them elsewhere"
            )

    @property
    def current_mode(self) -> str | None:
        return self._session.current_mode

    @property
    def results(self) -> dict:
        """The whole result (seed 001 §6 structure) as it stands, a running mode included."""
        return self._session.to_dict()

    def save_json(self, path: str | os.PathLike | None = None) -> str:
        """Writes the result file atomically; returns its path (default: save_dir/<name>_<time>.json)."""
        written = self._session.save(None if path is None else os.fspath(path))
        self._term.ok(f"results saved to {written}")
        _attach_to_experiment("monitor_result", written)
        return written

    def plot_metrics(self, out_dir: str | os.PathLike | None = None) -> dict[str, str]:
        """Renders the comparison report (self-contained HTML and an SVG image) beside the result
        file, or in `out_dir`; returns {"html": path, "svg": path}."""
        stem = Path(self._session.default_path).stem
        directory = (
            os.fspath(out_dir) if out_dir is not None else str(Path(self._session.default_path).parent)
        )
        html, svg = _core.render_report(self._session.to_dict(), directory, stem)
        self._term.ok(f"report written to {html} (image: {svg})")
        _attach_to_experiment("monitor_report", html)
        _attach_to_experiment("monitor_report_image", svg)
        return {"html": html, "svg": svg}


def compare_results(source: str | os.PathLike | dict, baseline: str = "", candidate: str = "") -> dict:
    """Baseline against candidate from a result file or dict: speedup and a row per metric."""
    return _core.compare_results(
        os.fspath(source) if isinstance(source, os.PathLike) else source, baseline, candidate
    )


def render_report(
    source: str | os.PathLike | dict, out_dir: str | os.PathLike, stem: str = "results"
) -> dict[str, str]:
    """Writes <out_dir>/<stem>_report.html and .svg from a result file or dict."""
    src = os.fspath(source) if isinstance(source, os.PathLike) else source
    html, svg = _core.render_report(src, os.fspath(out_dir), stem)
    return {"html": html, "svg": svg}
