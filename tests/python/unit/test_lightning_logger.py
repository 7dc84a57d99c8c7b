"""CodeDAGLogger in one process (the ddp/ddp_spawn jobs are tests/python/integration/
test_lightning_ddp.py): Lightning's Logger contract, pickling without the open run, hyperparameters
kept whole, non-numbers refused by name, finalize advisory."""

import pickle
from argparse import Namespace

import pytest

import codedag

pytest.importorskip("lightning")
torch = pytest.importorskip("torch")

from codedag.lightning import CodeDAGLogger  # noqa: E402


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "CODEDAG_RUN_ID", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path / "home"


def test_logger_contract_in_one_process(home):
    logger = CodeDAGLogger("lit", snapshot=False)
    assert logger.save_dir == str(home / "blob")  # before any run is opened
    clone = pickle.loads(pickle.dumps(logger))
    assert clone._exp is None
    logger.log_hyperparams(Namespace(optim={"lr": 0.1, "sched": {"gamma": [0.5, 0.25]}}, text="y" * 1000))
    logger.log_metrics({"loss": torch.tensor(0.5), "epoch": 0}, step=3)
    with pytest.warns(codedag.StoreWarning, match="'name' is a str"):
        logger.log_metrics({"name": "text", "loss": 0.25}, step=4)
    logger.save()
    logger.finalize("success")
    exp = logger.experiment
    assert exp.running  # finalize is advisory: the process ends the run
    assert logger.version == exp.test_name and logger.log_dir == exp.info_dir
    # Pickling an open logger drops the run handle, keeps the configuration.
    clone = pickle.loads(pickle.dumps(logger))
    assert clone._exp is None and clone.name == "lit"
    exp.end()
    record = codedag.Watcher(str(home)).record(exp.test_name)
    assert record["info"]["hparams"] == {"optim": {"lr": 0.1, "sched": {"gamma": [0.5, 0.25]}}, "text": "y" * 1000}
    assert record["info"]["lightning_finalize"] == "success"
    series = codedag.Watcher(str(home)).series(exp.test_name)
    assert [(s, v) for s, v, _ in series["loss"]] == [(3, 0.5), (4, 0.25)]
    assert "name" not in series
    assert codedag.Watcher(str(home)).shards(exp.test_name) == []  # one process: no shards
