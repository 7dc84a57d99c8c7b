"""codedag.Experiment / Watcher against a real store in a temporary directory."""

import json
import os
import warnings
from pathlib import Path

import pytest

import codedag
from codedag.store import Hook, StoreWarning, active_experiment


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # not a git repository: snapshot recorded as absent
    return tmp_path / "home"


def test_run_is_recorded_with_params_metrics_and_series(home):
    with codedag.Experiment("moco") as exp:
        assert active_experiment() is exp
        name, test_name, info_dir = exp.name, exp.test_name, exp.info_dir
        assert info_dir == str(home / "info" / "moco" / test_name)
        assert os.path.isdir(exp.blob_dir) and os.path.isdir(exp.cache_dir)
        exp.dump_info("params", {"lr": 0.1, "layers": [1, 2]})
        assert exp.dump_metric("acc", 0.5, "max", cls_acc=0.4) == 0.5
        assert exp.dump_metric("acc", 0.3, "max") == 0.5  # the best so far
        assert exp.dump_metric("loss", 2.0, "min") == 2.0
        assert exp.dump_metric("loss", 1.0, "min") == 1.0
        for i in range(100):
            exp.log_metric("train_loss", 1.0 / (i + 1), step=i)
        exp.add_tag("baseline")
        exp.add_note("first try")
    assert active_experiment() is None
    rec = codedag.Watcher().record(test_name)
    assert rec["status"] == "finished" and rec["name"] == name
    assert rec["info"]["params"] == {"lr": 0.1, "layers": [1, 2]}
    assert rec["metrics"]["acc"]["cmp"] == "max" and rec["metrics"]["acc"]["cls_acc"] == 0.4
    assert rec["last"]["train_loss"]["step"] == 99
    assert rec["tags"] == ["baseline"]
    assert rec["versions"]["python"].count(".") == 2
    assert rec["git"]["present"] is False
    assert rec["argv"] and rec["executable"]
    assert rec["process"]["pid"] == os.getpid() and rec["process"]["start_ticks"] > 0
    series = codedag.Watcher().series(test_name)
    assert [p[0] for p in series["train_loss"]] == list(range(100))


def test_exception_in_with_block_is_recorded_as_failed(home):
    with pytest.raises(ZeroDivisionError), codedag.Experiment("boom") as exp:
        _ = 1 / 0
    rec = codedag.Watcher().record(exp.test_name)
    assert rec["status"] == "failed"
    assert rec["exception"]["type"] == "ZeroDivisionError"
    assert "division by zero" in rec["exception"]["message"]
    assert "_ = 1 / 0" in rec["exception"]["traceback"]


def test_keyboard_interrupt_is_recorded_as_killed(home):
    with pytest.raises(KeyboardInterrupt), codedag.Experiment("ctrlc") as exp:
        raise KeyboardInterrupt
    rec = codedag.Watcher().record(exp.test_name)
    assert rec["status"] == "killed" and rec["signal"] == "SIGINT"


def test_ids_count_the_days_runs_and_never_repeat(home):
    ids = []
    for _ in range(5):
        with codedag.Experiment("count") as exp:
            ids.append(exp.test_name)
    assert [i.split(".")[1] for i in ids] == ["001", "002", "003", "004", "005"]
    assert len(set(ids)) == 5


def test_attach_copies_the_file_into_the_run(home, tmp_path):
    src = tmp_path / "dag.json"
    src.write_text('{"nodes": []}')
    with codedag.Experiment("att") as exp:
        copy = exp.attach("dag", src)
    assert Path(copy).read_text() == '{"nodes": []}'
    rec = codedag.Watcher().record(exp.test_name)
    assert rec["attachments"]["dag"] == ["attachments/dag/dag.json"]
    with pytest.raises(codedag.NotFoundError, match="no file"), codedag.Experiment("att") as exp:
        exp.attach("dag", tmp_path / "missing.json")


def test_user_hooks_run_at_start_progress_and_end(home):
    calls = []

    class Recorder(Hook):
        name = "Recorder"

        def start_fields(self, exp):
            return {"my_field": 42}

        def on_start(self, exp):
            calls.append("start")

        def on_progress(self, exp, **kw):
            calls.append(("progress", kw))

        def on_end(self, exp, status, details):
            calls.append(("end", status))

    with codedag.Experiment("hooks", hooks=[Recorder()]) as exp:
        exp.dump_metric("acc", 1.0)
        exp.progress(epoch=3)
    assert calls == ["start", ("progress", {"acc": 1.0}), ("progress", {"epoch": 3}), ("end", "finished")]
    assert codedag.Watcher().record(exp.test_name)["my_field"] == 42


