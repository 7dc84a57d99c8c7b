"""`codedag sweep --backend slurm` against a real one-node Slurm cluster on this machine
(scripts/slurm_local.sh, started once per session with MaxArraySize=4 so chunking is real).
State comes from the run store and squeue: the cluster has no slurmdbd, so sacct cannot answer."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import REPO, cli_path

MAX_ARRAY_SIZE = 4

CELL = textwrap.dedent(
    """
    import argparse, json, os, sys, time
    p = argparse.ArgumentParser()
    p.add_argument("--x", type=int, default=0)
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--fail-on", type=int, default=-1)
    p.add_argument("--slow-first-attempt", type=float, default=0.0)
    a, _ = p.parse_known_args()
    print(f"cell x={a.x} on {os.environ.get('SLURM_JOB_ID')}", flush=True)
    if a.slow_first_attempt and os.environ.get("CODEDAG_SWEEP_ATTEMPT") == "1":
        time.sleep(a.slow_first_attempt)
    time.sleep(a.sleep)
    with open("events.jsonl", "a") as f:
        f.write(json.dumps({"x": a.x, "job": os.environ.get("SLURM_ARRAY_JOB_ID"),
                            "attempt": os.environ.get("CODEDAG_SWEEP_ATTEMPT")}) + "\\n")
    if a.x == a.fail_on:
        raise RuntimeError(f"cell {a.x} diverged")
    """
)


def _can_run_slurm() -> str | None:
    if os.geteuid() != 0 and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode != 0:
        return "the local Slurm cluster needs root or password-less sudo (slurmd starts jobs as their user)"
    return None


@pytest.fixture(scope="session")
def slurm_cluster():
    reason = _can_run_slurm()
    if reason:
        pytest.skip(reason)
    state = REPO / ".cache" / "slurm-test"
    env = dict(os.environ, SLURM_LOCAL_DIR=str(state), SLURM_LOCAL_MAX_ARRAY_SIZE=str(MAX_ARRAY_SIZE))
    started = subprocess.run(
        ["bash", str(REPO / "scripts" / "slurm_local.sh"), "start"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert started.returncode == 0, started.stderr
    conf = started.stdout.strip().split("SLURM_CONF=", 1)[1].splitlines()[0]
    yield conf
    subprocess.run(
        ["bash", str(REPO / "scripts" / "slurm_local.sh"), "stop"], env=env, capture_output=True, timeout=120
    )


@pytest.fixture
def slurm_cli(run_cli, slurm_cluster, tmp_path):
    (tmp_path / "cell.py").write_text(CELL)

    def run(*args, **kw):
        env = dict(kw.pop("env", None) or {}, SLURM_CONF=slurm_cluster)
        return run_cli(*args, env=env, **kw)

    return run


def events(tmp_path):
    path = tmp_path / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_six_cells_one_failing_in_two_chunks_without_sacct(slurm_cli, tmp_path):
    r = slurm_cli(
        "sweep",
        "run",
        "--backend",
        "slurm",
        "-p",
        "x=1,2,3,4,5,6",
        "--json",
        "--",
        sys.executable,
        "cell.py",
        "--fail-on=3",
        timeout=600,
    )
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert sorted(c["status"] for c in out["cells"]) == ["failed"] + ["finished"] * 5
    bad = next(c for c in out["cells"] if c["status"] == "failed")
    assert bad["params"] == {"x": 3} and "RuntimeError: cell 3 diverged" in bad["cause"]
    assert any("RuntimeError: cell 3 diverged" in line for line in bad["log_tail"])
    # MaxArraySize=4 caps the task index: six cells need two arrays.
    jobs = [json.loads(line) for line in (Path(out["dir"]) / "slurm" / "jobs.jsonl").read_text().splitlines()]
    assert [j["tasks"] for j in jobs] == [4, 2]
    assert "MaxArraySize 4" in r.stderr
    assert len({e["job"] for e in events(tmp_path)}) == 2
    runs = json.loads(slurm_cli("ls", "--sweep", out["sweep"], "--json", check=True).stdout)
    assert len(runs) == 6 and all(run["properties"]["sweep"]["id"] == out["sweep"] for run in runs)


def test_an_array_larger_than_max_array_size_is_chunked_and_throttled(slurm_cli, tmp_path):
    r = slurm_cli(
        "sweep",
        "run",
        "--backend",
        "slurm",
        "--parallel",
        "2",
        "-p",
        "x=" + ",".join(map(str, range(10))),
        "--json",
        "--",
        sys.executable,
        "cell.py",
        timeout=900,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [c["status"] for c in out["cells"]] == ["finished"] * 10
    jobs = [json.loads(line) for line in (Path(out["dir"]) / "slurm" / "jobs.jsonl").read_text().splitlines()]
    assert [j["tasks"] for j in jobs] == [4, 4, 2]
    assert "--array=0-3%2" in r.stderr
    assert sorted(e["x"] for e in events(tmp_path)) == list(range(10))


def test_kill_9_of_the_sweep_then_resume_waits_for_the_jobs_and_finishes_each_cell_once(
    slurm_cli, tmp_path, slurm_cluster
):
    env = dict(os.environ, NO_COLOR="1", SLURM_CONF=slurm_cluster)
    with open(tmp_path / "sweep.out", "w") as log:
        proc = subprocess.Popen(
            [
                cli_path(),
                "sweep",
                "run",
                "--backend",
                "slurm",
                "-p",
                "x=1,2,3,4,5",
                "--",
                sys.executable,
                "cell.py",
                "--sleep=2",
            ],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        home = Path(os.environ["CODEDAG_HOME"])
        deadline = time.time() + 120
        while time.time() < deadline:
            jobs = list((home / "sweeps").glob("*/slurm/jobs.jsonl"))
            if jobs and len(jobs[0].read_text().splitlines()) >= 2:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the sweep did not submit its chunks:\n" + (tmp_path / "sweep.out").read_text())
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    sweep_id = jobs[0].parent.parent.name
    r = slurm_cli("sweep", "resume", sweep_id, "--json", timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [c["status"] for c in out["cells"]] == ["finished"] * 5
    assert [c["attempts"] for c in out["cells"]] == [1] * 5
    assert sorted(e["x"] for e in events(tmp_path)) == [1, 2, 3, 4, 5]


def test_a_preempted_task_is_requeued_as_a_new_attempt(slurm_cli, tmp_path, slurm_cluster):
    env = dict(os.environ, NO_COLOR="1", SLURM_CONF=slurm_cluster)
    with open(tmp_path / "sweep.out", "w") as log:
        proc = subprocess.Popen(
            [
                cli_path(),
                "sweep",
                "run",
                "--backend",
                "slurm",
                "--retries",
                "1",
                "-p",
                "x=1",
                "--json",
                "--",
                sys.executable,
                "cell.py",
                "--slow-first-attempt=60",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        home = Path(os.environ["CODEDAG_HOME"])
        deadline = time.time() + 120
        task = None
        while time.time() < deadline and not task:
            for log_file in (home / "sweeps").glob("*/logs/0-*.log"):
                if "cell x=1" in log_file.read_text():
                    jobs = (log_file.parent.parent / "slurm" / "jobs.jsonl").read_text().splitlines()
                    task = json.loads(jobs[0])["job"] + "_0"
            time.sleep(0.1)
        assert task, "the cell did not start"
        # What Slurm does before a preemption or the time limit with --signal=B:USR1@60.
        subprocess.run(["scancel", "--batch", "--signal=USR1", task], env=env, check=True)
        stdout, _ = proc.communicate(timeout=300)
    out = json.loads(stdout)
    cell = out["cells"][0]
    assert cell["status"] == "finished" and cell["attempts"] == 2
    runs = json.loads(slurm_cli("ls", "--sweep", out["sweep"], "--json", check=True).stdout)
    assert sorted(run["status"] for run in runs) == ["finished", "killed"]
