"""Every store command of the CLI as a subprocess, against runs made by real scripts."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import codedag

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "examples" / "experiment_demo.py"

# Records its whole argv so a rerun can be compared argument by argument.
ECHO = textwrap.dedent(
    """
    import sys, codedag
    from version import VERSION
    with codedag.Experiment("echo") as exp:
        exp.dump_info("args", sys.argv[1:])
        exp.dump_info("version", VERSION)
        exp.dump_metric("acc", float(VERSION) / 10)
        print(exp.test_name)
    """
)


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def run_py(args, cwd, env=None):
    proc = subprocess.run(
        [sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True, env=dict(os.environ, **(env or {}))
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1].split()[0]


@pytest.fixture
def demo_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "codedag_home"))
    a = run_py([DEMO, "--lr=0.1", "--epochs", "2"], tmp_path)
    b = run_py([DEMO, "--lr=0.5", "--epochs", "2", "--note", "second run"], tmp_path)
    return a, b


def test_ls_lists_filters_sorts_and_prints_json(run_cli, demo_runs):
    a, b = demo_runs
    out = run_cli("ls", check=True).stdout
    assert a in out and b in out and "2 runs (2 finished)" in out
    data = json.loads(run_cli("ls", "--json", check=True).stdout)
    assert [r["test_name"] for r in data] == [a, b]
    assert [r["test_name"] for r in json.loads(run_cli("ls", "--json", "--sort=-metric.acc", check=True).stdout)] == [b, a]
    assert [r["test_name"] for r in json.loads(run_cli("ls", "--json", "-p", "params.lr>0.2").stdout)] == [b]
    assert [r["test_name"] for r in json.loads(run_cli("ls", "--json", "-m", "acc<0.5").stdout)] == [a]
    assert json.loads(run_cli("ls", "--json", "--status", "failed").stdout) == []
    assert json.loads(run_cli("ls", "other_name", "--json").stdout) == []
    cols = run_cli("ls", "-c", "id,param.params.lr,metric.acc,git", check=True).stdout
    assert "param.params.lr" in cols and "0.5" in cols
    assert b in run_cli("ls", "--since", "2000-01-01", check=True).stdout


def test_ls_bad_arguments_have_clear_errors(run_cli, demo_runs):
    r = run_cli("ls", "--since", "yesterday")
    assert r.returncode == 2 and "not a date" in r.stderr
    r = run_cli("ls", "-c", "id,bogus")
    assert r.returncode == 2 and "unknown column 'bogus'" in r.stderr
    r = run_cli("ls", "--sort", "wat")
    assert r.returncode == 2 and "cannot sort by" in r.stderr
    r = run_cli("ls", "-p", "lr")
    assert r.returncode == 2 and "no comparison" in r.stderr
    assert run_cli("ls", "--status", "sleeping").returncode != 0


def test_show_prints_the_record_and_errors_on_bad_ids(run_cli, demo_runs):
    a, _ = demo_runs
    out = run_cli("show", a, check=True).stdout
    assert f"run demo/{a}" in out and "params.lr" in out and "acc" in out and "finished" in out
    rec = json.loads(run_cli("show", a, "--json", check=True).stdout)
    assert rec["test_name"] == a and rec["info"]["params"]["epochs"] == 2
    r = run_cli("show", "991231.001.zzz")
    assert r.returncode == 2 and "no run '991231.001.zzz'" in r.stderr and "codedag ls" in r.stderr
    r = run_cli("show", a[:7])  # prefix shared by both runs of the day
    assert r.returncode == 2 and "ambiguous" in r.stderr
    assert run_cli("show", a[:8] + "1").returncode in (0, 2)


def test_diff_shows_params_argv_and_metrics(run_cli, demo_runs):
    a, b = demo_runs
    out = run_cli("diff", a, b, check=True).stdout
    assert "params.lr" in out and "0.1" in out and "0.5" in out
    assert "argv" in out and "'second run'" in out
    assert "best.acc" in out
    d = json.loads(run_cli("diff", a, b, "--json", check=True).stdout)
    assert d["params"]["params.lr"] == [0.1, 0.5]
    assert "versions" in d and d["status"] == {}
    assert run_cli("diff", a, "nope").returncode == 2


def test_tag_rm_gc(run_cli, demo_runs):
    a, b = demo_runs
    assert "tagged" in run_cli("tag", a, "good one", check=True).stdout
    assert [r["test_name"] for r in json.loads(run_cli("ls", "--json", "-t", "good one").stdout)] == [a]
    assert "removed tag" in run_cli("tag", a, "good one", "--remove", check=True).stdout
    run_cli("rm", a, check=True)
    assert [r["test_name"] for r in json.loads(run_cli("ls", "--json").stdout)] == [b]
    assert a in run_cli("ls", "--all", check=True).stdout
    run_cli("rm", "--undo", a, check=True)
    assert len(json.loads(run_cli("ls", "--json").stdout)) == 2
    run_cli("rm", a, check=True)
    info_dir = Path(os.environ["CODEDAG_HOME"]) / "info" / "demo" / a
    assert info_dir.exists()  # rm only marks
    assert a in run_cli("gc", "--dry-run", check=True).stdout and info_dir.exists()
    assert "erased " + a in run_cli("gc", check=True).stdout
    assert not info_dir.exists()
    assert run_cli("show", a).returncode == 2
    assert run_cli("rm", "bogus.id").returncode == 2
    assert run_cli("tag", b, "").returncode == 2


def test_backup_and_restore(run_cli, demo_runs, tmp_path):
    a, _ = demo_runs
    out = run_cli("backup", a, "--to", tmp_path / "backups", check=True).stdout
    archive = tmp_path / "backups" / f"demo.{a}.codedag.tar"
    assert str(archive) in out and archive.stat().st_size > 0
    r = run_cli("restore", archive)
    assert r.returncode == 1 and "already in the store" in r.stderr
    other = {"CODEDAG_HOME": str(tmp_path / "elsewhere")}
    assert "restored " + a in run_cli("restore", archive, env=other, check=True).stdout
    assert a in run_cli("ls", env=other, check=True).stdout
    bad = tmp_path / "bad.tar"
    bad.write_bytes(archive.read_bytes()[:700])
    r = run_cli("restore", bad, env=other)
    assert r.returncode == 2 and "truncated" in r.stderr
    assert run_cli("restore", tmp_path / "missing.tar").returncode != 0


def test_index_rebuild_and_status(run_cli, demo_runs):
    home = Path(os.environ["CODEDAG_HOME"])
    for f in home.glob("index.sqlite*"):
        f.unlink()
    out = run_cli("index", "rebuild", check=True).stdout
    assert "rebuilt from 2 run files" in out
    assert "schema version" in run_cli("index", "status", check=True).stdout
    (home / "info" / "demo" / demo_runs[0] / "run.json").write_text("{broken")
    r = run_cli("index", "rebuild")
    assert r.returncode == 1 and "run.json" in r.stderr and "skipped" in r.stderr
    assert run_cli("index").returncode != 0


@pytest.fixture
def echo_repo(tmp_path, monkeypatch):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "proj"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "u@example.com")
    git(repo, "config", "user.name", "U")
    (repo / "echo.py").write_text(ECHO)
    (repo / "version.py").write_text("VERSION = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "codedag_home"))
    return repo


def test_rerun_reexecutes_exact_argv_with_overrides_and_links_runs(run_cli, echo_repo):
    tricky = ["--lr=0.1", "--name", "two words", "it's \"quoted\"", "$HOME", "--epochs", "3"]
    first = run_py(["echo.py", *tricky], echo_repo)
    r = run_cli("rerun", first, "--lr=0.5", "--new=x y", cwd=echo_repo)
    assert r.returncode == 0, r.stderr
    w = codedag.Watcher()
    runs = w.load("echo", as_frame=False)
    assert len(runs) == 2
    second = runs[1]["test_name"]
    assert w.record(second)["info"]["args"] == [
        "--lr=0.5", "--name", "two words", "it's \"quoted\"", "$HOME", "--epochs", "3", "--new=x y"]
    # seed 004: exp.properties['rerun'] on the new run, ['rerun_at'] on the old one
    assert w.retrieve(second).properties["rerun"] == {"from": first, "repeat": 1}
    assert w.retrieve(first).properties["rerun_at"] == {second: True}
    # A plain rerun repeats the argv exactly and counts the repeat.
    assert run_cli("rerun", first, cwd=echo_repo).returncode == 0
    third = w.load("echo", as_frame=False)[2]["test_name"]
    assert w.record(third)["info"]["args"] == tricky
    assert w.record(third)["properties"]["rerun"]["repeat"] == 2
    dry = run_cli("rerun", first, "--dry-run", check=True)
    assert "dry run" in dry.stderr and "'two words'" in dry.stderr and len(w.load("echo", as_frame=False)) == 3


def test_rerun_at_snapshot_runs_the_recorded_code(run_cli, echo_repo):
    (echo_repo / "version.py").write_text("VERSION = 2\n")  # uncommitted edit, captured by the snapshot
    first = run_py(["echo.py"], echo_repo)
    (echo_repo / "version.py").write_text("VERSION = 3\n")
    git(echo_repo, "commit", "-qam", "v3")
    assert run_cli("rerun", first, cwd=echo_repo, check=True).returncode == 0
    assert run_cli("rerun", first, "--at-snapshot", cwd=echo_repo, check=True).returncode == 0
    w = codedag.Watcher()
    versions = [w.record(r["test_name"])["info"]["version"] for r in w.load("echo", as_frame=False)]
    assert versions == [2, 3, 2]
    d = run_cli("diff", first, w.load("echo", as_frame=False)[1]["test_name"], check=True).stdout
    assert "-VERSION = 2" in d and "+VERSION = 3" in d
    assert not list((Path(os.environ["CODEDAG_HOME"]) / "cache" / "reruns").glob("*"))  # checkout removed


def test_rerun_errors(run_cli, demo_runs, tmp_path):
    a, _ = demo_runs
    r = run_cli("rerun", a, "--at-snapshot")
    assert r.returncode == 1 and "no code snapshot" in r.stderr
    assert run_cli("rerun", "nope").returncode == 2
    r = run_cli("rerun", a, "--=3")
    assert r.returncode == 2 and "no key" in r.stderr


def test_failed_run_exit_code_is_reported_by_rerun(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "codedag_home"))
    p = subprocess.run([sys.executable, DEMO, "--fail", "--epochs", "1"], cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 1
    failed = codedag.Watcher().load(status="failed", as_frame=False)
    assert len(failed) == 1
    out = run_cli("show", failed[0]["test_name"]).stdout
    assert "RuntimeError" in out and "failing on purpose" in out
    r = run_cli("rerun", failed[0]["test_name"])
    assert r.returncode == 1 and "exited with 1" in r.stderr


# The runs table as schema 1 created it and schema 2 extended it (keyed by test_name alone).
_SCHEMA_2_RUNS = """CREATE TABLE runs2 (
  test_name TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, started_at REAL NOT NULL DEFAULT 0,
  ended_at REAL NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0, host TEXT NOT NULL DEFAULT '',
  summary TEXT NOT NULL DEFAULT '{}', file_mtime INTEGER NOT NULL DEFAULT 0)"""


def _downgrade_index_to_schema_2(home):
    """The index as the previous codedag (schema 2) left it: no listing columns, no value tables, no run ids."""
    import sqlite3

    db = sqlite3.connect(os.path.join(home, "index.sqlite"))
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 8
        # the value tables are written without triggers: none is left to drop
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0] == 0
        for table in ("run_values", "value_keys"):
            db.execute(f"DROP TABLE {table}")
        # Schema 7 copied the table to give each run an integer id: copy it back without (its
        # indexes go with it).
        db.execute(_SCHEMA_2_RUNS)
        db.execute(
            "INSERT INTO runs2 SELECT test_name, name, status, started_at, ended_at, deleted, host, summary,"
            " file_mtime FROM runs"
        )
        db.execute("DROP TABLE runs")
        db.execute("ALTER TABLE runs2 RENAME TO runs")
        db.execute("CREATE INDEX runs_by_name ON runs(name, started_at)")
        db.execute("CREATE INDEX runs_by_status ON runs(status)")
        db.execute("DROP TABLE sync_state")  # schema 8
        db.execute("PRAGMA user_version=2")
        db.commit()
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    finally:
        db.close()


def test_an_index_of_the_previous_schema_is_migrated_and_lists_the_same_rows(run_cli, demo_runs):
    home = os.environ["CODEDAG_HOME"]
    run_cli("tag", demo_runs[1], "keep", check=True)
    before_json = json.loads(run_cli("ls", "--json", check=True).stdout)
    before_table = run_cli("ls", "-c", "id,status,duration,metrics,tags,metric.acc,last.loss", check=True).stdout
    before_load = codedag.Watcher(home).load(as_frame=False)
    _downgrade_index_to_schema_2(home)
    # --no-sync: the rows must come from the migrated index, not be re-read from the files.
    first = run_cli("ls", "--json", "--no-sync", check=True)
    assert json.loads(first.stdout) == before_json
    assert "upgraded from schema 2 to 8" in first.stderr  # said once, by the command that upgraded it
    assert run_cli("ls", "-c", "id,status,duration,metrics,tags,metric.acc,last.loss", check=True).stdout == before_table
    assert codedag.Watcher(home).load(as_frame=False) == before_load
    assert "keep" in before_table and before_json[1]["tags"] == ["keep"]
    import sqlite3

    with sqlite3.connect(os.path.join(home, "index.sqlite")) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 8
        assert db.execute("SELECT count(*) FROM runs WHERE metric_values IS NULL").fetchone()[0] == 0
        # Migrations 5 to 7 filled the panel's value tables from the rows already there (keyed by
        # run id), and dropped schema 5's triggers again.
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0] == 0
        runs_with_values = db.execute("SELECT count(DISTINCT run_id) FROM run_values").fetchone()[0]
        assert runs_with_values == db.execute("SELECT count(*) FROM runs").fetchone()[0]
