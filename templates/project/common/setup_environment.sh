#!/usr/bin/env bash
# {{NAME}}: set up and run the experiment (seed 001 §2's setup_environment.sh).
#   ./setup_environment.sh check          what is here: Python, venv, packages, container engine
#   ./setup_environment.sh setup          create .venv and install requirements.txt into it
#   ./setup_environment.sh run [ARGS]     run experiment.py in .venv (ARGS go to it)
#   ./setup_environment.sh build          build the container image (Dockerfile; needs docker)
# PYTHON picks the interpreter that creates the venv (default python3); VENV its directory.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"

say() { printf '· %s\n' "$*"; }
fail() { printf '✗ %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
  check)
    command -v "$PYTHON" >/dev/null || fail "no $PYTHON: install Python 3.11+ or set PYTHON=/path/to/python3"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || fail "$PYTHON is older than 3.11"
    say "python: $("$PYTHON" --version)"
    if [ -x "$VENV/bin/python" ]; then
      "$VENV/bin/python" -c 'import torch, codedag; print("· venv: torch", torch.__version__, "codedag", codedag.__version__)' \
        || fail "$VENV lacks its packages: ./setup_environment.sh setup"
    else
      say "no $VENV yet: ./setup_environment.sh setup"
    fi
    command -v docker >/dev/null && say "docker: $(docker --version)" || say "no docker (only needed for build)"
    printf '✓ check done\n'
    ;;
  setup)
    [ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
    say "installing requirements.txt into $VENV (torch is large: a few minutes the first time)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -r requirements.txt
    printf '✓ %s ready: ./setup_environment.sh run\n' "$VENV"
    ;;
  run)
    shift
    [ -x "$VENV/bin/python" ] || fail "no $VENV: ./setup_environment.sh setup first"
    exec "$VENV/bin/python" experiment.py "$@"
    ;;
  build)
    command -v docker >/dev/null || fail "docker is not installed here"
    docker build -t "{{IMAGE}}" .
    ;;
  *)
    printf 'usage: %s check|setup|run [ARGS]|build\n' "$0" >&2
    exit 2
    ;;
esac
