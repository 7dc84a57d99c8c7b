"""Issue 12 through the Python API: bad values in and bad files out are clear errors, never crashes,
tracebacks of the wrong kind or silently wrong records; a process starting many runs grows nothing."""

import json
import os
import sys
import types
import warnings
from pathlib import Path

import pytest

import codedag
from codedag.store import StoreWarning


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # not a git repository: snapshot recorded as absent
    return tmp_path / "home"


def one_run(name="r", **info):
    with codedag.Experiment(name) as exp:
        for k, v in info.items():
            exp.dump_info(k, v)
    return exp


def loaded_with_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = codedag.Watcher().load(as_frame=False)
    return rows, [str(w.message) for w in caught if w.category is StoreWarning]


# dump_info(x, 10**400) raised SystemError and stored -1.0.
def test_huge_integers_are_a_clear_error_and_nothing_is_stored(home):
    with codedag.Experiment("big") as exp:
        with pytest.raises(codedag.InputError, match="401 digits is too large"):
            exp.dump_info("x", 10**400)
        with pytest.raises(codedag.InputError, match="too large"):
            exp.dump_info("nested", {"a": [1, -(10**30)]})
        exp.dump_info("u64", 2**64 - 1)  # fits: unsigned 64-bit
    rec = exp.record()
    assert "x" not in rec["info"] and "nested" not in rec["info"]
    assert rec["info"]["u64"] == 2**64 - 1


# NUL in strings silently truncated keys.
def test_nul_in_keys_is_refused_and_kept_exactly_in_values(home):
    with codedag.Experiment("nul") as exp:
        with pytest.raises(codedag.InputError, match="NUL"):
            exp.dump_info("a\0b", 1)
        with pytest.raises(codedag.InputError, match="NUL"):
            exp.dump_info("params", {"lr\0x": 1})
        with pytest.raises(codedag.InputError, match="NUL"):
            exp.log_metric("loss\0", 1.0)
        with pytest.raises(codedag.InputError, match="NUL"):
            exp.add_tag("t\0ag")
        exp.dump_info("value", "before\0after")
    assert exp.record()["info"]["value"] == "before\0after"


# Non-UTF-8 input and non-ASCII names raised UnicodeDecodeError.
def test_non_ascii_names_and_non_utf8_text(home):
    with pytest.raises(codedag.InputError, match="has '实' at position 0"):
        codedag.Experiment("实验")
    with codedag.Experiment("text") as exp:
        exp.dump_info("name", "实验 ✓")
        exp.dump_info("path", os.fsdecode(b"/data/\xff.bin"))  # a file name that is not UTF-8
    info = exp.record()["info"]
    assert info["name"] == "实验 ✓"
    assert info["path"] == "/data/\\udcff.bin"


def test_bad_run_files_are_skipped_with_a_warning_naming_field_and_line(home):
    good, bad_status, not_utf8, deep = (one_run() for _ in range(4))
    record = Path(bad_status.info_dir, "run.json")
    data = json.loads(record.read_text())
    data["status"] = 5  # one such file broke ls, show and index rebuild for the whole store
    record.write_text(json.dumps(data, indent=1))
    Path(not_utf8.info_dir, "run.json").write_bytes(
        Path(not_utf8.info_dir, "run.json").read_bytes()[:-3] + b'"\xff"}'
    )
    Path(deep.info_dir, "run.json").write_text('{"info": ' + "[" * 50000 + "]" * 50000 + "}")
    rows, problems = loaded_with_warnings()
    assert [r["test_name"] for r in rows] == [good.test_name]
    assert any(f"{record}:" in p and "field /status: must be string, found number" in p for p in problems), (
        problems
    )
    assert any("nested more than 256 levels" in p for p in problems), problems
    assert any(not_utf8.test_name in p and "UTF-8" in p for p in problems), problems
    with pytest.raises(codedag.FormatError, match="field /status"):
        codedag.Watcher().record(bad_status.test_name)
    with pytest.raises(codedag.FormatError, match="nested"):
        codedag.Watcher().retrieve(deep.test_name)
    with pytest.warns(StoreWarning, match="skipped"):
        assert codedag.Watcher().rebuild() == 1


def test_load_json_is_bounded(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 50000 + "]" * 50000)
    with pytest.raises(codedag.FormatError, match="deep.json:1:257: nested more than 256 levels"):
        codedag._core.load_json(str(deep))
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(codedag.FormatError, match="bad.json:1:"):
        codedag._core.load_json(str(bad))


