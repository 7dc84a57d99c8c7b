"""The package's import contract: every area's names at top level, torch loaded only on demand, the
seed's import paths as aliases, and no module reaching into another package's private names."""

import ast
import importlib
import pathlib
import subprocess
import sys

from conftest import python_env

import codedag

PACKAGE = pathlib.Path(codedag.__file__).parent
AREAS = ("trace", "graph", "strategies", "migration", "monitor", "store", "pipeline")


def test_import_does_not_load_torch():
    code = "import sys, codedag; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=python_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_trace_script_entry_does_not_load_torch():
    # `codedag trace script.py` runs this module; a script without torch must not pay for it.
    code = "import sys, codedag.pipeline.trace_main; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=python_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lazy_names_resolve_and_are_listed():
    assert codedag.PipelineMigrator.__name__ == "PipelineMigrator"
    assert "verify" in dir(codedag)
    from codedag import optimize_pipeline  # noqa: F401  (the from-import path of PEP 562)

    assert callable(codedag.verify) and codedag.verify.__name__ == "verify"


def test_lazy_table_is_every_public_name_of_the_torch_areas():
    table = codedag._LAZY_NAMES
    for sub in ("migration", "pipeline"):
        module = importlib.import_module(f"codedag.{sub}")
        assert {n for n, s in table.items() if s == sub} == set(module.__all__), sub
    assert table["register_strategy"] == "strategies"
    for name, sub in table.items():
        assert getattr(codedag, name) is getattr(importlib.import_module(f"codedag.{sub}"), name)


def test_every_area_is_a_package_and_its_names_are_top_level():
    for area in AREAS:
        module = importlib.import_module(f"codedag.{area}")
        assert (PACKAGE / area / "__init__.py").is_file()
        if area not in ("strategies",):
            for name in module.__all__:
                assert getattr(codedag, name) is getattr(module, name), f"codedag.{area}.{name}"


def test_seed_alias_modules_import():
    from codedag.core.enhanced_tracer import EnhancedTracer
    from codedag.experiments.monitoring_tools import ExperimentMonitor, MetricsLogger, ResourceMonitor, Timer
    from codedag.migration.api import PipelineMigrator
    from codedag.optimizer.optimizer_manager import OptimizerManager

    assert EnhancedTracer is codedag.EnhancedTracer
    assert OptimizerManager is codedag.OptimizerManager
    assert PipelineMigrator is codedag.PipelineMigrator
    assert ExperimentMonitor is codedag.ExperimentMonitor
    assert all((Timer, ResourceMonitor, MetricsLogger))


def test_seed_alias_modules_are_one_line():
    for path in ("core/enhanced_tracer.py", "optimizer/optimizer_manager.py", "migration/api.py",
                 "experiments/monitoring_tools.py"):
        lines = [line for line in (PACKAGE / path).read_text().splitlines() if line.strip()]
        assert len(lines) == 1, path


def test_no_module_imports_another_packages_private_names():
    # Shared private modules at the top (the engine, the terminal habits) are the package's own.
    shared = {"codedag._core", "codedag._term"}
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts)
        if path.name == "__init__.py":
            module = module.rsplit(".", 1)[0]
        package = module.split(".")[1] if "." in module else ""
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = module.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if not source.startswith("codedag") or source in shared:
                continue
            source_package = source.split(".")[1] if "." in source else ""
            if source_package == package:
                continue
            private = [a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")
                       and f"{source}.{a.name}" not in shared]
            private += [p for p in source.split(".")[1:] if p.startswith("_")]
            if private:
                offences.append(f"{module}: from {source} import {', '.join(private)}")
    assert offences == []


def test_unknown_name_is_attribute_error():
    try:
        codedag.no_such_name  # noqa: B018
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("expected AttributeError")
