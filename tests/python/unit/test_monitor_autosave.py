"""ExperimentMonitor's auto-save: never starved by a tight logging loop, never silent when it fails."""

import json
import os
import time
from pathlib import Path

import pytest

from codedag.monitor import ExperimentMonitor


def test_autosave_keeps_its_interval_under_a_tight_logging_loop(tmp_path):
    # Before: one resource sample and one auto-save in 3 s at 0.1 s intervals (the sampler starved
    # on the mutex the loop relocked a million times).
    m = ExperimentMonitor("tight", save_dir=tmp_path)
    m.start_mode("baseline", resource_interval=0.1)
    path = m._session.default_path
    saves, n, t0 = set(), 0, time.time()
    while time.time() - t0 < 3.0:  # auto-save runs at most every 0.5 s: up to 6 saves
        # Bursts of 1,000 calls with no pause, bounded in total: every auto-save writes the whole
        # result, so an unbounded loop (~100k losses/s) would measure JSON size, not starvation.
        if n < 60_000:
            for _ in range(1000):
                m.log_loss(0, n, 0.5)
                n += 1
        else:
            time.sleep(0.01)
        if os.path.exists(path):
            saves.add(os.stat(path).st_mtime_ns)
    doc = json.loads(Path(path).read_text())
    m.stop_mode()
    assert len(saves) >= 3, f"{len(saves)} auto-saves in 3 s (every max(0.1, 0.5) s; starved: 1)"
    assert len(doc["modes"]["baseline"]["resource_usage"]["cpu_usage"]) >= 3


def test_unwritable_save_dir_warns_once_and_keeps_the_results(tmp_path, capfd):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the directory should be")
    m = ExperimentMonitor("nowhere", save_dir=blocker / "results")
    m.start_mode("baseline", resource_interval=0.05)
    for i in range(200):
        m.log_loss(0, i, 1.0 / (i + 1))
        time.sleep(0.002)
    m.stop_mode()  # no exception: training goes on
    captured = capfd.readouterr()
    err = captured.err
    assert err.count("cannot auto-save") == 1, err  # the engine's warning, once
    assert "could not be saved" in captured.out  # the monitor's closing line for the mode
    assert "Not a directory" in m._session.last_autosave_error
    assert len(m.results["modes"]["baseline"]["metrics"]["losses"]) == 200
    written = m.save_json(tmp_path / "elsewhere.json")
    assert json.loads(Path(written).read_text())["experiment_name"] == "nowhere"
    with pytest.raises(OSError):
        m.save_json()  # an explicit save to the unwritable place says so
