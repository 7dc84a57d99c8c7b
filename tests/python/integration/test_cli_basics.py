"""The CLI as a user runs it: --help, --version, dag show/dot, and clear errors."""

import json

import codedag


def test_version_and_help(run_cli):
    out = run_cli("--version", check=True).stdout
    assert out.strip() == f"codedag {codedag.__version__}"
    help_text = run_cli("--help", check=True).stdout
    assert "dag" in help_text


def test_unknown_subcommand_fails(run_cli):
    proc = run_cli("no-such-command")
    assert proc.returncode != 0


def test_dag_show_and_dot(run_cli, tmp_path):
    doc = {
        "schema": "codedag.dag/1",
        "nodes": [{"id": 1, "name": "load", "cpu_ns": 5000}, {"id": 2, "name": "crop", "cpu_ns": 100}],
        "edges": [{"src": 1, "dst": 2, "bytes": 10, "count": 1}],
    }
    (tmp_path / "dag.json").write_text(json.dumps(doc))
    shown = run_cli("dag", "show", "dag.json", check=True).stdout
    assert "✓ valid codedag.dag/1" in shown and "load" in shown
    assert "\x1b[" not in shown  # no colour when not a TTY
    run_cli("dag", "dot", "dag.json", "-o", "dag.dot", check=True)
    assert (tmp_path / "dag.dot").read_text().startswith("digraph")


def test_dag_show_rejects_with_position(run_cli, tmp_path):
    (tmp_path / "bad.json").write_text('{"schema": "codedag.dag/1", "nodes": [{"id": 1, "name": "a", "cpu_ns": -3}], "edges": []}')
    proc = run_cli("dag", "show", "bad.json")
    assert proc.returncode == 2
    assert "✗" in proc.stderr and "nodes[0]" in proc.stderr and "cpu_ns" in proc.stderr
    proc = run_cli("dag", "show", "missing.json")
    assert proc.returncode == 2 and "no such file" in proc.stderr
