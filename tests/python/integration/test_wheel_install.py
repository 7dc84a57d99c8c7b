"""The wheel a user installs: `make wheel` builds it (incremental, through ccache), it goes into a fresh
venv with pip (numpy its only dependency, no torch, no compiler or -dev headers involved), and there
`codedag --version`, `import codedag`, a trace in Python and one with the CLI all work; without
torch, the torch features say how to get it.

$CODEDAG_WHEEL names a wheel built elsewhere (then nothing is built here)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PY_TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"
# What a manylinux wheel may need from the system: glibc's libraries, the loader and libgcc_s (the
# policy's whitelist, narrowed to what a static libstdc++ leaves).
ALLOWED_NEEDED = re.compile(
    r"^(libc|libm|libpthread|libdl|librt|libgcc_s|ld-linux-x86-64|ld-linux-aarch64)\.so\.\d+$"
)

# A few functions calling each other: the trace must see each one and the calls between them.
PIPELINE = """
def load(i):
    return list(range(i))

def transform(xs):
    return [x * 2 for x in xs]

def batch(n):
    return [transform(load(i)) for i in range(n)]

if __name__ == "__main__":
    print(len(batch(5)))
"""


def _make_env() -> dict[str, str]:
    # A nested make must not join the jobserver of a `make test` that runs this test.
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


@pytest.fixture(scope="module")
def wheel() -> Path:
    if os.environ.get("CODEDAG_WHEEL"):
        path = Path(os.environ["CODEDAG_WHEEL"]).resolve()
        assert path.is_file(), f"CODEDAG_WHEEL={path} is not a file"
        return path
    if Path(sys.prefix).resolve() != (REPO / ".venv").resolve():
        pytest.skip(
            "make wheel builds for the project's .venv Python; set CODEDAG_WHEEL to test another wheel"
        )
    proc = subprocess.run(
        ["make", "--no-print-directory", "wheel"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=_make_env(),
        timeout=1500,
    )
    assert proc.returncode == 0, f"make wheel failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    found = sorted((REPO / "dist").glob(f"codedag-*-{PY_TAG}-{PY_TAG}-manylinux_*.whl"))
    assert len(found) == 1, f"expected one {PY_TAG} manylinux wheel in dist/, found {found}"
    return found[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv (the base interpreter's, not this one's) with the wheel pip-installed."""
    root = tmp_path_factory.mktemp("wheel_venv") / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(root)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CODEDAG_BUILD_DIR", "VIRTUAL_ENV")}
    proc = subprocess.run(
        [
            str(root / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--only-binary",
            ":all:",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return root


def run_in(venv: Path, args: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    """A command as a user of that venv runs it: its bin/ first on PATH, none of this tree's settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "CODEDAG_BUILD_DIR", "CODEDAG_CLI", "CODEDAG_PYTHON", "VIRTUAL_ENV")
    }
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        NO_COLOR="1",
        CODEDAG_HOME=str(cwd / "codedag_home"),
        **extra,
    )
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def needed_libraries(elf: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "elf"
    path.write_bytes(elf)
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def test_the_wheel_carries_the_cli_the_stubs_and_no_system_library(wheel, tmp_path):
    assert f"-{PY_TAG}-{PY_TAG}-" in wheel.name, "one wheel per Python version (never abi3: see docs)"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        ext = [n for n in names if re.fullmatch(r"codedag/_core\..*\.so", n)]
        cli = [n for n in names if re.fullmatch(r"codedag-[^/]+\.data/scripts/codedag", n)]
        assert len(ext) == 1 and len(cli) == 1, names
        assert "codedag/_core.pyi" in names and "codedag/py.typed" in names
        assert "class Dag" in zf.read("codedag/_core.pyi").decode()  # nanobind's stubs of the extension
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        assert "Provides-Extra: torch" in metadata and "Requires-Dist: numpy" in metadata
        assert not re.search(r"^Requires-Dist: torch\b(?!.*extra)", metadata, re.M), (
            "torch must stay an extra"
        )
        for member in ext + cli:
            needed = needed_libraries(zf.read(member), tmp_path)
            outside = [lib for lib in needed if not ALLOWED_NEEDED.match(lib)]
            assert not outside, f"{member} needs {outside}: not compiled in (sqlite? libstdc++? httplib?)"


def test_fresh_venv_runs_the_cli_imports_and_traces(venv, tmp_path):
    version = run_in(venv, ["codedag", "--version"], tmp_path)
    assert version.returncode == 0, version.stderr
    import codedag as here  # the development install: the wheel is the same version

    assert here.__version__ in version.stdout

    (tmp_path / "pipe.py").write_text(PIPELINE)
    code = (
        "import codedag, pipe, sys; t = codedag.EnhancedTracer();\n"
        "with t.tracing_context(): pipe.batch(3)\n"
        "nodes = {n.qualname.rsplit('.', 1)[-1]: n.calls for n in t.dag.nodes}\n"
        "print(codedag.__file__); print(sorted(nodes.items())); print(len(t.dag.edges))"
    )
    traced = run_in(venv, [str(venv / "bin" / "python"), "-c", code], tmp_path)
    assert traced.returncode == 0, traced.stderr
    where, nodes, edges = traced.stdout.splitlines()[-3:]
    assert where.startswith(str(venv)), f"imported {where}, not the venv's copy"
    assert nodes == "[('batch', 1), ('load', 3), ('transform', 3)]"
    assert int(edges) >= 2

    cli = run_in(venv, ["codedag", "trace", "--out", "trace_out", "pipe.py"], tmp_path)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert str(venv / "bin" / "python") in cli.stdout  # the CLI found the interpreter it was installed with
    assert (tmp_path / "trace_out" / "dag.json").is_file()


def test_store_cli_and_panel_work_from_the_wheel(venv, tmp_path):
    # SQLite and the store are compiled in: a run recorded from Python is listed by the CLI and the panel.
    code = (
        "import codedag\nwith codedag.Experiment('wheel-check') as exp:\n    exp.dump_metric('loss', 0.5)\n"
    )
    recorded = run_in(venv, [str(venv / "bin" / "python"), "-c", code], tmp_path)
    assert recorded.returncode == 0, recorded.stderr
    listed = run_in(venv, ["codedag", "ls"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "wheel-check" in listed.stdout

    # The panel's HTTP server is the bundled cpp-httplib in the wheel (make setup links Debian's).
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CODEDAG_BUILD_DIR")}
    env.update(
        CODEDAG_HOME=str(tmp_path / "codedag_home"),
        CODEDAG_PANEL_TOKEN="wheel-test-token-0123456789",
        NO_COLOR="1",
    )
    panel = subprocess.Popen(
        [str(venv / "bin" / "codedag"), "panel", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        lines = []
        for line in panel.stdout:
            lines.append(line)
            m = re.match(r"codedag panel: (http://[^/]+)/", line.strip())
            if m:
                break
        assert m, "codedag panel printed no link:\n" + "".join(lines)
        req = urllib.request.Request(
            m.group(1) + "/api/runs", headers={"Authorization": "Bearer wheel-test-token-0123456789"}
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            body = json.loads(resp.read())
        assert "wheel-check" in json.dumps(body)
    finally:
        panel.send_signal(signal.SIGTERM)
        panel.communicate(timeout=60)
    assert panel.returncode == 0


def test_torch_features_without_torch_say_how_to_get_it(venv, tmp_path):
    probe = run_in(
        venv,
        [str(venv / "bin" / "python"), "-c", "import importlib.util as u; print(u.find_spec('torch'))"],
        tmp_path,
    )
    assert probe.stdout.strip() == "None", "the fresh venv must not have torch"
    lazy = run_in(
        venv, [str(venv / "bin" / "python"), "-c", "import codedag; codedag.optimize_pipeline"], tmp_path
    )
    assert lazy.returncode != 0
    assert "needs torch" in lazy.stderr and "pip install 'codedag[torch]'" in lazy.stderr
    (tmp_path / "train.py").write_text("print('never runs')\n")
    cli = run_in(venv, ["codedag", "optimize-run", "train.py"], tmp_path)
    assert cli.returncode != 0
    assert "Traceback" not in cli.stderr, cli.stderr
    assert "torch" in cli.stderr and "✗" in cli.stderr, cli.stderr
