#!/usr/bin/env bash
# Finds the CPython interpreters besides the main venv's 3.11 that the tracer is built and tested
# under (3.12 and 3.13: the hook reads each version's frame layout, see pyproject.toml).
#
#   find_extra_pythons.sh            one line per interpreter found: "X.Y /absolute/path/to/python"
#   find_extra_pythons.sh --report   the same as sentences: "· python3.12: PATH (3.12.1)", and
#                                    "· python3.13 not found — its tracer tests are skipped"
#
# Where each version is looked for, first hit wins:
#   1. $CODEDAG_EXTRA_PYTHONS="path path ..." when the variable is set (set but empty: none at all);
#   2. otherwise pythonX.Y on PATH (a pyenv shim for a version that is not selected fails and is
#      passed over), then /root/.pyenv/versions/X.Y.*/bin/pythonX.Y, then $(pyenv root)'s (newest
#      patch release first).
# A missing interpreter is never an error: this script always exits 0.
set -uo pipefail

WANTED=(3.12 3.13)
report=0
[ "${1:-}" = "--report" ] && report=1

# Prints "X.Y BASE_EXECUTABLE" for a CPython that can make a venv; nothing (and fails) otherwise.
# The base executable, not the venv's, so that an activated venv on PATH is followed to its root.
probe() {
  "$1" - <<'EOF' 2>/dev/null
import sys
if sys.implementation.name != "cpython":
    raise SystemExit(1)
import ensurepip, venv  # noqa: F401  (Debian splits these off into pythonX.Y-venv)
print(f"{sys.version_info[0]}.{sys.version_info[1]} {getattr(sys, '_base_executable', sys.executable)}")
EOF
}

declare -A found=()    # X.Y -> path
declare -A detail=()   # X.Y -> full version
notes=()

consider() {  # consider PATH [WHERE]: keep it if it is a wanted version not found yet
  local line version path
  line=$(probe "$1") || { [ -n "${2:-}" ] && notes+=("· $1 ($2) does not run or lacks venv/ensurepip — skipped"); return; }
  version=${line%% *}
  path=${line#* }
  if [[ " ${WANTED[*]} " != *" $version "* ]]; then
    [ -n "${2:-}" ] && notes+=("· $1 ($2) is Python $version, not one of ${WANTED[*]} — skipped")
    return
  fi
  [ -n "${found[$version]:-}" ] && return
  found[$version]=$path
  detail[$version]=$("$path" -c 'import platform; print(platform.python_version())' 2>/dev/null)
}

if [ "${CODEDAG_EXTRA_PYTHONS+set}" = set ]; then
  for candidate in $CODEDAG_EXTRA_PYTHONS; do
    consider "$candidate" "from CODEDAG_EXTRA_PYTHONS"
  done
  where=" (none given in CODEDAG_EXTRA_PYTHONS)"
else
  roots=(/root/.pyenv)
  if command -v pyenv >/dev/null 2>&1; then
    root=$(pyenv root 2>/dev/null) && [ -n "$root" ] && [ "$root" != /root/.pyenv ] && roots+=("$root")
  fi
  for version in "${WANTED[@]}"; do
    if command -v "python$version" >/dev/null 2>&1; then
      consider "$(command -v "python$version")"
    fi
    for root in "${roots[@]}"; do
      [ -n "${found[$version]:-}" ] && break
      # Newest patch release first: 3.12.10 before 3.12.9.
      while read -r candidate; do
        [ -n "$candidate" ] && consider "$candidate"
        [ -n "${found[$version]:-}" ] && break
      done < <(ls -d "$root"/versions/"$version".*/bin/python"$version" 2>/dev/null | sort -rV)
    done
  done
  where=""
fi

for version in "${WANTED[@]}"; do
  if [ -n "${found[$version]:-}" ]; then
    if [ $report -eq 1 ]; then
      echo "· python$version: ${found[$version]} (${detail[$version]:-?}): its tracer tests run after the 3.11 ones"
    else
      echo "$version ${found[$version]}"
    fi
  elif [ $report -eq 1 ]; then
    echo "· python$version not found — its tracer tests are skipped$where"
  fi
done
if [ $report -eq 1 ]; then
  for note in "${notes[@]}"; do echo "$note"; done
fi
exit 0
