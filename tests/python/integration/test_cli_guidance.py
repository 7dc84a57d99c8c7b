"""What a newcomer meets on a wrong step: the command list, the nearest command, ✗ with the usage and
the fix (exit 2) for every parser error, and each message issue 18 listed, run as a user runs them."""

import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import python_env

import codedag

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "examples" / "experiment_demo.py"
DAG = REPO / "examples" / "dags" / "audio_pipeline.json"


def record(cwd, *args, home=None):
    """One finished run of experiment_demo.py, started in `cwd`, in the store `home` (default: the
    run_cli fixture's, cwd/codedag_home); returns its test_name."""
    home = home or cwd / "codedag_home"
    proc = subprocess.run([sys.executable, DEMO, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env=python_env(CODEDAG_HOME=str(home)))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1].split()[0]


def usage_error(proc, *words):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "✗" in proc.stderr and "usage:" in proc.stderr and "fix:" in proc.stderr, proc.stderr
    for w in words:
        assert w in proc.stderr, (w, proc.stderr)


# ---- bare and mistyped commands ----

def test_bare_codedag_lists_the_commands(run_cli):
    proc = run_cli()
    assert proc.returncode == 2
    assert "✗ codedag: give a command" in proc.stderr
    for command in ("trace", "optimize", "ls", "show", "new", "completion"):
        assert re.search(rf"^  {re.escape(command)}\s{{2,}}\S", proc.stderr, re.M), command


@pytest.mark.parametrize(("typed", "meant"), [("lss", "codedag ls"), ("optimise", "codedag optimize"),
                                              ("shwo", "codedag show"), ("dag shwo", "codedag dag show"),
                                              ("sweeps", "codedag sweep")])
def test_a_mistyped_command_gets_the_nearest(run_cli, typed, meant):
    proc = run_cli(*typed.split())
    assert proc.returncode == 2
    assert f"unknown command '{typed.split()[-1]}'" in proc.stderr
    assert f"did you mean `{meant}`" in proc.stderr
    assert "A subcommand is required" not in proc.stderr


def test_a_group_without_its_command_lists_its_commands(run_cli):
    proc = run_cli("dag")
    assert proc.returncode == 2 and "✗ codedag dag: give a command" in proc.stderr
    assert re.search(r"^  svg\s", proc.stderr, re.M) and re.search(r"^  show\s", proc.stderr, re.M)


def test_help_and_version_still_exit_0(run_cli):
    assert run_cli("--help").returncode == 0
    assert run_cli("ls", "--help").returncode == 0
    assert run_cli("--version").stdout.strip() == f"codedag {codedag.__version__}"


# ---- every parser error: exit 2, ✗, usage, fix ----

def test_parser_errors_exit_2_with_the_usage_and_the_fix(run_cli):
    usage_error(run_cli("optimize"), "codedag optimize: file is required", "usage: codedag optimize [OPTIONS] file")
    usage_error(run_cli("ls", "-n", "abc"), "codedag ls:")
    usage_error(run_cli("ls", "--limt", "3"), "did you mean --limit?")
    usage_error(run_cli("ls", "-s", "bogus"), "--status")
    usage_error(run_cli("completion", "tcsh"), "codedag completion")


# ---- the messages of issue 18 ----

def test_ls_limit_shows_the_newest_and_refuses_nonsense(run_cli, tmp_path):
    first = record(tmp_path, "--lr=0.1", "--epochs", "1")
    second = record(tmp_path, "--lr=0.2", "--epochs", "1")
    out = run_cli("ls", "-n", "1", check=True).stdout
    assert second in out and first not in out
    assert first in run_cli("ls", "-n", "1", "--sort", "started", check=True).stdout  # explicit order: its first
    usage_error(run_cli("ls", "-n", "-1"), "a whole number from 1")
    usage_error(run_cli("ls", "-n", "0"), "a whole number from 1")


def test_ls_refuses_a_broken_filter_even_with_no_runs(run_cli):
    proc = run_cli("ls", "-p", "lr>>3")
    assert proc.returncode == 2 and "✗" in proc.stderr and "'>3' is not a number" in proc.stderr
    proc = run_cli("ls", "-m", "acc")
    assert proc.returncode == 2 and "has no comparison" in proc.stderr


