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
    while time.time() - t0 < 2.0:
        for _ in range(1000):
            m.log_loss(0, n, 0.5)
            n += 1
        if os.path.exists(path):
            saves.add(os.stat(path).st_mtime_ns)
    doc = json.loads(Path(path).read_text())
    m.stop_mode()
    assert len(saves) >= 4, f"{len(saves)} auto-saves in 2 s at 0.1 s intervals"
    assert len(doc["modes"]["baseline"]["resource_usage"]["cpu_usage"]) >= 4


def test_unwritable_save_dir_warns_once_and_keeps_the_results(tmp_path, capfd):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the directory should be")
    m = ExperimentMonitor("nowhere", save_dir=blocker / "results")
    m.start_mode("baseline", resource_interval=0.05)
    for i in range(200):
        m.log_loss(0, i, 1.0 / (i + 1))
        time.sleep(0.002)
    m.stop_mode()  # no exception: training goes on
    err = capfd.readouterr().err
    assert err.count("cannot auto-save") == 1, err
    assert "could not be saved" in err
    assert "Not a directory" in m._session.last_autosave_error
    assert len(m.results["modes"]["baseline"]["metrics"]["losses"]) == 200
    written = m.save_json(tmp_path / "elsewhere.json")
    assert json.loads(Path(written).read_text())["experiment_name"] == "nowhere"
    with pytest.raises(OSError):
        m.save_json()  # an explicit save to the unwritable place says so
