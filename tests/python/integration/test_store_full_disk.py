"""A real full disk (a 2 MiB tmpfs in a private mount namespace) under a training script: logging,
records, heartbeats and the monitor's auto-save keep their data in memory, warn once, retry, and
report at the end; the training loop is never interrupted."""

import json
import shutil
import subprocess
import sys
import textwrap

import pytest
from conftest import python_env

SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time, warnings
    import codedag
    from codedag.monitor import ExperimentMonitor

    home = os.environ["CODEDAG_HOME"]
    space_comes_back = sys.argv[1] == "recover"
    filler = os.path.join(home, "filler")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with codedag.Experiment("full", snapshot=False) as exp:
            mon = ExperimentMonitor("full", save_dir=os.path.join(home, "results"))
            mon.start_mode("baseline", resource_interval=0.05)
            with open(filler, "wb") as f:  # the disk fills up
                try:
                    while True:
                        f.write(b"x" * 65536)
                        f.flush()
                except OSError:
                    pass
            for i in range(5000):
                exp.log_metric("loss", 1.0 / (i + 1), step=i)
                mon.log_loss(0, i, 0.5)
            exp.dump_info("params", {"lr": 0.1, "text": "x" * 50000})
            best = exp.dump_metric("acc", 0.9)
            exp.add_tag("full-disk")
            time.sleep(0.5)  # heartbeats and auto-saves fail meanwhile
            mon.stop_mode()
            print("TRAINING-SURVIVED", best, flush=True)
            if space_comes_back:
                os.remove(filler)
    print("WARNINGS", json.dumps([str(w.message) for w in caught]))
    print("PROBLEMS", json.dumps(exp.write_problems))
    """
)


def run_on_full_disk(tmp_path, mode):
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is not installed")
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "train.py").write_text(SCRIPT)
    inner = f'mount -t tmpfs -o size=2m tmpfs "{home}" && exec "{sys.executable}" train.py {mode}'
    for cmd in (["unshare", "-m", "sh", "-c", inner], ["unshare", "-Urm", "sh", "-c", inner]):
        proc = subprocess.run(
            cmd,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env=python_env(CODEDAG_HOME=str(home)),
        )
        if "TRAINING-SURVIVED" in proc.stdout or "mount" not in proc.stderr:
            return proc
    pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()[:200]}")


def line(proc, tag):
    return json.loads(next(x for x in proc.stdout.splitlines() if x.startswith(tag + " "))[len(tag) + 1 :])


def test_training_survives_a_full_disk_and_writes_everything_when_space_returns(tmp_path):
    proc = run_on_full_disk(tmp_path, "recover")
    assert proc.returncode == 0, proc.stderr
    assert "TRAINING-SURVIVED 0.9" in proc.stdout
    # Each kind of write warns once, not once per call.
    assert proc.stderr.count("cannot append to") == 1, proc.stderr
    assert proc.stderr.count("cannot write the record") == 1, proc.stderr
    assert proc.stderr.count("cannot auto-save") == 1, proc.stderr
    problems = line(proc, "PROBLEMS")
    assert problems["record_changes_pending"] == 0 and problems["metric_bytes_pending"] == 0
    warned = line(proc, "WARNINGS")
    assert any("everything was written after retrying" in w for w in warned), warned


def test_training_survives_a_disk_that_stays_full_and_says_what_was_lost(tmp_path):
    proc = run_on_full_disk(tmp_path, "stay-full")
    assert proc.returncode == 0, proc.stderr
    assert "TRAINING-SURVIVED 0.9" in proc.stdout
    warned = line(proc, "WARNINGS")
    assert any(
        "could not be written and are kept in memory only" in w and "No space left" in w for w in warned
    ), warned
    assert line(proc, "PROBLEMS")["record_changes_pending"] > 0
