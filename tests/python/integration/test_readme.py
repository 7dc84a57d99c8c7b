"""The README's Python tour runs as written (on a small real DataLoader), so it cannot drift from the API."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[3] / "README.md"

SETUP = '''
import torch
from torch.utils.data import DataLoader, Dataset


def scale(x):
    return x * 2.0


def shift(x):
    return x + 1.0


class Numbers(Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, i):
        return shift(scale(torch.full((16,), float(i))))


loader = DataLoader(Numbers(), batch_size=8, num_workers=0)


def train(loader):
    return sum(float(b.sum()) for b in loader)
'''


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_tour_runs(tmp_path, monkeypatch):
    blocks = python_blocks(README.read_text())
    assert blocks, "README has no python block"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    namespace: dict = {}
    exec(compile(SETUP, "readme_setup", "exec"), namespace)  # noqa: S102
    exec(compile(blocks[0], str(README), "exec"), namespace)  # noqa: S102
    assert (tmp_path / "dag.json").exists() and (tmp_path / "trace.json").exists()
    assert (tmp_path / "results" / "plan.json").exists()
    res = namespace["res"]
    assert res["cost"] <= res["baseline_cost"]
    import codedag

    runs = codedag.Watcher().load(as_frame=False)
    assert any(r.get("name") == "birdclef" or r.get("exp_name") == "birdclef" for r in runs), runs[:1]


if __name__ == "__main__":
    pytest.main([__file__])
