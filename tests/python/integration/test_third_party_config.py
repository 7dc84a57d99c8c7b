"""cmake/third_party.cmake: where each library comes from when CMake configures the tree. A library
neither installed nor bundled stops the configure with what is missing and how to get it; a bundle
(the sdist's third_party/bundled) is used when the system package is absent."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def configure(build: Path, *defines: str) -> subprocess.CompletedProcess:
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.fail("cmake is not installed (make setup puts it in .venv)")
    return subprocess.run(
        [
            cmake,
            "-S",
            str(REPO),
            "-B",
            str(build),
            "-G",
            "Ninja",
            "-DCODEDAG_BUILD_TESTS=OFF",
            "-DCODEDAG_BUILD_PYTHON=OFF",
            *defines,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_library_neither_installed_nor_bundled_is_named_with_the_fix(tmp_path):
    proc = configure(
        tmp_path / "build",
        "-DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON",
        f"-DCODEDAG_BUNDLE_DIR={tmp_path / 'no_bundle'}",
    )
    assert proc.returncode != 0
    message = " ".join(proc.stderr.split())
    assert "nlohmann_json::nlohmann_json: neither installed (Debian: nlohmann-json3-dev" in message
    assert "make sdist" in message and str(tmp_path / "no_bundle") in message


def test_a_bundled_header_library_stands_in_for_a_missing_package(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "CLI11" / "include" / "CLI").mkdir(parents=True)
    # Any copy of the headers will do for the configure step: the system's, as make sdist takes them.
    shutil.copytree("/usr/include/CLI", bundle / "CLI11" / "include" / "CLI", dirs_exist_ok=True)
    proc = configure(
        tmp_path / "build", "-DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON", f"-DCODEDAG_BUNDLE_DIR={bundle}"
    )
    assert proc.returncode == 0, proc.stderr
    assert f"CLI11::CLI11: the bundled headers in {bundle / 'CLI11' / 'include'}" in proc.stdout
    # Everything else still comes from the system: a development build is unchanged.
    cache = (tmp_path / "build" / "CMakeCache.txt").read_text()
    assert "CODEDAG_BUNDLED_SQLITE:BOOL=OFF" in cache and "CODEDAG_BUNDLED_HTTPLIB:BOOL=OFF" in cache
