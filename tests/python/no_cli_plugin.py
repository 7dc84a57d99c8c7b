"""pytest plugin for the tracer runs under the extra Pythons (`make test-python-extra`): deselects the
tests that run the `codedag` CLI (those using the `run_cli` fixture, or in a `*_cli*` module), which
`make test` covers under 3.11. Loaded with `-p no_cli_plugin` and tests/python on PYTHONPATH."""

from __future__ import annotations

import pytest


def _runs_cli(item: pytest.Item) -> bool:
    module = getattr(item, "module", None)
    module_name = getattr(module, "__name__", "").rsplit(".", 1)[-1]
    return "run_cli" in getattr(item, "fixturenames", ()) or "_cli" in module_name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    deselected = [item for item in items if _runs_cli(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not _runs_cli(item)]
