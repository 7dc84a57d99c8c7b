# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Both build on `make setup`, which is idempotent and quick when nothing changed.
SHELL := /bin/bash
# pipefail: a filtered command still fails when the command itself fails.
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUILD := build/wheel
STAMPS := .cache/stamps
# This machine's pip configuration lists a local index that lacks most packages; pip warns once per
# package. Those lines say nothing about the install, so they are dropped from the output.
QUIET_PIP := 2>&1 | { grep -v "^WARNING: Location .* is ignored" || true; }

# Everything that goes into the wheel and the C++ test binaries: a change re-runs the build.
SOURCES := CMakeLists.txt pyproject.toml $(shell find cpp python tests/cpp bench/cpp -type f \
             \( -name '*.cpp' -o -name '*.hpp' -o -name '*.in' -o -name '*.py' -o -name '*.pyi' \
                -o -name 'CMakeLists.txt' -o -name '*.json' \) 2>/dev/null)

.PHONY: setup demo test test-cpp test-python lint format bench clean

setup: $(STAMPS)/installed

$(STAMPS)/system: scripts/setup_system.sh
	@mkdir -p $(STAMPS)
	@bash scripts/setup_system.sh
	@touch $@

$(STAMPS)/venv: requirements-dev.txt $(STAMPS)/system
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "· installing Python packages into $(VENV) (torch==2.13.0, nanobind, scikit-build-core, pytest ...)"
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt $(QUIET_PIP)
	@touch $@

$(STAMPS)/installed: $(STAMPS)/venv $(SOURCES)
	@echo "· building and installing codedag (C++ engine, extension, CLI, C++ tests)"
	@$(PY) -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps \
	    -Ccmake.define.CODEDAG_BUILD_TESTS=ON -Ccmake.define.CODEDAG_BUILD_BENCH=ON \
	    -Ccmake.define.CODEDAG_STUBS=ON . $(QUIET_PIP)
	@touch $@
	@echo "✓ codedag installed in $(VENV)"

demo: setup
	@bash examples/demo.sh

test-cpp: setup
	@$(VENV)/bin/ctest --test-dir $(BUILD) --output-on-failure -j2

test-python: setup
	@PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pytest tests/python

# C++ first, then Python; pytest's summary is the closing line. Any failure exits non-zero.
test: test-cpp test-python

lint: setup
	@$(VENV)/bin/ruff check python tests bench examples
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i
	@$(VENV)/bin/ruff format python tests bench examples

bench: setup
	@PATH="$(abspath $(VENV))/bin:$$PATH" bash bench/run_all.sh

clean:
	rm -rf build .cache/stamps