def test_watcher_refuses_an_unknown_status(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    with pytest.raises(codedag.InputError, match="unknown status 'bogus'"):
        codedag.Watcher().load(status="bogus")
    with pytest.raises(codedag.InputError, match="not a number"):
        codedag.Watcher().load(params=["lr>>3"])


def test_show_best_metrics_one_row_each_with_dates_and_env_aligned(run_cli, tmp_path):
    test_name = record(tmp_path, "--lr=0.3", "--epochs", "2")
    out = run_cli("show", test_name, "--env", check=True).stdout
    best = out.split("best metrics (dump_metric)")[1].split("\n\n")[0]
    rows = [line for line in best.splitlines()[2:] if line.strip()]
    assert len(rows) == 1 and rows[0].startswith("acc ")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[0]) and "epoch=1" in rows[0]
    assert not re.search(r"\de\+0\d", out)  # no timestamp as 1.79616e+09
    env = out.split("\nenvironment\n")[1].strip().splitlines()
    header, body = env[0], [line for line in env[1:] if line.strip()]
    value_column = header.index("value")
    with_values = [line for line in body if len(line) > value_column]  # an empty value ends the line early
    assert with_values and all(line[value_column - 2:value_column] == "  " and line[value_column] != " "
                               for line in with_values), env[:5]


def test_monitor_on_a_short_command_prints_no_nan(run_cli):
    proc = run_cli("monitor", "--interval", "1", "--out", "r.json", "--", "true")
    assert proc.returncode == 0, proc.stderr
    said = proc.stderr  # the command owns stdout
    assert "nan" not in said and "1.000000" not in said
    assert re.search(r"interval:\s+1 s$", said, re.M)
    # Either no sample was taken (and that is said) or the sampled values are numbers.
    assert "no resource sample" in said or re.search(r"\d+ samples? over", said)


@pytest.mark.parametrize(("args", "words"), [(["--k", "0"], "--k"), (["--gpus", "100000"], "--gpus"),
                                             (["--workers", "-5"], "--workers"), (["--k", "1"], "--k")])
def test_optimize_refuses_impossible_counts(run_cli, args, words):
    proc = run_cli("optimize", DAG, *args)
    usage_error(proc, words, "a whole number from")
    assert "bad_alloc" not in proc.stderr and "internal error" not in proc.stderr


def test_optimize_workers_0_is_not_silently_ignored(run_cli):
    proc = run_cli("optimize", DAG, "--workers", "0")
    # Refused (a count of DataLoader workers), or honoured (0: the main process loads) -- never dropped.
    assert proc.returncode == 2 or re.search(r"workers:\s+0\b", proc.stdout), proc.stdout + proc.stderr


def test_optimize_says_function_or_functions(run_cli):
    out = run_cli("optimize", DAG, "--workers", "4", "--gpus", "1", check=True).stdout
    n, noun = re.search(r"plan: (\d+) (functions?) moved", out).groups()
    assert noun == ("function" if n == "1" else "functions")


def test_a_plan_that_moves_nothing_is_not_a_success_line(run_cli):
    # With the worker count decided too, the bundled DAG's best plan moves no function: said, not ✓.
    out = run_cli("optimize", DAG, "--workers", "auto", check=True).stdout
    assert "plan: nothing moved" in out and "worker count above" in out
    assert not re.search(r"✓ plan: 0 functions", out)


def test_report_of_a_directory_uses_its_result_file(run_cli, tmp_path):
    (tmp_path / "empty").mkdir()
    proc = run_cli("report", "empty")
    assert proc.returncode == 2 and "no ExperimentMonitor result file" in proc.stderr
    assert "no such file" not in proc.stderr
    run_cli("monitor", "--interval", "0.05", "--out", "results/r.json", "--", sys.executable, "-c",
            "import time; time.sleep(0.3)", check=True)
    (tmp_path / "results" / "plan.json").write_text("{}")  # not a result: passed over
    out = run_cli("report", "results", check=True).stdout
    assert "results/r.json" in out and "wrote" in out


def codedag_alone(tmp_path) -> str:
    """A directory holding only the codedag package (a link to the one under test): on PYTHONPATH
    it gives an interpreter codedag without the venv's torch."""
    alone = tmp_path / "codedag_alone"
    alone.mkdir(exist_ok=True)
    if not (alone / "codedag").exists():
        (alone / "codedag").symlink_to(Path(codedag.__file__).resolve().parent)
    return str(alone)


NO_TORCH = "/usr/bin/python3"  # Debian's interpreter: no torch there


