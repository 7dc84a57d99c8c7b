"""Which library calls are pipeline steps, and what warm-up does to the DAG.

- A library callable object (`__call__`/`forward`) is a step when user code or a recorded step (a
  transform container such as Compose) calls it directly; callable objects called anywhere deeper
  inside a library (numba's type metaclasses, llvmlite's wrappers on a first call) are internals.
- Warm-up is not the pipeline: an import running inside the traced block (a lazy import) records no
  context and its time is taken out of its callers.
- Testing tools (pytest's pluggy hooks) that run inside a traced block are not nodes.

The library is a real package installed the `pip install --target` way (a dist-info with a RECORD)
on sys.path, so the one library decision judges it."""

from __future__ import annotations

import importlib
import sys
import time

import numpy as np
import pytest

import codedag
from codedag import libraries

PACKAGE = "cdg_steps_dep"
SLOW_IMPORT_S = 0.4

LIBRARY = f'''
import importlib
import numpy as np


class _Kernel:  # an internal callable object (think numba's _TypeMetaclass)
    def __call__(self, x):
        return x * 2.0


def _apply(x):
    return _Kernel()(x)


class Compose:
    def __init__(self, steps):
        self.steps = steps

    def __call__(self, x):
        for step in self.steps:
            x = step(x)
        return x


class Scale:
    def __call__(self, x):
        return _apply(x) + 1.0  # its internals call _Kernel: not a step


class Offset:
    def __call__(self, x):
        return [v for v in (x,)][0] - 1.0


def heavy(x):
    # A library function (not a step) calling a callable object directly: internals.
    return _Kernel()(np.sqrt(x))


def lazy(x):
    # A lazy import on first use (lazy_loader's way): the module body is warm-up.
    slow = importlib.import_module("{PACKAGE}._slow")
    return slow.finish(x)
'''

SLOW = f'''
import time
import numpy as np
from {PACKAGE} import Scale

time.sleep({SLOW_IMPORT_S})
_TABLE = Scale()(np.ones(4))  # module-level work while importing


def finish(x):
    return x + _TABLE.sum()
'''


@pytest.fixture()
def dep(tmp_path, monkeypatch):
    pkg = tmp_path / PACKAGE
    pkg.mkdir()
    (pkg / "__init__.py").write_text(LIBRARY)
    (pkg / "_slow.py").write_text(SLOW)
    info = tmp_path / f"{PACKAGE}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: 1.0\n")
    (info / "RECORD").write_text(f"{PACKAGE}/__init__.py,,\n{PACKAGE}/_slow.py,,\n{info.name}/RECORD,,\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    libraries.reset()
    try:
        module = importlib.import_module(PACKAGE)
        assert libraries.decide(PACKAGE)[:2] == (True, PACKAGE)
        yield module
    finally:
        for name in (PACKAGE, f"{PACKAGE}._slow"):
            sys.modules.pop(name, None)
        libraries.reset()


def names(dag) -> list[str]:
    return sorted(n.qualname for n in dag.nodes)


def node(dag, suffix: str):
    (found,) = [n for n in dag.nodes if n.qualname.endswith("." + suffix)]
    return found


def test_compose_steps_are_contexts_but_callables_deep_in_a_library_are_not(dep):
    pipeline = dep.Compose([dep.Scale(), dep.Offset()])

    def run(x):
        return dep.heavy(pipeline(x))

    tracer = codedag.EnhancedTracer(max_depth=10)
    with tracer.tracing_context():
        run(np.ones(8))
    got = names(tracer.dag)
    for step in ("Compose.__call__", "Scale.__call__", "Offset.__call__", "heavy"):
        assert any(q.endswith(step) for q in got), got
    # _Kernel.__call__ runs three times (under Scale's internals and under heavy), never as a step.
    assert not any("_Kernel" in q for q in got), got
    edges = {(e.src, e.dst) for e in tracer.dag.edges if e.kind == codedag.EdgeKind.data}
    assert (node(tracer.dag, "Scale.__call__").id, node(tracer.dag, "Offset.__call__").id) in edges, edges


def test_a_lazy_import_inside_the_trace_is_warm_up(dep):
    def step(x):
        return dep.lazy(x * 2.0)

    tracer = codedag.EnhancedTracer(max_depth=10)
    started = time.perf_counter()
    with tracer.tracing_context():
        out = step(np.ones(8))
    wall = time.perf_counter() - started
    assert wall >= SLOW_IMPORT_S and out[0] == 2.0 + 12.0
    dag = tracer.dag
    got = names(dag)
    # The module body ran Scale()(...) while importing: not a context, not a library call.
    assert not any("Scale" in q or "_slow" in q for q in got), got
    assert not any("Scale" in c for n in dag.nodes for c in n.lib_calls), [n.lib_calls for n in dag.nodes]
    # The import's time is not charged to the callers: they are measured in milliseconds.
    for caller in ("step", "lazy"):
        assert node(dag, caller).total_ns < SLOW_IMPORT_S * 1e9 / 2, (caller, node(dag, caller).total_ns)
    # Once imported, the same call is ordinary work: traced again, nothing is discounted.
    tracer2 = codedag.EnhancedTracer(max_depth=10)
    with tracer2.tracing_context():
        step(np.ones(8))
    assert {n.qualname for n in tracer2.dag.nodes} == set(got)


def test_pytest_hooks_called_inside_the_trace_are_not_nodes():
    pluggy = pytest.importorskip("pluggy")
    spec = pluggy.HookspecMarker("cdgtest")
    impl = pluggy.HookimplMarker("cdgtest")

    class Spec:
        @spec
        def cdg_seen(self, value): ...

    class Plugin:
        @impl
        def cdg_seen(self, value):
            return value

    manager = pluggy.PluginManager("cdgtest")
    manager.add_hookspecs(Spec)
    manager.register(Plugin())

    def step(x):
        manager.hook.cdg_seen(value=x)  # what pytest's own hooks do inside a test's traced block
        return np.sqrt(x)

    tracer = codedag.EnhancedTracer(max_depth=10)
    with tracer.tracing_context():
        step(np.ones(4))
    got = names(tracer.dag)
    assert any(q.endswith("step") for q in got), got
    assert not any("pluggy" in q for q in got), got
    assert not any("pluggy" in c for n in tracer.dag.nodes for c in n.lib_calls)