def test_bad_input_gets_clear_errors(home):
    with pytest.raises(codedag.InputError, match="position 1"):
        codedag.Experiment("a/b")
    exp = codedag.Experiment("ok")
    with pytest.raises(codedag.StateError, match="start"):
        exp.dump_info("x", 1)
    with exp:
        with pytest.raises(codedag.InputError, match='"max" or "min"'):
            exp.dump_metric("acc", 1.0, "biggest")
        exp.dump_metric("acc", 1.0, "max")
        with pytest.raises(codedag.InputError, match="one direction"):
            exp.dump_metric("acc", 1.0, "min")
    with pytest.raises(codedag.StateError, match="not running"):
        exp.end()
    with pytest.raises(codedag.NotFoundError, match="codedag ls"):
        codedag.Watcher().record("991231.001.zzz")


def test_watcher_filters(home):
    for lr, opt in [(0.1, "sgd"), (0.2, "adam"), (0.3, "adam")]:
        with codedag.Experiment("grid") as exp:
            exp.dump_info("lr", lr)
            exp.dump_info("opt", opt)
            exp.dump_metric("acc", lr * 2)
    with codedag.Experiment("other"):
        pass
    w = codedag.Watcher()
    assert len(w.load()) == 4
    assert len(w.load("grid")) == 3
    assert len(w.load(params=["opt=adam"])) == 2
    assert [r["info"]["lr"] for r in w.load(params=["opt=adam"], metrics=["acc>0.5"], as_frame=False)] == [0.3]
    assert len(w.load(status="failed")) == 0
    assert len(w.load(since="2000-01-01")) == 4
    assert len(w.load(until="2000-01-01")) == 0
    with pytest.raises(codedag.InputError, match="date"):
        w.load(since="yesterday")


def test_corrupt_files_are_skipped_with_a_warning_naming_the_file(home):
    ids = []
    for _ in range(3):
        with codedag.Experiment("c") as exp:
            exp.log_metric("loss", 1.0)
            ids.append(exp.info_dir)
    with open(os.path.join(ids[0], "run.json"), "w") as f:
        f.write('{"name": "c", "test_na')  # truncated
    with open(os.path.join(ids[1], "metrics.jsonl"), "a") as f:
        f.write("not json\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = codedag.Watcher().load(as_frame=False)
    assert len(rows) == 2
    assert any(os.path.join(ids[0], "run.json") in str(w.message) for w in caught if w.category is StoreWarning)
    with pytest.warns(StoreWarning, match="metrics.jsonl:2"):
        codedag.Watcher().series(os.path.basename(ids[1]))


def test_load_as_frame(home):
    pandas = pytest.importorskip("pandas", reason="pandas is in requirements-dev.txt")
    with codedag.Experiment("frame") as exp:
        exp.dump_info("lr", 0.1)
    df = codedag.Watcher().load()  # a DataFrame by default when pandas is installed
    assert isinstance(df, pandas.DataFrame)
    assert df.loc[0, "info.lr"] == 0.1 and df.loc[0, "exp_name"] == "frame"
    assert isinstance(codedag.Watcher().load(as_frame=False), list)


def test_index_is_rebuilt_from_files(home):
    with codedag.Experiment("r") as exp:
        exp.dump_metric("acc", 0.9)
    assert not (home / "index.sqlite").exists()  # a training process writes files only
    codedag.Watcher().load()  # a reader makes the index
    os.remove(home / "index.sqlite")
    for suffix in ("-wal", "-shm"):
        if os.path.exists(str(home / "index.sqlite") + suffix):
            os.remove(str(home / "index.sqlite") + suffix)
    w = codedag.Watcher()
    assert w.rebuild() == 1
    assert w.load(as_frame=False)[0]["metrics"]["acc"]["value"] == 0.9
    with codedag.Experiment("r") as exp2:  # the counter continues: ids never depended on the index
        pass
    assert exp2.test_name.split(".")[1] == "002"
    assert json.loads((Path(exp2.info_dir) / "run.json").read_text())["status"] == "finished"