def test_optimize_run_without_torch_says_how_to_get_it(run_cli, tmp_path):
    (tmp_path / "train.py").write_text("print('hi')\n")
    no_torch = NO_TORCH
    if subprocess.run([no_torch, "-c", "import torch"], capture_output=True).returncode == 0:
        pytest.skip("the system Python has torch")
    proc = run_cli("optimize-run", "train.py", "--python", no_torch, env={"PYTHONPATH": codedag_alone(tmp_path)})
    assert proc.returncode == 2, proc.stderr
    assert "optimize-run needs torch" in proc.stderr and "codedag[torch]" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cli("optimize-run", "train.py", "--python", no_torch, env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 2 and "codedag is not installed for" in proc.stderr


def test_gc_counts_runs_in_words(run_cli, tmp_path):
    test_name = record(tmp_path, "--epochs", "1")
    run_cli("rm", test_name, check=True)
    out = run_cli("gc", check=True).stdout
    assert "gc: erased 1 run" in out and "passed" not in out


def test_rerun_suggests_at_snapshot_only_with_a_snapshot(run_cli, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    test_name = record(work, "--epochs", "1", home=tmp_path / "codedag_home")
    work.rename(tmp_path / "moved")
    proc = run_cli("rerun", test_name)
    assert proc.returncode == 2 and "no longer exists" in proc.stderr
    assert "--at-snapshot" not in proc.stderr and "no code snapshot" in proc.stderr


def test_trace_says_where_its_options_go(run_cli, tmp_path):
    assert "SCRIPT.py" in run_cli("trace", "--help", check=True).stdout
    (tmp_path / "s.py").write_text("print('ran')\n")
    proc = run_cli("trace", "--out", "t", "s.py", "--batches", "1")
    assert "--batches after the script goes to the script" in proc.stderr
    assert "codedag trace --batches ... s.py" in proc.stderr
    # The script calls no function of its own: an empty DAG is written, said so with its cause, never a ✓.
    assert "nothing to optimize (0 contexts:" in proc.stdout and "✓ 0 contexts" not in proc.stdout
    assert not [line for line in proc.stderr.splitlines() if "dag.json" in line and line.startswith("✓")]


def test_registry_copies_read_only_arrays_without_torch_warning():
    from codedag.strategies.registry import as_tensor

    a = np.arange(6, dtype=np.float32)
    a.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = as_tensor(a)
    t += 1  # its own memory: the read-only array is untouched
    assert a[0] == 0 and float(t[0]) == 1


def test_make_test_summary_totals_every_suite(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "1-cpp.log").write_text("100% tests passed out of 12\n")  # CMake 4's words
    (logs / "2-Python 3.11.log").write_text("===== 1 failed, 30 passed, 2 skipped in 9.10s =====\n")
    (logs / "3-extra.log").write_text("· tracer tests under Python 3.12 (.venv-py3.12)\n===== 31 passed in 1.00s =====\n")
    proc = subprocess.run([sys.executable, REPO / "scripts" / "test_summary.py", logs, "0"], capture_output=True,
                          text=True)
    assert proc.returncode == 1
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("✗ make test: 73 passed, 1 failed, 2 skipped") and "(3 suites)" in last
    assert "tracer, Python 3.12: 31 passed" in proc.stdout
    (logs / "2-Python 3.11.log").write_text("===== 31 passed in 9.10s =====\n")
    proc = subprocess.run([sys.executable, REPO / "scripts" / "test_summary.py", logs, "0"], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1].startswith("✓ make test: 74 passed")


def test_user_text_in_errors_is_escaped(run_cli):
    proc = run_cli("ls\x1b[2J")
    assert proc.returncode == 2 and "\x1b" not in proc.stderr and "\\x1b" in proc.stderr



def test_a_torch_name_without_torch_says_how_to_get_it(tmp_path):
    no_torch = NO_TORCH
    env = dict(python_env(), PYTHONPATH=codedag_alone(tmp_path))
    probe = subprocess.run([no_torch, "-c", "import codedag"], capture_output=True, text=True, env=env)
    if probe.returncode != 0 or subprocess.run([no_torch, "-c", "import torch"], capture_output=True).returncode == 0:
        pytest.skip("no interpreter here that imports codedag but lacks torch")
    proc = subprocess.run([no_torch, "-c", "import codedag; codedag.Watcher; codedag.optimize_pipeline"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert "codedag.optimize_pipeline needs torch" in proc.stderr and "codedag[torch]" in proc.stderr
