"""CodeDAGLogger and CodeDAGCallback under real Lightning Trainers on CPU (gloo), two devices
(issue 14): ``ddp`` (Lightning re-runs the script for rank 1) and ``ddp_spawn`` (the logger is
pickled into two spawned workers) each make ONE run, with the logged metrics of both ranks, the
hyperparameters nested and untruncated, the same ``version`` on every rank, the checkpoint
recorded, and the callback's DAG and loader-wait series. (A failing spawned worker, which never
reaches sys.excepthook, is tested with plain torch.multiprocessing in test_ddp_runs.py: cheaper to
start than a Lightning job.)"""

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import python_env

import codedag

pytest.importorskip("lightning")

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import torch
    from torch.utils.data import DataLoader, Dataset
    import lightning as L
    from codedag.lightning import CodeDAGCallback, CodeDAGLogger

    strategy = sys.argv[1]
    LONG = "x" * 600

    class Squares(Dataset):
        def __len__(self):
            return 32
        def __getitem__(self, i):
            x = torch.full((4,), float(i % 7)) / 7
            return x, x.sum(dim=0, keepdim=True)

    class Model(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.save_hyperparameters({"optim": {"lr": 0.05, "betas": [0.9, 0.99]}, "note": LONG})
            self.net = torch.nn.Linear(4, 1)
        def training_step(self, batch, i):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss)
            return loss
        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)
        def on_train_end(self):
            out = os.environ["VERSIONS_DIR"]
            with open(os.path.join(out, f"rank{self.global_rank}.json"), "w") as f:
                json.dump({"version": self.logger.version, "log_dir": self.logger.log_dir}, f)

    if __name__ == "__main__":
        trainer = L.Trainer(
            strategy=strategy, accelerator="cpu", devices=2, max_epochs=2, log_every_n_steps=1,
            logger=CodeDAGLogger("lit", snapshot=False), callbacks=[CodeDAGCallback()],
            enable_progress_bar=False, enable_model_summary=False,
        )
        trainer.fit(Model(), DataLoader(Squares(), batch_size=4))
    """
)


@pytest.fixture(scope="module")
def lit_script(tmp_path_factory):
    path = tmp_path_factory.mktemp("lit") / "train_lit.py"
    path.write_text(SCRIPT)
    return path


def fit(script, tmp_path, strategy):
    home, versions = tmp_path / "home", tmp_path / "versions"
    versions.mkdir()
    env = python_env(CODEDAG_HOME=str(home), VERSIONS_DIR=str(versions), OMP_NUM_THREADS="1", CODEDAG_LEASE_SECONDS="5")
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "CODEDAG_RUN_ID"):
        env.pop(key, None)
    out = subprocess.run(
        [sys.executable, str(script), strategy],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    return out, home, versions


@pytest.mark.parametrize("strategy", ["ddp", "ddp_spawn"])
def test_one_run_per_lightning_job(lit_script, tmp_path, strategy):
    out, home, versions = fit(lit_script, tmp_path, strategy)
    assert out.returncode == 0, out.stderr[-4000:]
    watcher = codedag.Watcher(str(home))
    runs = watcher.load(as_frame=False)
    assert len(runs) == 1, [r["test_name"] for r in runs]
    run = watcher.record(runs[0]["test_name"])
    assert run["status"] == "finished" and run["world_size"] == 2
    # Hyperparameters as given: nested, the 600-character value whole.
    assert run["info"]["hparams"]["optim"] == {"lr": 0.05, "betas": [0.9, 0.99]}
    assert run["info"]["hparams"]["note"] == "x" * 600
    assert run["info"]["lightning_finalize"] == "success"
    # The same version on every rank: the run's id.
    seen = [json.loads((versions / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert seen[0]["version"] == seen[1]["version"] == run["test_name"]
    assert seen[0]["log_dir"] == seen[1]["log_dir"] == run["info_dir"]
    # Metrics of both ranks: 2 epochs x 4 batches per rank (32 samples, batch 4, 2 ranks).
    shards = watcher.shards(run["test_name"])
    assert [s["rank"] for s in shards] == [0, 1]
    for shard in shards:
        assert len(shard["series"]["train_loss"]) == 8
        assert [step for step, _, _ in shard["series"]["loader_wait_ms"]] == [0, 1]
        assert all(v >= 0 for _, v, _ in shard["series"]["step_ms"])
    # The checkpoint, in the run's blob directory, and the callback's DAG and monitor result.
    checkpoints = run["info"]["checkpoints"]
    path = checkpoints["best_model_path"]
    assert path.startswith(str(home / "blob" / "lit" / run["test_name"]))
    assert run["attachments"]["dag"] and run["attachments"]["monitor_result"]
