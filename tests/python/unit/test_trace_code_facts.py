"""What the tracer learns about a code object is kept for the process (names, filter decision,
canonical call sites) so a fresh tracer per batch does not re-derive it; these tests pin that the
sharing never leaks a decision or a name into a session it does not belong to: tracers with other
rules decide afresh, a code object run under other globals is named by the module it runs in, and
what a later tracer records equals what a first one did. Runs under every supported Python."""

from __future__ import annotations

import math
import subprocess
import sys
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the pipelines package

import codedag  # noqa: E402
from pipelines import pure_pipeline as pp  # noqa: E402

P = "pipelines.pure_pipeline."


def names_of(**rules):
    rules.setdefault("exclude", ["*.Blob.__init__"])
    tracer = codedag.EnhancedTracer(**rules)
    with tracer.tracing_context():
        pp.run(2)
    return sorted(n.qualname.removeprefix(P) for n in tracer.dag.nodes)


def test_tracers_with_other_rules_never_reuse_a_decision():
    default = names_of()
    assert "double" in default and "sample" in default
    # Interleaved, so each tracer meets code objects another rule set has already judged.
    without_double = names_of(exclude=["*.Blob.__init__", "*.double"])
    assert "double" not in without_double and "sample" in without_double
    assert names_of() == default
    assert "double" not in names_of(exclude=["*.Blob.__init__", "*.double"])
    # A depth limit is applied per session, not cached with the decision.
    shallow = names_of(max_depth=1)
    assert shallow == ["run"] and names_of() == default


def test_one_code_object_under_other_globals_is_named_by_the_module_it_runs_in():
    namespace = {"__name__": "gen_mod_a"}
    source = "def produce(x):\n    return [x, x]\n"
    exec(compile(source, str(Path(__file__).with_name("generated_module.py")), "exec"), namespace)
    first = namespace["produce"]
    second = types.FunctionType(first.__code__, {"__name__": "gen_mod_b"}, "produce")

    def modules_seen(fn):
        tracer = codedag.EnhancedTracer()
        with tracer.tracing_context():
            fn(1)
        return [n.qualname for n in tracer.dag.nodes]

    assert modules_seen(first) == ["gen_mod_a.produce"]
    assert modules_seen(second) == ["gen_mod_b.produce"]
    assert modules_seen(first) == ["gen_mod_a.produce"]


def test_a_later_tracer_records_what_the_first_did():
    def tree_of():
        tracer = codedag.EnhancedTracer(exclude=["*.Blob.__init__"])
        with tracer.tracing_context():
            pp.run(3)
        contexts = tracer.tree.to_dict()["contexts"]
        return sorted((c["key"], c["calls"]) for c in contexts)

    first = tree_of()
    assert len(first) > 3
    assert tree_of() == first and tree_of() == first


def floor_of(x):
    return [math.floor(x + 0.5)]


def test_builtins_are_judged_under_each_tracers_rules():
    def names(include):
        tracer = codedag.EnhancedTracer(include=include)
        with tracer.tracing_context():
            floor_of(1.2)
        return sorted(n.qualname.rsplit(".", 1)[-1] for n in tracer.dag.nodes)

    assert names([]) == ["floor_of"]
    assert names(["math.floor"]) == ["floor", "floor_of"]
    assert names([]) == ["floor_of"]


class Table(dict):
    pass


def copies(table):
    return [table.copy()]


def test_a_builtin_bound_to_another_type_is_named_by_that_type():
    def names(table):
        tracer = codedag.EnhancedTracer(include=["*.copy"])
        with tracer.tracing_context():
            copies(table)
        return [n.qualname for n in tracer.dag.nodes if n.qualname.endswith(".copy")]

    assert names({}) == ["builtins.dict.copy"]
    # 3.11 reports the bound method (named by its instance's type); 3.12+ the descriptor (dict's).
    owner = __name__ + ".Table" if sys.version_info < (3, 12) else "builtins.dict"
    assert names(Table()) == [owner + ".copy"]
    assert names({}) == ["builtins.dict.copy"]


MID_TRACE_IMPORT = """
import sys
import codedag
assert "numpy" not in sys.modules
def make():
    import numpy as np
    return np.zeros(1000, dtype=np.uint8)
def use(a):
    return [a]
tracer = codedag.EnhancedTracer()
with tracer.tracing_context():
    use(make())
contexts = {c["qualname"]: c for c in tracer.tree.to_dict()["contexts"]}
print(contexts["__main__.make"]["ret_types"], contexts["__main__.make"]["out_bytes"])
"""


def test_a_library_imported_mid_trace_has_its_types_recognised(tmp_path):
    # The array types are looked for again only when sys.modules grows: an import inside the traced
    # block must still make its arrays known (kind and bytes). A fresh process: numpy not loaded yet.
    pytest.importorskip("numpy")
    script = tmp_path / "mid_trace_import.py"
    script.write_text(MID_TRACE_IMPORT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["['ndarray']", "1000.0"]


def test_more_functions_than_the_function_cache_holds_each_keep_their_own_context(tmp_path):
    # The hook finds a function's record through a 64-slot direct-mapped cache in front of its map;
    # 150 functions called in turn collide in every slot, and no call may land on another's record.
    count = 150
    source = "".join(f"def f{i}(x):\n    return [x, {i}]\n\n" for i in range(count))
    path = tmp_path / "many_functions.py"
    path.write_text(source)
    namespace = {"__name__": "many_functions"}
    exec(compile(source, str(path), "exec"), namespace)
    functions = [namespace[f"f{i}"] for i in range(count)]

    tracer = codedag.EnhancedTracer()
    with tracer.tracing_context():
        for _ in range(3):
            for f in functions:
                f(1)
    calls = {n.qualname: n.calls for n in tracer.dag.nodes if n.qualname.startswith("many_functions.")}
    assert calls == {f"many_functions.f{i}": 3 for i in range(count)}
