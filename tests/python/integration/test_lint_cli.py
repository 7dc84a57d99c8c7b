"""`codedag lint` as a user runs it: the seed 003 snippets, output formats, exit codes, fixes,
configuration, suppression comments and bad input."""

import json
import os
import re
import stat
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "lint"
CONCISE = re.compile(
    r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>CDL\d{3}) (?P<fix>\[\*\] )?(?P<msg>.+)$"
)

BAD_LOOP = """\
import torch
from torch.utils.data import DataLoader


def train(model, dataset, optimizer, criterion):
    loader = DataLoader(dataset, batch_size=32, num_workers=4)
    for i, (x, y) in enumerate(loader):
        optimizer.zero_grad(set_to_none=False)
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        print(loss.item())
"""


def lint_json(run_cli, *args, cwd=None):
    proc = run_cli("lint", "--output-format", "json", *args, cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    return proc, json.loads(proc.stdout)


def test_seed003_anti_patterns_are_reported_with_their_codes_and_good_patterns_are_clean(run_cli):
    _, findings = lint_json(run_cli, str(FIXTURES / "seed003"))
    by_file: dict[str, set[str]] = {}
    for f in findings:
        by_file.setdefault(Path(f["path"]).name, set()).add(f["code"])
    assert by_file.pop("anti_tensor_in_loop_bad.py") == {"CDL008"}
    assert by_file.pop("anti_item_every_step_bad.py") == {"CDL001"}
    assert by_file.pop("anti_graph_reference_bad.py") == {"CDL002"}
    for name in (
        "anti_tensor_in_loop_good.py",
        "anti_item_every_step_good.py",
        "anti_graph_reference_good.py",
        "cp001_lightning_module.py",
        "perf_dataloader.py",
        "perf_compile.py",
        "cp004_distributed.py",
    ):
        assert name not in by_file, f"{name}: {by_file.get(name)}"


def test_false_positive_corpus_is_clean(run_cli):
    proc, findings = lint_json(run_cli, str(FIXTURES / "false_positives"))
    assert findings == [] and proc.returncode == 0


def test_concise_output_exit_code_and_summary(run_cli, tmp_path):
    (tmp_path / "train.py").write_text(BAD_LOOP)
    proc = run_cli("lint", "train.py")
    assert proc.returncode == 1
    rows = [m.groupdict() for m in map(CONCISE.match, proc.stdout.splitlines()) if m]
    assert [(r["line"], r["code"]) for r in rows] == [("8", "CDL009"), ("12", "CDL001")]
    assert rows[0]["fix"]  # a safe fix: [*]
    assert not rows[1]["fix"]  # CDL001's fix is unsafe: not marked without --unsafe-fixes
    assert "codedag lint" in proc.stdout and "rules" in proc.stdout  # the configuration header
    assert (
        "✗ 2 finding(s) in 1 of 1 file(s); 1 fixable with --fix; 1 more with --fix --unsafe-fixes"
        in proc.stdout
    )
    assert "\x1b[" not in proc.stdout


def test_clean_file_and_empty_directory_say_so(run_cli, tmp_path):
    (tmp_path / "ok.py").write_text("import torch\n\nx = torch.zeros(3)\n")
    proc = run_cli("lint", "ok.py")
    assert proc.returncode == 0 and "✓ 1 file(s) checked with 15 rule(s): no findings" in proc.stdout
    (tmp_path / "empty").mkdir()
    proc = run_cli("lint", "empty")
    assert (
        proc.returncode == 0
        and "no Python files found" in proc.stdout
        and "nothing was checked" in proc.stdout
    )
    assert "✓" not in proc.stdout


def test_json_findings_have_the_documented_fields(run_cli, tmp_path):
    (tmp_path / "train.py").write_text(BAD_LOOP)
    _, findings = lint_json(run_cli, "train.py", cwd=tmp_path)
    first = findings[0]
    assert {
        "code",
        "path",
        "line",
        "col",
        "end_line",
        "end_col",
        "message",
        "severity",
        "fix",
        "name",
    } <= set(first)
    assert (
        first["code"] == "CDL009" and first["path"] == "train.py" and (first["line"], first["col"]) == (8, 9)
    )
    edit = first["fix"]["edits"][0]
    assert first["fix"]["applicability"] == "safe"
    assert BAD_LOOP.encode()[edit["start_byte"] : edit["end_byte"]] == b"False" and edit["content"] == "True"
    assert findings[1]["fix"]["applicability"] == "unsafe"
    proc = run_cli("lint", "--output-format", "json-lines", "train.py", cwd=tmp_path)
    assert [json.loads(line)["code"] for line in proc.stdout.splitlines()] == ["CDL009", "CDL001"]


def test_sarif_github_pylint_and_full_formats(run_cli, tmp_path):
    (tmp_path / "train.py").write_text(BAD_LOOP)
    sarif = json.loads(run_cli("lint", "--output-format", "sarif", "train.py").stdout)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= {f"CDL{i:03d}" for i in range(1, 16)}
    loc = run["results"][0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "train.py" and loc["region"]["startLine"] == 8
    github = run_cli("lint", "--output-format", "github", "train.py").stdout.splitlines()
    assert github[0].startswith("::warning title=codedag (CDL009),file=train.py,line=8,col=9,")
    pylint = run_cli("lint", "--output-format", "pylint", "train.py").stdout.splitlines()
    assert pylint[0].startswith("train.py:8: [CDL009] ")
    full = run_cli("lint", "--output-format", "full", "train.py").stdout
    assert "8 |         optimizer.zero_grad(set_to_none=False)" in full and "^" in full and "help:" in full


def test_usage_errors_exit_2(run_cli, tmp_path):
    (tmp_path / "t.py").write_text("x = 1\n")
    for args, words in [
        (("--select", "CDL099", "t.py"), "unknown rule code 'CDL099'"),
        (("--output-format", "xml", "t.py"), "not one of concise"),
        (("missing.py",), "no such file or directory"),
        (("--unsafe-fixes", "t.py"), "--unsafe-fixes needs --fix"),
        (("--with-run", "991231.001.zzz", "t.py"), "991231.001.zzz"),
    ]:
        proc = run_cli("lint", *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert words in proc.stderr, (args, proc.stderr)
    assert run_cli("lint", "--no-such-flag", "t.py").returncode == 2


def test_select_ignore_statistics_and_exit_zero(run_cli, tmp_path):
    (tmp_path / "train.py").write_text(BAD_LOOP)
    _, only = lint_json(run_cli, "--select", "CDL001", "train.py", cwd=tmp_path)
    assert [f["code"] for f in only] == ["CDL001"]
    _, rest = lint_json(run_cli, "--ignore", "CDL00", "train.py", cwd=tmp_path)
    assert rest == []
    proc = run_cli("lint", "--statistics", "train.py")
    assert re.search(r"1\s+CDL009\s+\[\*\]\s+zero-grad-set-to-none-false", proc.stdout)
    assert run_cli("lint", "--exit-zero", "train.py").returncode == 0


def test_pyproject_configuration(run_cli, tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.codedag.lint]\nignore = ["CDL009"]\nper-file-ignores = { "scripts/*" = ["CDL001"] }\n'
    )
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "train.py").write_text(BAD_LOOP)
    (tmp_path / "train.py").write_text(BAD_LOOP)
    _, findings = lint_json(run_cli, ".", cwd=tmp_path)
    assert [(f["path"], f["code"]) for f in findings] == [("train.py", "CDL001")]
    (tmp_path / "pyproject.toml").write_text("[tool.codedag.lint]\nignore = CDL009\n")
    proc = run_cli("lint", ".")
    assert proc.returncode == 2 and "pyproject.toml:2" in proc.stderr


def test_noqa_comments(run_cli, tmp_path):
    src = BAD_LOOP.replace("print(loss.item())", "print(loss.item())  # noqa: CDL001").replace(
        "set_to_none=False)", "set_to_none=False)  # codedag: ignore[CDL009]"
    )
    (tmp_path / "train.py").write_text(src)
    proc, findings = lint_json(run_cli, "train.py", cwd=tmp_path)
    assert findings == [] and proc.returncode == 0


def test_fix_writes_atomically_keeps_mode_and_is_idempotent(run_cli, tmp_path):
    path = tmp_path / "train.py"
    path.write_text(BAD_LOOP)
    path.chmod(0o755)
    proc = run_cli("lint", "--fix", "train.py")
    assert proc.returncode == 1  # CDL001 remains: its fix is unsafe
    assert "set_to_none=True" in path.read_text() and "fixed 1 finding(s) in 1 file(s)" in proc.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    proc = run_cli("lint", "--fix", "--unsafe-fixes", "train.py")
    assert proc.returncode == 0, proc.stdout
    fixed = path.read_text()
    assert "        if i % 100 == 0:\n            print(loss.item())\n" in fixed
    again = run_cli("lint", "--fix", "--unsafe-fixes", "train.py")
    assert again.returncode == 0 and path.read_text() == fixed
    assert [p.name for p in tmp_path.iterdir()] == ["train.py"]  # no temporary files left


def test_diff_prints_and_writes_nothing(run_cli, tmp_path):
    path = tmp_path / "train.py"
    path.write_text(BAD_LOOP)
    proc = run_cli("lint", "--diff", "train.py")
    assert proc.returncode == 1
    assert "--- train.py\n+++ train.py\n" in proc.stdout
    assert (
        "-        optimizer.zero_grad(set_to_none=False)\n+        optimizer.zero_grad(set_to_none=True)\n"
        in proc.stdout
    )
    assert "if i % 100" not in proc.stdout  # unsafe: only with --unsafe-fixes
    assert path.read_text() == BAD_LOOP


def test_bad_input_is_reported_and_the_rest_checked(run_cli, tmp_path):
    (tmp_path / "latin1.py").write_bytes(b"x = '\xe9'\n")
    (tmp_path / "broken.py").write_text(
        "def f(:\n    pass\n\ndef g(o):\n    o.zero_grad(set_to_none=False)\n"
    )
    (tmp_path / "huge.py").write_text("x = 1\n" * (2 * 1024 * 1024))
    os.symlink(tmp_path / "gone.py", tmp_path / "dangling.py")
    proc, findings = lint_json(run_cli, ".", cwd=tmp_path)
    got = {(f["path"], f["code"], f["line"]) for f in findings}
    assert ("latin1.py", "CDL000", 1) in got
    assert ("broken.py", "CDL000", 1) in got and ("broken.py", "CDL009", 5) in got
    assert ("huge.py", "CDL000", 1) in got
    messages = " ".join(f["message"] for f in findings)
    assert "not UTF-8" in messages and "syntax error" in messages and "MiB" in messages
    assert proc.returncode == 1


def test_terminal_output_escapes_control_characters(run_cli, tmp_path):
    name = "evil\x1b[31m.py"
    (tmp_path / name).write_text("def f(o):\n    o.zero_grad(set_to_none=False)\n")
    proc = run_cli("lint", ".")
    assert "evil\\x1b[31m.py" in proc.stdout and "\x1b" not in proc.stdout


@pytest.mark.parametrize("loader_bound", [True, False])
def test_with_run_ranks_by_measured_loader_wait(run_cli, tmp_path, loader_bound, monkeypatch):
    import time

    import codedag
    from codedag.experiments.monitoring_tools import ExperimentMonitor

    home = tmp_path / "codedag_home"
    monkeypatch.setenv("CODEDAG_HOME", str(home))
    with codedag.Experiment("lintrun", snapshot=False) as exp:
        monitor = ExperimentMonitor("lintrun", save_dir=str(tmp_path / "results"))
        monitor.start_mode("baseline", resource_interval=0.05)
        # Loader-bound: 30 ms waiting for each batch, 10 ms steps. Not: no wait, 20 ms steps, enough of
        # them that starting and stopping the mode is a small share of the time between steps.
        for _ in range(8 if loader_bound else 40):
            time.sleep(0.03 if loader_bound else 0.0)  # waiting for the next batch
            monitor.start_batch()
            time.sleep(0.01 if loader_bound else 0.02)
            monitor.end_batch()
        monitor.stop_mode()
        monitor.save_json()
        run_id = exp.test_name
    (tmp_path / "train.py").write_text(
        "from torch.utils.data import DataLoader\n\n\ndef make(ds):\n    return DataLoader(ds, batch_size=8)\n"
    )
    proc = run_cli("lint", "--output-format", "json", "--with-run", run_id, "train.py")
    findings = json.loads(proc.stdout)
    assert [f["code"] for f in findings] == ["CDL006"]
    f = findings[0]
    assert f["evidence"].startswith("measured in lintrun/" + run_id)
    if loader_bound:
        assert f["severity"] == "error" and f["ms_per_step"] > 15 and "loader-bound" in f["evidence"]
        assert proc.returncode == 1
    else:
        assert f["severity"] == "info" and f["ms_per_step"] < 5 and "not loader-bound" in f["evidence"]
        assert proc.returncode == 0
    concise = run_cli("lint", "--with-run", run_id, "train.py").stdout
    assert "ms/step)" in concise and "run: measured in" in concise
