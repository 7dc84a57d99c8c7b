"""Runs as real processes: SIGKILL -> dead after the lease, SIGTERM -> killed, reruns of the
process do not confuse a reused pid. Real SQLite, real /proc."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import codedag

SCRIPT = textwrap.dedent(
    """
    import sys, time, codedag
    with codedag.Experiment("victim") as exp:
        print(exp.test_name, flush=True)
        i = 0
        while True:
            exp.log_metric("loss", 1.0 / (i + 1), step=i)
            i += 1
            if i == 50:
                exp.dump_metric("acc", 0.75)
                print("logged", flush=True)
            time.sleep(0.002 if i < 50 else 0.05)
    """
)


def start_victim(tmp_path, env_extra):
    script = tmp_path / "victim.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, **env_extra)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    test_name = proc.stdout.readline().strip()
    assert proc.stdout.readline().strip() == "logged"
    return proc, test_name


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_sigkilled_run_becomes_dead_with_its_flushed_metrics(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("CODEDAG_HOME", str(home))
    monkeypatch.setenv("CODEDAG_LEASE_SECONDS", "1")
    proc, test_name = start_victim(tmp_path, {})
    time.sleep(1.2)  # at least one flush (<= 0.5 s) after the 50th point
    w = codedag.Watcher()
    assert w.load(as_frame=False)[0]["status"] == "running"  # alive: lease fresh, process there
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert wait_for(lambda: w.load(as_frame=False)[0]["status"] == "dead", timeout=10)
    rec = w.record(test_name)
    assert rec["status"] == "dead"
    assert rec["last"]["loss"]["step"] >= 49  # metrics up to the last flush
    assert rec["metrics"]["acc"]["value"] == 0.75
    assert rec["dead"]["last_heartbeat"] > 0


def test_running_run_with_live_process_is_not_dead_even_after_lease(tmp_path, monkeypatch):
    """A process that is alive but whose lease looks old (e.g. clock jump) stays running."""
    home = tmp_path / "home"
    monkeypatch.setenv("CODEDAG_HOME", str(home))
    monkeypatch.setenv("CODEDAG_LEASE_SECONDS", "0.3")
    proc, test_name = start_victim(tmp_path, {})
    try:
        time.sleep(1.0)
        assert codedag.Watcher().record(test_name)["status"] == "running"
    finally:
        proc.terminate()
        proc.wait()


def test_sigterm_is_recorded_as_killed(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    proc, test_name = start_victim(tmp_path, {})
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == -signal.SIGTERM  # the default action still happens
    rec = codedag.Watcher().record(test_name)
    assert rec["status"] == "killed" and rec["signal"] == "SIGTERM"
    assert rec["last"]["loss"]["step"] >= 49


def test_reused_pid_is_not_mistaken_for_the_run(tmp_path, monkeypatch):
    """A run record whose pid now belongs to another process (different start time) is dead."""
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CODEDAG_LEASE_SECONDS", "0.2")
    exp = codedag.Experiment("reuse", snapshot=False)
    exp.start()
    info = exp.info_dir
    test_name = exp.test_name
    # Simulate this run having been started by an earlier process that held our pid.
    import json

    hb_path = os.path.join(info, "heartbeat.json")
    exp._core.end("finished", {})  # stop the heartbeat thread
    run_path = Path(info) / "run.json"
    rec = json.loads(run_path.read_text())
    rec["status"] = "running"
    run_path.write_text(json.dumps(rec))
    hb = json.loads(Path(hb_path).read_text())
    hb["start_ticks"] -= 1
    hb["lease_until"] = time.time() - 1
    hb["ended"] = False
    Path(hb_path).write_text(json.dumps(hb))
    assert codedag.Watcher().record(test_name)["status"] == "dead"
