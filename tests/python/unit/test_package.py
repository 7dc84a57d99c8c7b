"""The package's import contract: every area's names at top level, torch loaded only on demand."""

import subprocess
import sys

from conftest import python_env

import codedag


def test_import_does_not_load_torch():
    code = "import sys, codedag; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=python_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lazy_names_resolve_and_are_listed():
    assert codedag.PipelineMigrator.__name__ == "PipelineMigrator"
    assert "verify" in dir(codedag)
    from codedag import optimize_pipeline  # noqa: F401  (the from-import path of PEP 562)


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


def test_unknown_name_is_attribute_error():
    try:
        codedag.no_such_name  # noqa: B018
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("expected AttributeError")