def test_damaged_index_heals_with_a_warning(home):
    for _ in range(3):
        one_run()
    codedag.Watcher().load()
    (home / "index.sqlite").write_bytes(b"garbage" * 2000)
    for suffix in ("-wal", "-shm"):
        Path(str(home / "index.sqlite") + suffix).unlink(missing_ok=True)
    rows, problems = loaded_with_warnings()
    assert len(rows) == 3
    assert any("moved it aside" in p and "rebuilt it from 3 run files" in p for p in problems), problems


def test_terminal_escapes_in_warnings(home):
    exp = one_run()
    record = Path(exp.info_dir, "run.json")
    data = json.loads(record.read_text())
    data["status"] = "\x1b[2Jevil"
    record.write_text(json.dumps(data))
    _, problems = loaded_with_warnings()
    assert problems and all("\x1b" not in p for p in problems)
    assert any("\\x1b[2Jevil" in p for p in problems), problems


# Every Experiment opened its own SQLite connection and never closed it: +600 fds after 300 runs.
def test_many_runs_in_one_process_grow_no_descriptors_or_threads(tmp_path, monkeypatch):
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path  # a tmpfs: fsync is free
    home = Path(base) / f"codedag_many_{os.getpid()}"
    monkeypatch.setenv("CODEDAG_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    import threading

    def count_fds():
        return len(os.listdir("/proc/self/fd"))

    try:
        for i in range(5):
            one_run("many", i=i)
        codedag.Watcher().load(as_frame=False)
        fds, threads = count_fds(), threading.active_count()
        native = len(os.listdir("/proc/self/task"))
        for i in range(300):
            exp = one_run("many", i=i)
            exp.record()
            codedag.Watcher().load("many", as_frame=False, params=[f"i={i}"])
        assert count_fds() == fds
        assert threading.active_count() == threads
        assert len(os.listdir("/proc/self/task")) == native
    finally:
        import shutil

        shutil.rmtree(home, ignore_errors=True)


# --- lumo parity: seed 004's snippets, only the import changed ---------------------------------


def test_seed_004_reproducibility_snippets(home):
    from codedag import Experiment, Watcher  # seed: from lumo import Watcher, Experiment

    params_dict = {"lr": 0.1, "seed": 1}
    exp = Experiment("moco")
    exp.start()
    exp.dump_info("params", params_dict)
    acc, cls_acc = 0.8, 0.7
    max_acc = exp.dump_metric("acc", acc, "cls_acc", cls_acc)
    assert max_acc == 0.8
    assert exp.dump_metric("acc", 0.5, "cls_acc", 0.9) == 0.8  # the best so far
    assert exp.properties["params"] == params_dict
    assert exp.properties["git"]["present"] is False  # not a repository here
    assert exp.properties["lock"]["python"].count(".") == 2
    assert exp.exp_name == "moco"
    assert exp.heartbeat_fn == os.path.join(exp.info_dir, "heartbeat.json")
    assert os.path.exists(exp.heartbeat_fn)
    exp.end()
    assert exp.record()["metrics"]["acc"]["cls_acc"] == 0.7

    w = Watcher()
    df = w.load()  # all experiments
    exp2 = Experiment.from_cache(df.iloc[0].to_dict())
    assert exp2.test_name == exp.test_name and exp2.properties["params"] == params_dict
    got = w.retrieve(exp.test_name)
    assert isinstance(got, Experiment)
    assert repr(got) == f"Experiment(info_dir={exp.info_dir!r})"


def test_exception_is_a_property(home):
    with pytest.raises(ValueError), codedag.Experiment("boom") as exp:
        raise ValueError("bad lr")
    assert codedag.Watcher().retrieve(exp.test_name).properties["exception"]["type"] == "ValueError"


def test_lockfile_records_libraries_imported_after_start(home, monkeypatch):
    monkeypatch.delitem(sys.modules, "albumentations", raising=False)  # an earlier test may have loaded it
    with codedag.Experiment("lock") as exp:
        assert "albumentations" not in exp.properties["lock"]
        monkeypatch.setitem(sys.modules, "albumentations", types.SimpleNamespace(__version__="9.9.9"))
    assert exp.properties["lock"]["albumentations"] == "9.9.9"


def test_from_cache_checks_the_row(home):
    exp = one_run("fc")
    with pytest.raises(codedag.InputError, match="test_name"):
        codedag.Experiment.from_cache({"name": "fc"})
    with pytest.raises(codedag.InputError, match="info_dir"):
        codedag.Experiment.from_cache({"test_name": exp.test_name, "info_dir": "/etc/passwd"})
    with pytest.raises(codedag.InputError, match="not a run id"):
        codedag.Experiment.from_cache({"test_name": "../../x"})
    view = codedag.Experiment.from_cache({"test_name": exp.test_name, "name": "fc"})
    with pytest.raises(codedag.StateError, match="view"):
        view.dump_info("x", 1)
