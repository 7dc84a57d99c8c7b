"""A sample of the mutation run (tests/fuzz/mutate_formats.py): every format, mutated, through the
CLI and the Python API — no crash, no hang, no traceback. The full 20,000-input run is in the fuzz
README; this one keeps the harness itself working and catches regressions in a couple of minutes."""

import importlib.util
import json
import os

from conftest import REPO, cli_path, python_env


def test_mutated_inputs_of_every_format_are_clean_rejections(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "mutate_formats", REPO / "tests" / "fuzz" / "mutate_formats.py"
    )
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    for key, value in python_env().items():  # the worker must import the codedag under test
        monkeypatch.setenv(key, value)
    out = tmp_path / "summary.json"
    rc = harness.main(
        [
            "--inputs",
            "140",
            "--seed",
            "7",
            "--cli",
            cli_path(),
            "--json",
            str(out),
            "--keep",
            str(tmp_path / "findings"),
        ]
    )
    summary = json.loads(out.read_text())
    assert summary["inputs"] == 140 and summary["python_runs"] == 140 and summary["cli_runs"] > 140
    assert all(c["inputs"] == 20 for c in summary["per_format"].values())
    assert rc == 0, json.dumps(summary["findings"][:3], indent=1)
    assert not os.listdir(tmp_path / "findings") if (tmp_path / "findings").exists() else True
