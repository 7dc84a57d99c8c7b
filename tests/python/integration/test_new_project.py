"""`codedag new`: the skeleton is written whole, never over anything, and what it writes runs -- the
set-up script's check, each template's pipeline, and the experiment script end to end (baseline,
closed loop, optimised training, report, one recorded run) in this project's venv."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import python_env

# This project's venv stands in for the one `setup_environment.sh setup` creates (that one installs
# torch from the network): the scripts are run with it through VENV, as a user's would be.
VENV = Path(sys.executable).parent.parent


def make(run_cli, tmp_path, name, template):
    proc = run_cli("new", name, "--template", template)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / name, proc.stdout


@pytest.mark.parametrize("template", ["audio", "image", "tabular"])
def test_each_template_writes_a_project_whose_pipeline_runs(run_cli, tmp_path, template):
    project, out = make(run_cli, tmp_path, f"proj_{template}", template)
    files = sorted(p.name for p in project.iterdir())
    assert files == sorted([".gitignore", "Dockerfile", "README.md", "docker-compose.yml", "experiment.py",
                            "experiment_config.json", "pipeline.py", "requirements.txt", "setup_environment.sh"])
    assert f"wrote {len(files)} files into proj_{template}" in out and "./setup_environment.sh setup" in out
    assert os.access(project / "setup_environment.sh", os.X_OK)
    assert "torch==2.13.0" in (project / "requirements.txt").read_text()
    assert "no container engine" in (project / "README.md").read_text()
    batch = subprocess.run(
        [sys.executable, "-c", "import json, pipeline; c = json.load(open('experiment_config.json'));"
         " c['num_workers'] = 0; x, y = next(iter(pipeline.make_dataloader(c)));"
         " out = pipeline.make_model(c)(x); print(tuple(x.shape), tuple(out.shape))"],
        cwd=project, capture_output=True, text=True, env=python_env())
    assert batch.returncode == 0, batch.stderr
    assert batch.stdout.startswith("(16,")


def test_new_never_overwrites_and_names_the_problem(run_cli, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    proc = run_cli("new", "taken")
    assert proc.returncode == 2 and "✗" in proc.stderr and "already exists" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]
    proc = run_cli("new", "bad name")
    assert proc.returncode == 2 and "project name 'bad name'" in proc.stderr
    proc = run_cli("new", "ok", "--template", "video")
    assert proc.returncode == 2 and "audio, image, tabular" in proc.stderr
    assert not (tmp_path / "ok").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_the_setup_script_checks_and_refuses_unknown_steps(run_cli, tmp_path):
    project, _ = make(run_cli, tmp_path, "checked", "tabular")
    env = python_env(VENV=str(VENV), PYTHON=sys.executable)
    proc = subprocess.run(["./setup_environment.sh", "check"], cwd=project, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "torch 2.13.0" in proc.stdout and "✓ check done" in proc.stdout
    proc = subprocess.run(["./setup_environment.sh", "launch"], cwd=project, capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "usage:" in proc.stderr
    proc = subprocess.run(["./setup_environment.sh", "run"], cwd=project, capture_output=True, text=True,
                          env=python_env(VENV=str(tmp_path / "no-venv")))
    assert proc.returncode == 1 and "setup_environment.sh setup first" in proc.stderr


def test_the_experiment_script_runs_end_to_end(run_cli, tmp_path):
    project, _ = make(run_cli, tmp_path, "kaggle_rows", "tabular")
    config = json.loads((project / "experiment_config.json").read_text())
    config.update(num_samples=96, batch_size=16)
    (project / "small.json").write_text(json.dumps(config))
    home = tmp_path / "codedag_home"
    proc = subprocess.run(
        ["./setup_environment.sh", "run", "--config", "small.json", "--max-batches", "4", "--quick"],
        cwd=project, capture_output=True, text=True, timeout=600,
        env=python_env(VENV=str(VENV), CODEDAG_HOME=str(home)))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "report " in proc.stdout and "plan " in proc.stdout
    assert list((project / "results").glob("*_report.html"))
    runs = run_cli("ls", "kaggle_rows", "--json", env={"CODEDAG_HOME": str(home)}, check=True).stdout
    (run,) = json.loads(runs)
    assert run["status"] == "finished" and "accuracy" in run["metrics"]
