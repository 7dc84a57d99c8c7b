"""Issue 17, listing: the index follows the files incrementally (change journal + directory mtimes)
and still never hides a run; Watcher.load builds its dicts in C++ and returns what json.loads did."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import warnings

import pytest
from conftest import cli_path, python_env

import codedag
from codedag import _core
from codedag.store import StoreWarning


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CODEDAG_FULL_SYNC_SECONDS", "3600")  # only the journal and directories, unless a test says
    monkeypatch.chdir(tmp_path)  # not a git repository: snapshot recorded as absent
    return tmp_path / "home"


def record(name, test_name, **extra):
    rec = {"schema": "codedag.run/1", "name": name, "test_name": test_name, "status": "finished",
           "started_at": 1700000000.0, "ended_at": 1700000060.0, "info": {}, "metrics": {}, "last": {},
           "tags": [], "deleted": False}
    rec.update(extra)
    return rec


def write_by_hand(home, name, test_name, **extra):
    """A run.json written the way rsync or an editor would: no journal line."""
    d = home / "info" / name / test_name
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / "run.json.edit"
    tmp.write_text(json.dumps(record(name, test_name, **extra)))
    os.replace(tmp, d / "run.json")
    return d


def load(watcher):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = watcher.load(as_frame=False)
    return {r["test_name"]: r for r in rows}, [str(w.message) for w in caught if w.category is StoreWarning]


def cli(*args):
    return subprocess.run([cli_path(), *map(str, args)], capture_output=True, text=True, env=python_env(), timeout=120)


def journal(home):
    return home / "changes.log"


def test_each_writer_is_seen_by_the_next_listing_through_the_journal(home):
    w = codedag.Watcher()
    load(w)  # the first listing of a new index is a full sync
    with codedag.Experiment("a") as exp:
        exp.dump_info("lr", 0.1)
        rows, problems = load(w)
        assert w._store.last_sync["path"] == "journal" and problems == []
        assert rows[exp.test_name]["status"] == "running" and rows[exp.test_name]["info"] == {"lr": 0.1}
        exp.dump_metric("acc", 0.5, "max")
        exp.add_tag("first")
    rows, _ = load(w)
    assert w._store.last_sync["path"] == "journal"
    run = rows[exp.test_name]
    assert run["status"] == "finished" and run["tags"] == ["first"] and run["metrics"]["acc"]["value"] == 0.5
    assert cli("tag", exp.test_name, "second").returncode == 0
    assert load(w)[0][exp.test_name]["tags"] == ["first", "second"]
    assert cli("rm", exp.test_name).returncode == 0
    assert exp.test_name not in load(w)[0]
    assert w._store.last_sync["path"] == "journal"
    assert cli("rm", "--undo", exp.test_name).returncode == 0
    assert exp.test_name in load(w)[0]
    # Every write named the run twice (before and after its rename).
    header, *lines = journal(home).read_text().splitlines()
    assert header.startswith("#codedag-changes ")
    assert lines and set(lines) == {f"a/{exp.test_name}"} and len(lines) % 2 == 0


def test_a_rename_landing_after_the_listing_that_read_its_line_is_seen_next(home):
    write_by_hand(home, "a", "240101.001.aaa")
    w = codedag.Watcher()
    load(w)
    # A writer's intent line, then a listing, then its rename (a crash or a slow disk between them).
    with open(journal(home), "a") as f:
        f.write("a/240101.001.aaa\n")
    rows, _ = load(w)
    assert rows["240101.001.aaa"]["tags"] == []
    d = write_by_hand(home, "a", "240101.001.aaa", tags=["late"])
    os.utime(d / "run.json", ns=(1, 1))  # whatever the mtime says
    rows, _ = load(w)
    assert w._store.last_sync["path"] == "journal"
    assert rows["240101.001.aaa"]["tags"] == ["late"]


def test_changes_no_journal_names_appear_within_the_full_sync_interval(home, monkeypatch):
    write_by_hand(home, "a", "240101.001.aaa")
    w = codedag.Watcher()
    load(w)
    # A run directory copied in: its experiment directory's mtime changed, seen at once.
    write_by_hand(home, "a", "240101.002.bbb")
    write_by_hand(home, "b", "240101.003.ccc")
    rows, _ = load(w)
    assert {"240101.002.bbb", "240101.003.ccc"} <= set(rows) and w._store.last_sync["path"] == "journal"
    # run.json edited in place, no journal line: only the full sync sees it.
    write_by_hand(home, "a", "240101.001.aaa", tags=["edited"])
    assert load(w)[0]["240101.001.aaa"]["tags"] == []
    monkeypatch.setenv("CODEDAG_FULL_SYNC_SECONDS", "0")
    rows, problems = load(w)
    assert w._store.last_sync == {**w._store.last_sync, "path": "full", "reason": "interval"}
    assert rows["240101.001.aaa"]["tags"] == ["edited"] and problems == []


def test_deleted_runs_disappear(home):
    for t in ("240101.001.aaa", "240101.002.bbb"):
        write_by_hand(home, "a", t)
    write_by_hand(home, "b", "240101.003.ccc")
    w = codedag.Watcher()
    assert len(load(w)[0]) == 3
    shutil.rmtree(home / "info" / "a" / "240101.001.aaa")
    shutil.rmtree(home / "info" / "b")
    rows, problems = load(w)
    assert set(rows) == {"240101.002.bbb"} and problems == []
    assert w._store.last_sync["path"] == "journal" and w._store.last_sync["removed"] == 2


@pytest.mark.parametrize("damage", ["truncated", "replaced", "missing", "garbage", "long line", "binary"])
def test_a_damaged_journal_means_a_quiet_full_sync(home, damage):
    write_by_hand(home, "a", "240101.001.aaa")
    w = codedag.Watcher()
    load(w)
    with codedag.Experiment("a") as exp:
        pass
    load(w)
    assert w._store.last_sync["path"] == "journal"
    write_by_hand(home, "a", "240101.001.aaa", tags=["hidden"])  # no journal line: only a full sync sees it
    j = journal(home)
    if damage == "truncated":
        with open(j, "r+") as f:
            f.truncate(len(f.readline()))  # the header stays
    elif damage == "replaced":  # another journal (its header's token), whatever its inode number
        header, rest = j.read_text().split("\n", 1)
        j.unlink()
        j.write_text("#codedag-changes " + "0" * 32 + "\n" + rest)
    elif damage == "missing":
        j.unlink()
    elif damage == "garbage":
        with open(j, "a") as f:
            f.write("../../etc/passwd\na/not-a-test-name\n/240101.001.aaa\n")
    elif damage == "long line":
        with open(j, "a") as f:
            f.write("a/" + "1" * 5000 + "\n")
    else:
        with open(j, "ab") as f:
            f.write(b"\xff\xfe\x00a/240101.001.aaa\n")
    rows, problems = load(w)
    assert w._store.last_sync["path"] == "full", w._store.last_sync
    assert problems == []
    assert rows["240101.001.aaa"]["tags"] == ["hidden"] and exp.test_name in rows
    load(w)
    assert w._store.last_sync["path"] == "journal"  # and back on the journal


def test_a_damaged_run_file_stays_skipped_between_full_syncs(home):
    write_by_hand(home, "a", "240101.001.aaa")
    w = codedag.Watcher()
    load(w)
    (home / "info" / "a" / "240101.001.aaa" / "run.json").write_text("{not json")
    with open(journal(home), "a") as f:
        f.write("a/240101.001.aaa\n")
    for _ in range(2):
        rows, problems = load(w)
        assert "240101.001.aaa" not in rows
        assert len(problems) == 1 and "run.json" in problems[0] and "run skipped" in problems[0]


def test_two_processes_appending_lose_no_line(home):
    code = (
        "import codedag\n"
        "exp = codedag.Experiment('p').start()\n"
        "for i in range(150):\n"
        "    exp.dump_info(f'k{i}', i)\n"
        "exp.end()\n"
        "print(exp.test_name)\n"
    )
    codedag.Watcher().load(as_frame=False)  # a reader creates the journal; writers only append
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env=python_env(CODEDAG_HOME=str(home))) for _ in range(2)]
    names = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    header, *lines = journal(home).read_text().split("\n")
    assert lines[-1] == "" and header.startswith("#codedag-changes ")
    counts = {n: lines.count(f"p/{n}") for n in names}
    # start, 150 updates, end (and the snapshot's record): two lines each; nothing torn or merged.
    assert all(c >= 2 * 152 and c % 2 == 0 for c in counts.values()) and len(set(counts.values())) == 1, counts
    assert len(lines) - 1 == sum(counts.values())


def test_the_journal_is_rotated_past_a_megabyte_without_losing_a_change(home):
    write_by_hand(home, "a", "240101.001.aaa")
    w = codedag.Watcher()
    load(w)
    with open(journal(home), "a") as f:
        f.write("a/240101.001.aaa\n" * 70000)  # ~1.2 MB
    write_by_hand(home, "a", "240101.001.aaa", tags=["during"])
    rows, _ = load(w)
    assert rows["240101.001.aaa"]["tags"] == ["during"]
    assert journal(home).read_text().count("\n") == 1 and (home / "changes.log.old").stat().st_size > 1 << 20
    with codedag.Experiment("a") as exp:
        pass
    rows, _ = load(w)
    assert w._store.last_sync["path"] == "journal" and exp.test_name in rows


def test_index_rebuild_stays_a_full_rebuild(home):
    write_by_hand(home, "a", "240101.001.aaa")
    w = codedag.Watcher()
    load(w)
    write_by_hand(home, "a", "240101.001.aaa", tags=["edited"])  # no journal line
    assert w.rebuild() == 1
    rows, _ = load(w)
    assert rows["240101.001.aaa"]["tags"] == ["edited"] and w._store.last_sync["path"] == "journal"


def old_load(store):
    """What Watcher.load did before: one JSON text, json.loads, the bounded parser on failure."""
    text, problems = store.list()
    try:
        rows = json.loads(text)
    except (ValueError, RecursionError):
        rows, more = store.list_parsed()
        problems = [*problems, *more]
    return rows, problems


def test_load_builds_exactly_what_json_loads_built(home):
    with codedag.Experiment("uni") as exp:
        exp.dump_info("params", {"lr": 1e-3, "layers": [1, 2, {"deep": [None, True, False, -0.0]}],
                                 "name": "résumé 🎉 \"quoted\" \\ back\nslash\t", "big": 2**63 - 1,
                                 "neg": -(2**63), "u64": 2**64 - 1, "f": 1.7976931348623157e308, "tiny": 5e-324})
        exp.dump_metric("acc", 0.25, "max")
        exp.add_tag("ταγ")
    for i in range(3):
        write_by_hand(home, "plain", f"240101.00{i}.aaa", info={"i": i, "s": "x" * 100}, host="h")
    store = _core._Store(str(home))
    assert store.list_objects() == old_load(store)
    # Rows only json.loads builds (1e400, a lone surrogate, a huge integer) come out as json.loads made them.
    db = sqlite3.connect(home / "index.sqlite")
    db.execute("UPDATE runs SET summary=? WHERE test_name='240101.001.aaa'",
               ('{"name":"plain","test_name":"240101.001.aaa","x":1e400,"y":"\\ud800","z":[12345678901234567890123]}',))
    db.commit()
    new_rows, new_problems = store.list_objects()
    assert (new_rows, new_problems) == old_load(store)
    odd = next(r for r in new_rows if r.get("test_name") == "240101.001.aaa")
    assert odd["x"] == float("inf") and odd["y"] == "\ud800" and odd["z"] == [12345678901234567890123]
    # Damaged rows: skipped and named as before (one the splice check catches, one only a parser does).
    # (Before, one damaged row sent every row through the engine's parser, which refuses what only
    # json.loads reads, such as the row above; now each row is read on its own, so it is kept.)
    db.execute("UPDATE runs SET summary=? WHERE test_name='240101.001.aaa'", ('{"name":"plain","i":1}',))
    db.execute("UPDATE runs SET summary=? WHERE test_name='240101.000.aaa'", ('{"name":"plain","x":tru}',))
    db.execute("UPDATE runs SET summary=? WHERE test_name='240101.002.aaa'", ('{"name":"plain","x":[1,2}',))
    db.commit()
    db.close()
    new_rows, new_problems = store.list_objects()
    old_rows, old_problems = old_load(store)
    assert new_rows == old_rows
    assert set(new_problems) == set(old_problems)  # (the old path named a row twice: once per pass)
    assert [r.get("test_name") for r in new_rows] == [None, exp.test_name]
    assert any("240101.000.aaa is damaged, skipped" in p for p in new_problems)
    assert any("240101.002.aaa is damaged, skipped" in p for p in new_problems)


def test_load_refuses_deep_nesting_as_a_damaged_row(home):
    write_by_hand(home, "a", "240101.001.aaa")
    write_by_hand(home, "a", "240101.002.bbb")
    store = _core._Store(str(home))
    store.list_objects()
    db = sqlite3.connect(home / "index.sqlite")
    db.execute("UPDATE runs SET summary=? WHERE test_name='240101.001.aaa'", ('{"x":' + "[" * 299 + "]" * 299 + "}",))
    db.execute("UPDATE runs SET summary=? WHERE test_name='240101.002.bbb'", ('{"x":' + "[" * 5000 + "]" * 5000 + "}",))
    db.commit()
    db.close()
    rows, problems = store.list_objects()
    assert [r.get("info_dir", "").rsplit("/", 1)[-1] for r in rows] == ["240101.001.aaa"]
    assert len(problems) == 1 and "240101.002.bbb" in problems[0] and "damaged" in problems[0]
