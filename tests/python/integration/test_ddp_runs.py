"""One run per distributed job (issue 14): real torchrun, real gloo process groups, two ranks on CPU.

Every rank starts ``codedag.Experiment``; the store must hold exactly one run with two shards and
the metrics of both ranks, whichever way the run id travelled (a rendezvous file when no process
group is up, a broadcast when one is), and a rank that raises must leave the run failed with that
rank's traceback, whatever rank 0 does afterwards. A torchelastic restart continues the run."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
from conftest import python_env

import codedag

pytest.importorskip("torch.distributed")

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import torch
    import torch.distributed as dist
    import codedag

    mode = sys.argv[1]
    rank = int(os.environ["RANK"])
    if mode == "broadcast":
        dist.init_process_group("gloo")          # the run id travels by broadcast
    exp = codedag.Experiment("ddp", snapshot=False).start()
    print(f"rank {rank} joined {exp.test_name}", flush=True)
    for step in range(3):
        exp.log_metric("loss", 1.0 / (step + 1) + rank, step=step)
    exp.dump_info(f"seen_by_rank{rank}", True)
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    if mode == "broadcast" and rank == 1:
        print("rank 1 about to fail", flush=True)
        raise ValueError("rank one broke on purpose")
    if mode == "restart" and rank == 1 and restart == 0:
        raise ValueError("first attempt fails")
    if mode == "broadcast":
        try:
            dist.barrier()                       # loses its peer
        finally:
            time.sleep(0.2)
    exp.end()
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_script(tmp_path_factory):
    path = tmp_path_factory.mktemp("ddp") / "train.py"
    path.write_text(SCRIPT)
    return path


def torchrun(script, home, mode, *extra):
    env = python_env(CODEDAG_HOME=str(home), CODEDAG_LEASE_SECONDS="5", OMP_NUM_THREADS="1")
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "CODEDAG_RUN_ID"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2", f"--master-port={free_port()}"]
    cmd += [*extra, str(script), mode]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, cwd=script.parent)


def only_run(home):
    runs = codedag.Watcher(str(home)).load(as_frame=False)
    assert len(runs) == 1, [r["test_name"] for r in runs]
    return codedag.Watcher(str(home)).record(runs[0]["test_name"])


def test_torchrun_two_ranks_make_one_run_with_two_shards(ddp_script, tmp_path):
    home = tmp_path / "home"
    out = torchrun(ddp_script, home, "rendezvous")
    assert out.returncode == 0, out.stderr[-3000:]
    run = only_run(home)
    assert run["status"] == "finished" and run["world_size"] == 2 and run["launcher"] == "torchrun"
    assert run["info"]["seen_by_rank0"] and run["info"]["seen_by_rank1"]
    shards = codedag.Watcher(str(home)).shards(run["test_name"])
    assert [s["rank"] for s in shards] == [0, 1]
    assert all(s["status"] == "finished" for s in shards)
    assert [v for _, v, _ in shards[0]["series"]["loss"]] == pytest.approx([1.0, 0.5, 1 / 3])
    assert [v for _, v, _ in shards[1]["series"]["loss"]] == pytest.approx([2.0, 1.5, 4 / 3])
    # Every rank wrote its console; only rank 0 printed codedag's line.
    for rank in (0, 1):
        log = (home / "info" / "ddp" / run["test_name"] / "logs" / f"rank{rank}.log").read_text()
        assert f"rank {rank} joined {run['test_name']}" in log
    assert out.stderr.count("codedag: run ddp/") == 1
    entries = list((home / "rendezvous").glob("*.json"))  # kept: a slow rank may still need it
    assert len(entries) == 1 and json.loads(entries[0].read_text())["run_id"] == f"ddp/{run['test_name']}"


def test_a_failing_rank_fails_the_run_with_its_traceback(ddp_script, tmp_path):
    home = tmp_path / "home"
    out = torchrun(ddp_script, home, "broadcast")
    assert out.returncode != 0
    run = only_run(home)
    assert run["status"] == "failed" and run["failed_rank"] == 1
    assert run["exception"]["type"] == "ValueError" and run["exception"]["rank"] == 1
    assert "rank one broke on purpose" in run["exception"]["traceback"]
    assert 'raise ValueError("rank one broke on purpose")' in run["exception"]["traceback"]
    shards = {s["rank"]: s for s in codedag.Watcher(str(home)).shards(run["test_name"])}
    assert shards[1]["status"] == "failed"
    # Rank 0's console closes with the failing rank's last lines.
    assert "failed on rank 1: ValueError: rank one broke on purpose" in out.stderr + out.stdout
    assert "[rank1] rank 1 about to fail" in out.stderr + out.stdout


def test_a_torchelastic_restart_continues_the_run_as_a_new_attempt(ddp_script, tmp_path):
    home = tmp_path / "home"
    out = torchrun(ddp_script, home, "restart", "--max-restarts=1")
    assert out.returncode == 0, out.stderr[-3000:]
    run = only_run(home)
    assert run["status"] == "finished" and run["attempt"] == 1
    assert run["attempts"][0]["status"] == "failed" and run["attempts"][0]["failed_rank"] == 1
    assert "first attempt fails" in run["attempts"][0]["exception"]["message"]
    shards = codedag.Watcher(str(home)).shards(run["test_name"])
    assert [s["attempt"] for s in shards] == [1, 1]
    assert shards[1]["attempts"][0]["status"] == "failed"


SPAWN = textwrap.dedent(
    """
    import os
    import torch.distributed as dist
    import torch.multiprocessing as mp
    import codedag

    def worker(rank):
        dist.init_process_group("gloo", rank=rank, world_size=2)
        exp = codedag.Experiment("spawned", snapshot=False).start()
        exp.log_metric("loss", float(rank), step=0)
        if rank == 1:
            raise ValueError("spawned rank one broke")
        dist.barrier()  # loses its peer
        exp.end()

    if __name__ == "__main__":
        mp.spawn(worker, nprocs=2)
    """
)


def test_a_failing_spawned_worker_fails_the_run_with_its_traceback(tmp_path):
    # torch.multiprocessing (as Lightning's ddp_spawn) catches the worker's exception and calls
    # sys.exit(1): sys.excepthook never runs, and atexit alone would record "finished".
    script = tmp_path / "spawned.py"
    script.write_text(SPAWN)
    home = tmp_path / "home"
    env = python_env(CODEDAG_HOME=str(home), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), OMP_NUM_THREADS="1")
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "CODEDAG_RUN_ID", "TORCHELASTIC_RUN_ID"):
        env.pop(key, None)
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode != 0
    run = only_run(home)
    assert run["status"] == "failed" and run["failed_rank"] == 1 and run["launcher"] == "master"
    assert run["exception"]["type"] == "ValueError"
    assert 'raise ValueError("spawned rank one broke")' in run["exception"]["traceback"]


def test_a_rank_without_any_way_to_meet_says_what_to_do(tmp_path):
    env = python_env(CODEDAG_HOME=str(tmp_path / "home"), RANK="1", WORLD_SIZE="2")
    for key in ("MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID", "SLURM_JOB_ID", "CODEDAG_RUN_ID"):
        env.pop(key, None)
    code = "import codedag; codedag.Experiment('ddp', snapshot=False).start()"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "cannot tell which run to join" in out.stderr and "CODEDAG_RUN_ID" in out.stderr
    assert not os.path.exists(tmp_path / "home" / "info" / "ddp")
