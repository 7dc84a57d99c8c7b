"""codedag.libraries: the one decision "library code or the user's", from real installed
distributions (importlib.metadata reading real .dist-info folders), wherever they were installed,
plus the user's [tool.codedag] overrides."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import python_env

import codedag
from codedag import libraries


def install_by_hand(target: Path, name: str, version: str = "1.0", editable: bool = False) -> None:
    """What `pip install --target TARGET` leaves: the package and its .dist-info (METADATA, RECORD,
    INSTALLER; direct_url.json for an editable install)."""
    package = target / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("def work(x):\n    return x + 1\n")
    info = target / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "INSTALLER").write_text("pip\n")
    files = [f"{name}/__init__.py", f"{info.name}/METADATA", f"{info.name}/INSTALLER", f"{info.name}/RECORD"]
    if editable:
        (info / "direct_url.json").write_text(json.dumps({"url": "file:///src", "dir_info": {"editable": True}}))
        files.append(f"{info.name}/direct_url.json")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))


def decide_in(tmp_path: Path, script: str, pythonpath: list[Path] = (), cwd: Path | None = None) -> dict:
    """Runs `script` (which prints JSON) as a file in tmp_path, in a fresh interpreter."""
    path = tmp_path / "probe.py"
    path.write_text(textwrap.dedent(script))
    env = python_env()
    env["PYTHONPATH"] = ":".join([*map(str, pythonpath), env["PYTHONPATH"]])
    proc = subprocess.run([sys.executable, str(path)], env=env, cwd=cwd or tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


PROBE = """
import json, sys
from codedag import libraries
names = sys.argv[1:] or {names!r}
for name in names:
    __import__(name)
print(json.dumps({{n: list(libraries.decide(n)[:2]) for n in names}}))
"""


def test_installed_standard_and_user_modules():
    import cv2  # noqa: F401
    import numpy  # noqa: F401

    libraries.reset()
    assert libraries.decide("numpy.core.fromnumeric")[:2] == (True, "numpy")
    assert libraries.decide("cv2")[:2] == (True, "opencv-python-headless")  # import name != project name
    assert libraries.decide("json")[:2] == (True, "stdlib")
    assert libraries.decide("builtins")[:2] == (True, "stdlib")
    assert libraries.decide("torch.utils.data._utils.collate")[:2] == (True, "torch")
    assert libraries.decide("test_libraries")[:2] == (False, None)  # this test module: the user's
    assert libraries.decide("__main__").library is False
    assert libraries.decide("not_installed_anywhere_xyz").library is False
    assert libraries.is_library("numpy") and not libraries.is_library("test_libraries")


def test_pip_target_directory_on_the_path_is_library_code(tmp_path):
    target = tmp_path / "target"
    install_by_hand(target, "fancyaug")
    got = decide_in(tmp_path, PROBE.format(names=["fancyaug"]), pythonpath=[target])
    assert got == {"fancyaug": [True, "fancyaug"]}


def test_an_editable_install_is_the_users_own_project(tmp_path):
    target = tmp_path / "target"
    install_by_hand(target, "myproject", editable=True)
    got = decide_in(tmp_path, PROBE.format(names=["myproject"]), pythonpath=[target])
    assert got == {"myproject": [False, "myproject"]}


def test_a_users_file_shadowing_an_installed_name_is_the_users(tmp_path):
    target = tmp_path / "target"
    install_by_hand(target, "fancyaug")
    own = tmp_path / "own"
    (own / "fancyaug").mkdir(parents=True)
    (own / "fancyaug" / "__init__.py").write_text("")
    got = decide_in(tmp_path, PROBE.format(names=["fancyaug"]), pythonpath=[own, target])
    assert got == {"fancyaug": [False, None]}
    # And one named like a standard module.
    (own / "colorsys.py").write_text("")
    got = decide_in(tmp_path, PROBE.format(names=["colorsys"]), pythonpath=[own])
    assert got == {"colorsys": [False, None]}


def test_pyproject_overrides_win_and_the_longest_name_decides(tmp_path):
    target = tmp_path / "target"
    install_by_hand(target, "fancyaug")
    for name in ("mypkg", "mypkg/inner"):
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""
        [project]
        name = "demo"
        [tool.codedag]
        library = ["mypkg"]
        user = ["fancyaug", "mypkg.inner"]
    """))
    got = decide_in(tmp_path, PROBE.format(names=["mypkg", "mypkg.inner", "fancyaug", "json"]),
                    pythonpath=[tmp_path, target])
    assert got == {"mypkg": [True, None], "mypkg.inner": [False, None], "fancyaug": [False, None],
                   "json": [True, "stdlib"]}


@pytest.mark.parametrize(
    "table, match",
    [
        ('[tool.codedag]\nlibrary = "mypkg"\n', "library must be a list of module names"),
        ('[tool.codedag]\nuser = ["ok", "not a name"]\n', "user must be a list of module names"),
        ('[tool.codedag]\nlibrary = ["a"]\nuser = ["a"]\n', "in both library and user"),
        ("[tool.codedag\n", "not valid TOML"),
        ("[tool]\ncodedag = 3\n", r"\[tool.codedag\] must be a table"),
    ],
)
def test_bad_overrides_name_the_file_and_the_key(tmp_path, table, match):
    path = tmp_path / "pyproject.toml"
    path.write_text(table)
    with pytest.raises(codedag.FormatError, match=match) as info:
        libraries.read_overrides(str(path))
    assert str(path) in str(info.value)


def test_a_traced_dag_carries_the_decision_on_every_node(tmp_path):
    got = decide_in(tmp_path, """
        import json
        import numpy as np
        import codedag

        def user_step(x):
            return np.linspace(0.0, 1.0, 4) + np.sqrt(x)  # a Python-level numpy function and a ufunc

        tracer = codedag.EnhancedTracer(max_depth=5)
        with tracer.tracing_context():
            user_step(np.arange(4.0))
        print(json.dumps({n.qualname: [n.library, n.distribution] for n in tracer.dag.nodes}))
    """)
    assert got["__main__.user_step"] == [False, None]
    numpy_nodes = {q: v for q, v in got.items() if q.startswith("numpy")}
    assert numpy_nodes and all(v[0] is True for v in numpy_nodes.values()), got
    assert any(v == [True, "numpy"] for v in numpy_nodes.values()), got  # linspace: module numpy._core...


def test_reset_forgets(monkeypatch, tmp_path):
    libraries.reset()
    first = libraries.decide("json")
    assert libraries.decide("json") is first  # cached
    libraries.reset()
    assert libraries.decide("json") == first
