"""codedag.sweep() from Python, and cells whose script opens codedag.Experiment: the script adopts
the cell's run (CODEDAG_RUN_ID) instead of making a second one."""

import os
import sys
import textwrap

import pytest
from conftest import python_env

import codedag

# A cell that records itself as an Experiment, as a training script would.
TRAIN = textwrap.dedent(
    """
    import argparse, codedag
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float)
    p.add_argument("--boom", type=int, default=0)
    a = p.parse_args()
    with codedag.Experiment("train", snapshot=False) as exp:
        exp.dump_info("script_params", {"lr": a.lr})
        exp.log_metric("loss", 1.0 - a.lr, step=1)
        exp.dump_metric("acc", a.lr * 2, "max")
        print("run", exp.test_name, flush=True)
        if a.boom and a.lr > 0.25:
            raise KeyError("missing column")
    """
)


@pytest.fixture
def train(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(TRAIN)
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    for key, value in python_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return [sys.executable, "train.py"]


def test_sweep_from_python_adopts_the_cells_runs_and_names_the_best(train, tmp_path, capfd):
    result = codedag.sweep(train, {"lr": [0.1, 0.2, 0.3]}, metric="acc", parallel=2)
    assert result.ok and len(result.cells) == 3
    assert result.best["cell"] == 2 and result.best["metric"] == pytest.approx(0.6)
    runs = codedag.Watcher(str(tmp_path / "home")).load(as_frame=False)
    assert len(runs) == 3  # one run per cell: the scripts' Experiments adopted them
    by_id = {r["test_name"]: r for r in runs}
    for cell in result.cells:
        run = by_id[cell["run"]]
        assert run["status"] == "finished"
        assert run["info"]["params"]["lr"] == cell["params"]["lr"]  # the sweep's record
        assert run["info"]["script_params"]["lr"] == cell["params"]["lr"]  # the script's, same run
        assert run["metrics"]["acc"]["value"] == pytest.approx(cell["params"]["lr"] * 2)
        assert cell["metric"] == pytest.approx(cell["params"]["lr"] * 2)
    full = codedag.Watcher(str(tmp_path / "home")).record(result.cells[0]["run"])
    assert full["adopted_by"]["experiment"] == "train" and full["exit"]["code"] == 0
    assert codedag.sweep_status(result.sweep_id).ok


def test_an_exception_recorded_by_the_script_is_the_cells_cause(train, tmp_path):
    result = codedag.sweep(train + ["--boom=1"], {"lr": [0.1, 0.5]})
    assert not result.ok
    [bad] = result.failed
    assert bad["params"] == {"lr": 0.5} and bad["kind"] == "exception"
    assert bad["cause"].startswith("KeyError: 'missing column' at train.py:") and "<module>" in bad["cause"]
    record = codedag.Watcher(str(tmp_path / "home")).record(bad["run"])
    assert record["status"] == "failed" and record["exception"]["type"] == "KeyError"
    assert record["failure"]["signature"].startswith("exception:KeyError@train.py:")


def test_bad_options_raise_before_anything_runs(train, tmp_path):
    with pytest.raises(codedag.InputError, match="given twice"):
        codedag.sweep(train, {"lr": [0.1, 0.1]})
    with pytest.raises(codedag.InputError, match="retry_on"):
        codedag.sweep(train, {"lr": [0.1]}, retry_on="sometimes")
    with pytest.raises(codedag.InputError, match="low, high"):
        codedag.sweep(train, random={"lr": (1,)})
    assert not list((tmp_path / "home" / "sweeps").glob("sw*"))  # refused before a sweep was made


def test_an_experiment_with_an_unknown_or_ended_run_id_records_its_own_run(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CODEDAG_RUN_ID", "260101.001.zzz")
    with (
        pytest.warns(UserWarning, match="not adopting run 260101.001.zzz"),
        codedag.Experiment("solo", snapshot=False) as exp,
    ):
        pass
    assert "CODEDAG_RUN_ID" not in os.environ
    ended = exp.test_name
    monkeypatch.setenv("CODEDAG_RUN_ID", ended)
    with (
        pytest.warns(UserWarning, match="finished, not queued or running"),
        codedag.Experiment("solo", snapshot=False) as again,
    ):
        pass
    assert again.test_name != ended
    runs = codedag.Watcher(str(tmp_path / "home")).load(as_frame=False)
    assert sorted(r["status"] for r in runs) == ["finished", "finished"]
