"""`codedag optimize-run`: the closed loop run from the command line on a script's DataLoader."""

import json
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent('''
    import torch
    from torch.utils.data import DataLoader, Dataset

    def spectrum(x):
        return torch.stft(x, 64, 16, window=torch.hann_window(64), return_complex=True).abs()

    def normalise(s):
        return (s - s.mean(dim=(-2, -1), keepdim=True)) / (s.std(dim=(-2, -1), keepdim=True) + 1e-6)

    class Waves(Dataset):
        def __len__(self):
            return 48

        def __getitem__(self, i):
            x = torch.randn(800, generator=torch.Generator().manual_seed(i))
            return normalise(spectrum(x)), i % 2

    train_loader = DataLoader(Waves(), batch_size=8)

    if __name__ == "__main__":
        raise SystemExit("training must not run under optimize-run")
''')


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "train_waves.py"
    path.write_text(SCRIPT)
    plan = tmp_path / "plan.json"
    keys = ["train_waves.spectrum", "train_waves.normalise"]
    plan.write_text(json.dumps({"schema": "codedag.plan/1", "context_device_map": {k: "batch:cpu" for k in keys},
                                "modes": {k: "batched" for k in keys}, "predicted_speedup": 1.4}))
    return path, plan


def test_optimize_run_with_a_plan_verifies_measures_and_writes_the_report(run_cli, script, tmp_path):
    path, plan = script
    out = tmp_path / "out"
    proc = run_cli("optimize-run", path, "--plan", plan, "-o", out, "--batches", "2", "--repeats", "1",
                   "--verify-batches", "2", "--min-speedup", "0", env={"CODEDAG_PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "outputs equal over 2 batch(es)" in proc.stdout
    assert "predicted" in proc.stdout and "95% interval" in proc.stdout and "the loop took" in proc.stdout
    report = json.loads((out / "closed_loop.json").read_text())
    assert report["kept"] is True and report["verification"]["ok"] is True
    assert report["predicted_speedup"] == 1.4 and report["measured_speedup"] > 0
    assert report["interval"]["rounds"] == 1 and report["settings"][0]["name"] == "untouched"
    assert json.loads((out / "plan.json").read_text())["context_device_map"]


def test_optimize_run_reports_a_rejected_plan_and_require_kept_fails(run_cli, script, tmp_path):
    path, plan = script
    proc = run_cli("optimize-run", path, "--plan", plan, "-o", tmp_path / "o2", "--batches", "2", "--repeats", "1",
                   "--verify-batches", "1", "--min-speedup", "1000", "--require-kept",
                   env={"CODEDAG_PYTHON": sys.executable})
    assert proc.returncode == 1
    assert "not kept: " in proc.stdout and "below the required" in proc.stdout


def test_optimize_run_bad_input(run_cli, tmp_path):
    env = {"CODEDAG_PYTHON": sys.executable}
    missing = run_cli("optimize-run", tmp_path / "nope.py", env=env)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    empty = tmp_path / "no_loader.py"
    empty.write_text("x = 1\n")
    proc = run_cli("optimize-run", empty, env=env)
    assert proc.returncode == 2 and "no DataLoader" in proc.stderr
    one_batch = run_cli("optimize-run", empty, "--batches", "1", env=env)
    assert one_batch.returncode == 2 and "--batches must be at least 2" in one_batch.stderr
    for bad in ("-1", "abc", "0", "nan"):
        budget = run_cli("optimize-run", empty, "--budget-s", bad, env=env)
        assert budget.returncode == 2 and "✗" in budget.stderr, budget.stderr
        assert "--budget-s" in budget.stderr and "a positive number of seconds" in budget.stderr, budget.stderr
    bad_python = run_cli("optimize-run", empty, "--python", tmp_path / "no-such-python")
    assert bad_python.returncode == 1 and "cannot start the Python interpreter" in bad_python.stderr
