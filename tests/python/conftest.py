"""Shared fixtures: the installed `codedag` CLI run as a subprocess, and isolated stores."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def cli_path() -> str:
    """The codedag executable under test: $CODEDAG_CLI, else the one next to this Python, else PATH."""
    if os.environ.get("CODEDAG_CLI"):
        # Absolute: run_cli runs commands from a temporary directory.
        return os.path.abspath(os.environ["CODEDAG_CLI"])
    beside = Path(sys.executable).parent / "codedag"
    if beside.exists():
        return str(beside)
    found = shutil.which("codedag")
    if not found:
        pytest.fail("the codedag CLI is not installed; run `make setup`")
    return found


def python_env(**extra: str) -> dict[str, str]:
    """Environment for a Python subprocess that must import the same codedag as these tests: the
    installed package under `make test`, the source tree (+ CODEDAG_BUILD_DIR's _core) in a dev build."""
    import codedag

    env = dict(os.environ, NO_COLOR="1", **extra)
    package_parent = str(Path(codedag.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [package_parent, env.get("PYTHONPATH", "")] if p)
    if env.get("CODEDAG_BUILD_DIR"):
        env["CODEDAG_BUILD_DIR"] = str(Path(env["CODEDAG_BUILD_DIR"]).resolve())
    return env


@pytest.fixture
def run_cli(tmp_path, monkeypatch):
    """Runs `codedag ARGS...` and returns the CompletedProcess (text mode, no colour)."""
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "codedag_home"))

    def run(*args, check=False, cwd=None, env=None, timeout=300):
        full_env = dict(os.environ, NO_COLOR="1", **(env or {}))
        proc = subprocess.run(
            [cli_path(), *map(str, args)],
            capture_output=True,
            text=True,
            cwd=cwd or tmp_path,
            env=full_env,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"codedag {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    return run


@pytest.fixture
def repo_root() -> Path:
    return REPO
