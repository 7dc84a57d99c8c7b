"""`codedag trace` as a subprocess: the bundled example, whole-script mode, and its errors."""

from __future__ import annotations

import json
import sys

import codedag


def env():
    return {"CODEDAG_PYTHON": sys.executable}


def test_trace_demo_first_batch(run_cli, repo_root, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("trace", "--out", out, "--batches", "1", repo_root / "examples" / "trace_demo.py", env=env())
    assert proc.returncode == 0, proc.stderr
    assert "hottest contexts" in proc.stdout and "__getitem__" in proc.stdout
    assert "traced batch 1/1" in proc.stderr
    dag = codedag.Dag.load(str(out / "dag.json"))
    by = {n.qualname: n for n in dag.nodes}
    for name in ("decode", "RandomCrop.__call__", "random_flip", "normalize", "to_chw_tensor"):
        assert by[f"__main__.{name}"].calls == 16, name
    assert by["torch.utils.data._utils.collate.default_collate"].calls == 1
    assert dag.meta["workers"] == 2
    trace = json.loads((out / "trace.json").read_text())
    assert any(e["ph"] == "X" and e["name"] == "decode" for e in trace["traceEvents"])


def test_trace_whole_script_with_arguments(run_cli, tmp_path):
    script = tmp_path / "small.py"
    script.write_text(
        "import sys\n"
        "def square(x):\n    return x * x\n"
        "def main(n):\n    return [square(i) for i in range(n)]\n"
        "print(sum(main(int(sys.argv[1]))))\n"
    )
    proc = run_cli("trace", "--out", tmp_path / "o", script, "7", env=env())
    assert proc.returncode == 0, proc.stderr
    assert "91" in proc.stdout  # the script ran with its argument
    dag = codedag.Dag.load(str(tmp_path / "o" / "dag.json"))
    by = {n.qualname: n for n in dag.nodes}
    assert by["__main__.square"].calls == 7 and by["__main__.main"].calls == 1


def test_script_failure_keeps_the_partial_dag(run_cli, tmp_path):
    script = tmp_path / "boom.py"
    script.write_text("def step():\n    return 1\nstep()\nraise ValueError('boom')\n")
    proc = run_cli("trace", "--out", tmp_path / "o", script, env=env())
    assert proc.returncode == 1
    assert "ValueError: boom" in proc.stderr
    dag = codedag.Dag.load(str(tmp_path / "o" / "dag.json"))
    assert [n.qualname for n in dag.nodes] == ["__main__.step"]


def test_missing_script_is_an_input_error(run_cli, tmp_path):
    proc = run_cli("trace", tmp_path / "nope.py", env=env())
    assert proc.returncode == 2
    assert "no such script" in proc.stderr


def test_batches_without_a_dataloader_says_so(run_cli, tmp_path):
    script = tmp_path / "plain.py"
    script.write_text("print('no loader here')\n")
    proc = run_cli("trace", "--batches", "2", "--out", tmp_path / "o", script, env=env())
    assert proc.returncode == 1
    assert "iterated no DataLoader" in proc.stderr
