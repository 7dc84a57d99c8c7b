"""The tracer never silently loses the pipeline and never crashes its host: a failure inside the hook
becomes a clean exception at stop() (or a warning when the traced code raised itself), generated code
gets distinct and stable context keys, property getters and private dispatchers are not contexts,
builtins are named by the module holding them, and views count what they hold. Runs under every
supported Python (no torch needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the pipelines package

import codedag  # noqa: E402
from pipelines import pure_pipeline as pp  # noqa: E402

P = "pipelines.pure_pipeline."


def traced(fn, *args, **kwargs):
    kwargs.setdefault("exclude", ["*.Blob.__init__"])
    tracer = codedag.EnhancedTracer(**kwargs)
    with tracer.tracing_context():
        result = fn(*args)
    return tracer, result


def test_a_failure_inside_the_hook_is_a_clean_exception_at_stop():
    tracer = codedag.EnhancedTracer(exclude=["*.Blob.__init__"])
    tracer._session._fail_after_contexts(2)
    with (
        pytest.raises(codedag.StateError, match="hook failed in a call event.*injected by a test"),
        tracer.tracing_context(),
    ):
        result = pp.run(3)
    assert len(result) == 3  # the traced code itself ran to the end, untouched
    assert sys.getprofile() is None and not codedag._core._trace_installed()
    assert [n.qualname for n in tracer.dag.nodes] == [P + "run", P + "sample"]  # recorded before it failed
    assert any("injected" in d for d in tracer.diagnostics)
    assert "injected" in " ".join(tracer.dag.meta["diagnostics"])
    # Nothing is left behind: the next trace, by this tracer or another, works.
    tracer._session._fail_after_contexts(-1)
    tracer.reset()
    with tracer.tracing_context():
        pp.run(2)
    assert len(tracer.dag.nodes) == 7
    other, _ = traced(pp.run, 1)
    assert len(other.dag.nodes) == 7


def test_a_hook_failure_never_masks_the_traced_codes_exception():
    tracer = codedag.EnhancedTracer()
    tracer._session._fail_after_contexts(1)
    with (
        pytest.warns(RuntimeWarning, match="injected"),
        pytest.raises(pp.PipelineError, match="bad sample 3"),
        tracer.tracing_context(),
    ):
        pp.fails(3)
    assert not codedag._core._trace_installed()


def test_identical_generated_code_at_one_place_is_one_context():
    # Two code objects compiled from the same "<string>" source call `step` at the same offset: the
    # same function at the same place, so one context (it used to be "context key added twice").
    callers = [pp.generated_caller(pp.SAME), pp.generated_caller(pp.SAME)]
    tracer, out = traced(pp.run_generated, callers, 3)
    assert len(out) == 6
    steps = [n for n in tracer.dag.nodes if n.qualname == P + "step"]
    assert len(steps) == 1 and steps[0].calls == 6


def test_different_generated_code_gets_distinct_stable_keys():
    callers = [pp.generated_caller(pp.SAME), pp.generated_caller(pp.OTHER)]
    tracer, _ = traced(pp.run_generated, callers, 2)
    steps = sorted(n.calls for n in tracer.dag.nodes if n.qualname == P + "step")
    assert steps == [2, 2, 2]  # SAME's call, and OTHER's two calls: three places
    keys = sorted(c["key"] for c in tracer.tree.to_dict()["contexts"] if c["qualname"] == P + "step")
    # Stable: made again from fresh code objects (as a DataLoader worker would), the keys are equal.
    again, _ = traced(pp.run_generated, [pp.generated_caller(pp.SAME), pp.generated_caller(pp.OTHER)], 1)
    assert keys == sorted(c["key"] for c in again.tree.to_dict()["contexts"] if c["qualname"] == P + "step")
    assert len(set(keys)) == 3


def test_property_getters_are_not_contexts():
    tracer, total = traced(pp.use_properties, 4)
    assert total == sum(i * 2 * 4 for i in range(4))
    names = {n.qualname.removeprefix(P) for n in tracer.dag.nodes}
    assert "Frame.scaled" in names
    assert not {"Frame.area"} & names


def test_numpy_private_dispatchers_are_hidden():
    np = pytest.importorskip("numpy")

    def clip_it(x):
        return np.clip(x, 0.2, 0.8)

    def pipeline():
        return clip_it(np.linspace(0.0, 1.0, 16))

    tracer, _ = traced(pipeline)
    names = [n.qualname for n in tracer.dag.nodes]
    assert not [q for q in names if q.rsplit(".", 1)[-1].endswith("_dispatcher")], names
    clip_node = [n for n in tracer.dag.nodes if n.qualname.endswith("clip_it")][0]
    assert not [b for b in clip_node.blocked_by if b.endswith("_dispatcher")]
    assert not [c for c in clip_node.lib_calls if c.endswith("_dispatcher")]
    assert "numpy.clip" in names or "numpy.clip" in clip_node.lib_calls


def test_a_view_counts_its_base_once():
    np = pytest.importorskip("numpy")
    from numpy.lib.stride_tricks import sliding_window_view

    base = np.arange(4096, dtype=np.float64)  # 32 KiB

    def frames():
        return sliding_window_view(base, 512)  # logically 3585 x 512 x 8 = 14 MiB

    def two_views():
        return base[:2048], base[2048:]

    def consume(x):
        return x

    def pipeline():
        consume(frames())
        consume(two_views())

    tracer, _ = traced(pipeline)
    out = {n.name.rsplit(".", 1)[-1]: n.out_bytes for n in tracer.dag.nodes}
    assert out["frames"] == base.nbytes
    assert out["two_views"] == base.nbytes
    name = {n.id: n.name.rsplit(".", 1)[-1] for n in tracer.dag.nodes}
    into_consume = sorted(
        (name[e.src], e.bytes)
        for e in tracer.dag.edges
        if e.kind == codedag.EdgeKind.data and name[e.dst] == "consume"
    )
    assert into_consume == [("frames", base.nbytes), ("two_views", base.nbytes)]


def test_an_empty_trace_is_refused_by_the_optimizer_with_its_cause():
    tracer = codedag.EnhancedTracer()
    with tracer.tracing_context():
        pass
    dag = tracer.dag
    assert dag.pipeline_problem().startswith("0 contexts")
    with pytest.raises(codedag.InputError, match="0 contexts: the traced code ran outside the context"):
        codedag.OptimizerManager(k=2, gpu_count=0).optimize(dag)
