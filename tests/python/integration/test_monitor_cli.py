"""`codedag monitor -- COMMAND`: samples the command's process tree, writes the result file, and
exits with the command's own status."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from conftest import cli_path

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "docs/schemas/monitor_result.schema.json").read_text()
)

# A parent that starts a busy child and is busy itself for ~0.8 s: the tree is two processes.
BUSY_TREE = (
    "import os, subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time\\nt=time.time()\\nwhile time.time()-t<0.8: pass'])\n"
    "t = time.time()\n"
    "while time.time() - t < 0.8: pass\n"
    "child.wait()\n"
    "t = os.times()\n"
    "open('cpu.txt', 'w').write(str(t.user + t.system + t.children_user + t.children_system))\n"
)


def test_monitor_samples_the_whole_process_tree(run_cli, tmp_path):
    proc = run_cli(
        "monitor", "--interval", "0.05", "--out", "run.json", "--", sys.executable, "-c", BUSY_TREE
    )
    assert proc.returncode == 0, proc.stderr
    assert "✓ wrote run.json" in proc.stderr and "command exited 0" in proc.stderr
    doc = json.loads((tmp_path / "run.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["experiment_name"] == Path(sys.executable).name
    run = doc["modes"]["run"]
    assert run["config"]["command"][0] == sys.executable
    usage = run["resource_usage"]
    assert len(usage["cpu_usage"]) >= 8
    # The CPU seconds the samples add up to match what the command and its child used (their own
    # os.times()): the child is part of the tree. Loose bounds: 10 ms ticks, the first interval.
    capacity = run["resource_info"]["cpu_capacity"]
    used = float((tmp_path / "cpu.txt").read_text())
    sampled, last = 0.0, run["start_time"]
    for t, pct in usage["process_cpu_usage"]:
        sampled += pct / 100 * capacity * (t - last)
        last = t
    assert used > 0.3
    assert sampled == pytest.approx(used, rel=0.25, abs=0.1), (sampled, used)
    assert max(v for _, v in usage["process_memory"]) > 5


def test_exit_status_is_the_commands(run_cli):
    assert (
        run_cli("monitor", "--out", "a.json", "--", sys.executable, "-c", "raise SystemExit(3)").returncode
        == 3
    )
    proc = run_cli(
        "monitor",
        "--out",
        "b.json",
        "--",
        sys.executable,
        "-c",
        "import os, signal; os.kill(os.getpid(), signal.SIGTERM)",
    )
    assert proc.returncode == 128 + signal.SIGTERM
    assert "killed by signal" in proc.stderr


def test_missing_command_and_bad_interval(run_cli, tmp_path):
    proc = run_cli("monitor", "--", "no-such-program-xyz")
    assert proc.returncode == 127
    assert "✗ cannot run 'no-such-program-xyz'" in proc.stderr
    proc = run_cli("monitor", "--interval", "0.001", "--", "true")
    assert proc.returncode == 2 and "0.01" in proc.stderr
    assert run_cli("monitor").returncode != 0  # no command


def test_sigterm_to_monitor_reaches_the_command_and_the_file_is_written(tmp_path):
    env = dict(os.environ, NO_COLOR="1")
    p = subprocess.Popen(
        [
            cli_path(),
            "monitor",
            "--interval",
            "0.05",
            "--out",
            str(tmp_path / "t.json"),
            "--",
            sys.executable,
            "-c",
            "import time; time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=20)
    assert p.returncode == 128 + signal.SIGTERM, err
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["modes"]["run"]["end_time"] is not None
    assert doc["modes"]["run"]["summary"]["total_time"] < 10
