"""`codedag sweep` on the local backend, run as a subprocess against real scripts, a real store and
real processes: failures and their causes, GPU leases, kill -9 and resume, retries, the breaker."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import cli_path

# One cell: records its parameters, CUDA_VISIBLE_DEVICES and when it ran; fails as told.
CELL = textwrap.dedent(
    """
    import argparse, json, os, sys, time
    p = argparse.ArgumentParser()
    p.add_argument("--x", type=int, default=0)
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--fail-on", type=int, default=-1)
    p.add_argument("--kill-first-attempt", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    a, _ = p.parse_known_args()
    start = time.time()
    print(f"cell x={a.x} stdout line", flush=True)
    print(f"cell x={a.x} stderr line", file=sys.stderr, flush=True)
    time.sleep(0 if a.x == a.fail_on else a.sleep)
    if a.kill_first_attempt and os.environ.get("CODEDAG_SWEEP_ATTEMPT") == "1":
        os.kill(os.getpid(), 9)
    record = {"x": a.x, "seed": a.seed, "gpus": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start,
              "end": time.time(), "run": os.environ.get("CODEDAG_RUN_ID"), "cell": os.environ.get("CODEDAG_SWEEP_CELL")}
    with open("events.jsonl", "a") as f:
        f.write(json.dumps(record) + "\\n")
    if a.x == a.fail_on:
        def load_batch(i):
            raise ValueError(f"bad batch {i}")
        load_batch(a.x)
    """
)


@pytest.fixture
def cell(tmp_path):
    (tmp_path / "cell.py").write_text(CELL)
    return [sys.executable, "cell.py"]


def events(tmp_path):
    path = tmp_path / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def sweep_json(proc):
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


def store_runs(run_cli):
    return json.loads(run_cli("ls", "--json", check=True).stdout)


def test_six_cells_one_failing_gives_five_finished_and_one_failed_with_cause_and_log_tail(
    run_cli, cell, tmp_path
):
    r = run_cli("sweep", "run", "-p", "x=1,2,3,4,5,6", "--json", "--", *cell, "--fail-on=4")
    assert r.returncode == 1, r.stderr
    out = sweep_json(r)
    statuses = {c["cell"]: c["status"] for c in out["cells"]}
    assert sorted(statuses.values()) == ["failed"] + ["finished"] * 5
    bad = next(c for c in out["cells"] if c["status"] == "failed")
    assert bad["params"] == {"x": 4} and bad["exit_code"] == 1 and bad["attempts"] == 1
    assert (
        "ValueError: bad batch 4" in bad["cause"]
        and "cell.py" in bad["cause"]
        and "load_batch" in bad["cause"]
    )
    assert any("ValueError: bad batch 4" in line for line in bad["log_tail"])
    assert Path(bad["log"]).is_file() and "cell x=4 stderr line" in Path(bad["log"]).read_text()
    # The human summary (on stderr with --json) has the ✗ line, the log path and its last lines.
    assert "✗ cell 3 failed: ValueError: bad batch 4" in r.stderr
    assert "| ValueError: bad batch 4" in r.stderr and bad["log"] in r.stderr
    assert "cells: 5 passed, 1 failed" in r.stderr
    # Each cell is exactly one run in the store, linked to its sweep and cell.
    runs = store_runs(run_cli)
    assert len(runs) == 6
    assert {run["test_name"] for run in runs} == {c["run"] for c in out["cells"]}
    for run in runs:
        assert run["properties"]["sweep"]["id"] == out["sweep"]
    summary_file = Path(out["dir"]) / "sweep_summary.json"
    assert json.loads(summary_file.read_text())["status"] == {"finished": 5, "failed": 1}
    # status reads the same from the store; exit 1 while a cell is not finished.
    st = run_cli("sweep", "status", out["sweep"], "--json")
    assert st.returncode == 1 and json.loads(st.stdout)["status"] == {"finished": 5, "failed": 1}
    human = run_cli("sweep", "status", out["sweep"][:12])
    assert "✗ cell 3 failed" in human.stdout and "cells: 5 passed, 1 failed" in human.stdout
    listing = run_cli("sweep", "ls", check=True).stdout
    assert out["sweep"] in listing and "5 finished 1 failed" in listing


def test_resume_runs_nothing_for_finished_cells_and_retry_failed_reruns_the_failed_one(
    run_cli, cell, tmp_path
):
    out = sweep_json(run_cli("sweep", "run", "-p", "x=1,2,3", "--json", "--", *cell, "--fail-on=2"))
    before = len(events(tmp_path))
    r = run_cli("sweep", "resume", out["sweep"], "--json")
    assert r.returncode == 1 and "--retry-failed" in r.stderr
    assert len(events(tmp_path)) == before  # nothing ran
    # Fix the bug (the failing value is part of the command, so fix the script), then retry.
    (tmp_path / "cell.py").write_text(CELL.replace("if a.x == a.fail_on:", "if False:"))
    r = run_cli("sweep", "resume", out["sweep"], "--retry-failed", "--json")
    assert r.returncode == 0, r.stderr
    cells = sweep_json(r)["cells"]
    assert [c["status"] for c in cells] == ["finished"] * 3
    assert [c["attempts"] for c in cells] == [1, 2, 1]
    assert len(events(tmp_path)) == before + 1


def test_concurrent_cells_never_share_a_gpu_lease(run_cli, cell, tmp_path):
    r = run_cli(
        "sweep",
        "run",
        "-p",
        "x=1,2,3,4,5,6,7,8,9",
        "--gpus",
        "0,1,2",
        "--gpus-per-run",
        "1",
        "--parallel",
        "3",
        "--json",
        "--",
        *cell,
        "--sleep=0.6",
    )
    assert r.returncode == 0, r.stderr
    ev = events(tmp_path)
    assert len(ev) == 9
    assert all(e["gpus"] in {"0", "1", "2"} for e in ev)
    overlaps = 0
    for i, a in enumerate(ev):
        for b in ev[i + 1 :]:
            if a["start"] < b["end"] and b["start"] < a["end"]:
                overlaps += 1
                assert a["gpus"] != b["gpus"], (a, b)
    assert overlaps >= 3  # they did run side by side
    # Two GPUs per cell from a pool of three: one cell at a time, each with two distinct devices.
    (tmp_path / "events.jsonl").unlink()
    r = run_cli(
        "sweep",
        "run",
        "-p",
        "x=1,2,3",
        "--gpus",
        "0,1,2",
        "--gpus-per-run",
        "2",
        "--parallel",
        "3",
        "--json",
        "--",
        *cell,
        "--sleep=0.3",
    )
    assert r.returncode == 0, r.stderr
    ev = sorted(events(tmp_path), key=lambda e: e["start"])
    assert all(len(set(e["gpus"].split(","))) == 2 for e in ev)
    for a, b in zip(ev, ev[1:], strict=False):
        assert a["end"] <= b["start"] + 0.05


def test_kill_9_of_the_sweep_then_resume_finishes_every_cell_exactly_once(run_cli, cell, tmp_path):
    env = dict(os.environ, NO_COLOR="1")
    home = Path(os.environ["CODEDAG_HOME"])
    with open(tmp_path / "sweep.out", "w") as log:
        proc = subprocess.Popen(
            [
                cli_path(),
                "sweep",
                "run",
                "-p",
                "x=1,2,3,4,5,6",
                "--parallel",
                "2",
                "--",
                *cell,
                "--sleep=1.5",
            ],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        journal = None
        while time.time() < deadline:
            found = list((home / "sweeps").glob("*/attempts.jsonl"))
            if found and len(found[0].read_text().splitlines()) >= 2:
                journal = found[0]
                break
            time.sleep(0.05)
        assert journal, "the sweep did not start its cells"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    sweep_id = journal.parent.name
    r = run_cli("sweep", "resume", sweep_id, "--json")
    assert r.returncode == 0, r.stderr
    out = sweep_json(r)
    assert [c["status"] for c in out["cells"]] == ["finished"] * 6
    # The cells running at the kill were finished by their runners, not started again.
    assert [c["attempts"] for c in out["cells"]] == [1] * 6
    ev = events(tmp_path)
    assert sorted(e["x"] for e in ev) == [1, 2, 3, 4, 5, 6]
    finished = [run for run in store_runs(run_cli) if run["status"] == "finished"]
    cells = [run["properties"]["sweep"]["cell"] for run in finished]
    assert sorted(cells) == [0, 1, 2, 3, 4, 5]


def test_signals_are_retried_exceptions_are_not_and_timeouts_are_classified(run_cli, cell, tmp_path):
    r = run_cli(
        "sweep", "run", "-p", "x=1,2", "--retries", "1", "--json", "--", *cell, "--kill-first-attempt=1"
    )
    assert r.returncode == 0, r.stderr
    cells = sweep_json(r)["cells"]
    assert [c["attempts"] for c in cells] == [2, 2]
    assert len(store_runs(run_cli)) == 4  # every attempt is its own run
    killed = [run for run in store_runs(run_cli) if run["status"] == "killed"]
    assert len(killed) == 2 and all(run["properties"]["sweep"]["attempt"] == 1 for run in killed)
    r = run_cli("sweep", "run", "-p", "x=5", "--retries", "2", "--json", "--", *cell, "--fail-on=5")
    assert sweep_json(r)["cells"][0]["attempts"] == 1  # an exception is not retried by default
    r = run_cli(
        "sweep",
        "run",
        "-p",
        "x=5",
        "--retries",
        "1",
        "--retry-on",
        "all",
        "--json",
        "--",
        *cell,
        "--fail-on=5",
    )
    assert sweep_json(r)["cells"][0]["attempts"] == 2
    r = run_cli("sweep", "run", "--timeout", "1", "--json", "--", *cell, "--sleep=60")
    c = sweep_json(r)["cells"][0]
    assert r.returncode == 1 and c["status"] == "killed" and c["kind"] == "timeout" and c["duration"] < 30


def test_breaker_stops_launching_after_consecutive_failures_with_the_same_error(run_cli, cell, tmp_path):
    r = run_cli(
        "sweep",
        "run",
        "-p",
        "x=1,2,3,4,5",
        "--max-consecutive-failures",
        "2",
        "--json",
        "--",
        *cell,
        "--fail-on=0",
        "--sleep=0",
    )
    assert r.returncode == 0  # nothing fails yet: x never equals 0
    (tmp_path / "cell.py").write_text(CELL.replace("if a.x == a.fail_on:", "if True:"))
    r = run_cli("sweep", "run", "-p", "x=1,2,3,4,5", "--max-consecutive-failures", "2", "--json", "--", *cell)
    out = sweep_json(r)
    assert r.returncode == 1
    assert [c["status"] for c in out["cells"]] == ["failed", "failed", "pending", "pending", "pending"]
    assert "breaker: 2 consecutive failures" in out["stopped"] and "ValueError" in out["stopped"]
    assert "breaker" in r.stderr


def test_fail_fast_stops_the_running_cells(run_cli, cell, tmp_path):
    r = run_cli(
        "sweep", "run", "-p", "x=1,2,3", "--parallel", "2", "--fail-fast", "--json", "--", *cell,
        "--fail-on=1", "--sleep=30",
    )  # fmt: skip
    out = sweep_json(r)
    assert r.returncode == 1 and "--fail-fast" in out["stopped"]
    assert [c["status"] for c in out["cells"]] == ["failed", "interrupted", "pending"]
    assert out["cells"][1]["duration"] < 20  # stopped, not waited for


def test_one_cell_at_a_time_tees_stdout_and_passes_stderr_through(run_cli, cell, tmp_path):
    r = run_cli("sweep", "run", "-p", "x=7", "--", *cell)
    assert r.returncode == 0, r.stderr
    assert "cell x=7 stdout line" in r.stdout and "cell x=7 stdout line" not in r.stderr
    assert "cell x=7 stderr line" in r.stderr
    assert "▶ cell 0 x=7" in r.stdout and "✓ cell 0 x=7 finished" in r.stdout
    log = next((Path(os.environ["CODEDAG_HOME"]) / "sweeps").glob("*/logs/0-*.log")).read_text()
    assert "cell x=7 stdout line" in log and "cell x=7 stderr line" in log
    # Several at once: the output stays in the logs.
    r = run_cli("sweep", "run", "-p", "x=8,9", "--parallel", "2", "--", *cell)
    assert r.returncode == 0 and "stdout line" not in r.stdout + r.stderr


def test_repeat_random_and_environment_reach_the_cells(run_cli, cell, tmp_path):
    r = run_cli(
        "sweep",
        "run",
        "--random",
        "x=10:20",
        "--samples",
        "2",
        "--repeat",
        "2",
        "--random-seed",
        "7",
        "--parallel",
        "2",
        "--json",
        "--",
        *cell,
    )
    out = sweep_json(r)
    assert r.returncode == 0 and len(out["cells"]) == 4
    ev = events(tmp_path)
    assert sorted(e["seed"] for e in ev) == [0, 0, 1, 1]
    assert all(10 <= e["x"] <= 20 for e in ev)
    assert {e["run"] for e in ev} == {c["run"] for c in out["cells"]}
    assert sorted(int(e["cell"]) for e in ev) == [0, 1, 2, 3]
    manifest = json.loads((Path(out["dir"]) / "sweep.json").read_text())
    assert manifest["spec"]["random_seed"] == 7 and len(manifest["cells"]) == 4


def test_bad_input_gets_clear_errors(run_cli, cell, tmp_path):
    r = run_cli("sweep", "run", "-p", "lr", "--", *cell)
    assert r.returncode == 2 and "-p KEY=V1,V2" in r.stderr
    r = run_cli("sweep", "run", "--gpus-per-run", "4", "--gpus", "0,1", "--", *cell)
    assert r.returncode == 2 and "more than the 2 GPUs" in r.stderr
    r = run_cli("sweep", "run", "--gpus-per-run", "1", "--gpus", "", "--", *cell)
    assert r.returncode == 2 and "no GPU to lease" in r.stderr
    r = run_cli("sweep", "status", "sw000101.001.zzz")
    assert r.returncode == 2 and "no sweep" in r.stderr
    r = run_cli("sweep", "run")
    assert r.returncode != 0 and "command" in r.stderr
    # A command that cannot start is a failed cell with its cause, not a crash.
    r = run_cli("sweep", "run", "--json", "--", str(tmp_path / "missing-program"))
    c = sweep_json(r)["cells"][0]
    assert r.returncode == 1 and c["status"] == "failed" and c["exit_code"] == 127
    assert any("cannot run" in line for line in c["log_tail"])
    # A damaged manifest is named on resume.
    sweep_dir = next((Path(os.environ["CODEDAG_HOME"]) / "sweeps").glob("sw*"))
    (sweep_dir / "sweep.json").write_text('{"schema": "codedag.sweep/1", "cells": 3}')
    r = run_cli("sweep", "resume", sweep_dir.name)
    assert r.returncode == 2 and "sweep.json" in r.stderr


def test_ls_sweep_lists_a_sweeps_runs_also_from_an_index_made_before_the_sweep_column(run_cli, cell, tmp_path):
    a = sweep_json(run_cli("sweep", "run", "-p", "x=1,2", "--json", "--", *cell))
    b = sweep_json(run_cli("sweep", "run", "-p", "x=3", "--json", "--", *cell))
    listed = json.loads(run_cli("ls", "--sweep", a["sweep"], "--json", check=True).stdout)
    assert sorted(r["test_name"] for r in listed) == sorted(c["run"] for c in a["cells"])
    assert len(json.loads(run_cli("ls", "--sweep", "sw", "--json", check=True).stdout)) == 3  # a prefix
    assert json.loads(run_cli("ls", "--sweep", "sw000101", "--json", check=True).stdout) == []
    # An index written by the previous schema (3) is migrated: the column is filled from the rows.
    import sqlite3

    with sqlite3.connect(Path(os.environ["CODEDAG_HOME"]) / "index.sqlite") as db:
        for trigger in ("runs_values_insert", "runs_values_update", "runs_values_delete"):
            db.execute(f"DROP TRIGGER IF EXISTS {trigger}")  # schema 5's (the panel's value tables; 6 drops them)
        for table in ("run_values", "value_keys"):
            db.execute(f"DROP TABLE {table}")
        # Schema 7 copied the runs table to give each run an integer id: copy it back as schema 3 had it
        # (keyed by test_name, no sweep column; its later indexes go with the dropped table).
        db.execute("CREATE TABLE runs3 (test_name TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,"
                   " started_at REAL NOT NULL DEFAULT 0, ended_at REAL NOT NULL DEFAULT 0, deleted INTEGER NOT NULL"
                   " DEFAULT 0, host TEXT NOT NULL DEFAULT '', summary TEXT NOT NULL DEFAULT '{}', file_mtime INTEGER"
                   " NOT NULL DEFAULT 0, duration REAL, tags TEXT NOT NULL DEFAULT '[]', metric_values TEXT)")
        db.execute("INSERT INTO runs3 SELECT test_name, name, status, started_at, ended_at, deleted, host, summary,"
                   " file_mtime, duration, tags, metric_values FROM runs")
        db.execute("DROP TABLE runs")
        db.execute("ALTER TABLE runs3 RENAME TO runs")
        db.execute("CREATE INDEX runs_by_name ON runs(name, started_at)")
        db.execute("CREATE INDEX runs_by_status ON runs(status)")
        db.execute("PRAGMA user_version=3")
    listed = json.loads(run_cli("ls", "--sweep", b["sweep"], "--json", "--no-sync", check=True).stdout)
    assert [r["test_name"] for r in listed] == [b["cells"][0]["run"]]
