"""EnhancedTracer edge cases: max_depth, exceptions, generators, recursion, threads, re-entrancy,
other profilers, Chrome trace and DAG file round trip."""

from __future__ import annotations

import cProfile
import json
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the pipelines package

import codedag  # noqa: E402
from pipelines import pure_pipeline as pp  # noqa: E402

P = "pipelines.pure_pipeline."


def names(dag):
    return sorted(n.qualname.removeprefix(P) for n in dag.nodes)


def traced(fn, *args, **kwargs):
    kwargs.setdefault("exclude", ["*.Blob.__init__"])
    tracer = codedag.EnhancedTracer(**kwargs)
    with tracer.tracing_context():
        fn(*args)
    return tracer


def test_max_depth_folds_deeper_time_into_the_recorded_ancestor():
    full = traced(pp.level1, 1).dag
    assert names(full) == ["level1", "level2", "level3"]
    cut = traced(pp.level1, 1, max_depth=2).dag
    assert names(cut) == ["level1", "level2"]
    level2 = [n for n in cut.nodes if n.qualname == P + "level2"][0]
    assert level2.cpu_ns == level2.total_ns  # level3's time is level2's own now


def test_max_depth_does_not_stop_tracing_of_later_calls():
    def run():
        pp.level1(1)  # reaches the depth limit
        return pp.read(2)  # still recorded afterwards

    dag = traced(run, max_depth=2).dag
    assert "read" in [n.qualname.removeprefix(P) for n in dag.nodes]


def test_exception_propagates_unchanged_hook_removed_partial_dag_kept():
    tracer = codedag.EnhancedTracer()
    with pytest.raises(pp.PipelineError, match="bad sample 7") as info, tracer.tracing_context():
        pp.fails(7)
    assert type(info.value) is pp.PipelineError
    assert sys.getprofile() is None and not codedag._core._trace_installed()
    dag = tracer.dag
    assert names(dag) == ["fails", "level1", "level2", "level3"]
    assert [n.calls for n in dag.nodes if n.qualname == P + "fails"] == [1]


def test_generators_count_each_resume():
    dag = traced(pp.use_generator, 3).dag
    gen = [n for n in dag.nodes if n.qualname == P + "numbers"][0]
    assert gen.calls == 4  # three yields and the final return
    consume = [n for n in dag.nodes if n.qualname == P + "consume"][0]
    edges = [(e.src, e.dst) for e in dag.edges if e.kind == codedag.EdgeKind.data]
    assert (gen.id, consume.id) in edges  # yielded values are produced by the generator


def test_recursion_builds_nested_contexts():
    dag = traced(pp.fact, 5).dag
    facts = sorted((n for n in dag.nodes if n.qualname == P + "fact"), key=lambda n: n.depth)
    assert [n.depth for n in facts] == [1, 2, 3, 4, 5]
    assert all(n.calls == 1 for n in facts)
    assert sum(n.cpu_ns for n in facts) <= facts[0].total_ns + 1


def test_threads_started_inside_are_traced():
    dag = traced(pp.threaded, 3).dag
    by = {n.qualname.removeprefix(P): n for n in dag.nodes}
    assert by["worker_task"].calls == 3
    assert by["read"].calls == 3 and by["consume"].calls == 3
    assert by["worker_task"].parent is None  # a thread's root
    assert sys.getprofile() is None and threading._profile_hook is None


def test_nested_contexts_of_one_tracer_are_one_trace():
    tracer = codedag.EnhancedTracer(exclude=["*.Blob.__init__"])
    with tracer.tracing_context():
        pp.read(1)
        with tracer.tracing_context():
            pp.read(2)
        pp.read(3)
    # three call sites -> three root contexts; the inner block neither restarted nor ended the trace
    assert [(n.calls, n.depth) for n in tracer.dag.nodes] == [(1, 1)] * 3
    assert tracer.active is False


def test_second_tracer_while_one_is_active_is_refused():
    first, second = codedag.EnhancedTracer(), codedag.EnhancedTracer()
    with first.tracing_context():
        with pytest.raises(codedag.StateError, match="already active"):
            second.start()
        pp.read(1)
    assert len(first.dag.nodes) >= 1
    with second.tracing_context():  # usable once the first stopped
        pp.read(1)
    assert len(second.dag.nodes) >= 1


def test_refuses_to_run_under_another_profiler():
    profiler = cProfile.Profile()
    tracer = codedag.EnhancedTracer()
    profiler.enable()
    try:
        with pytest.raises(codedag.StateError, match="another profiler"):
            tracer.start()
    finally:
        profiler.disable()
    assert not tracer.active


def test_dag_while_tracing_is_a_state_error():
    tracer = codedag.EnhancedTracer()
    with tracer.tracing_context(), pytest.raises(codedag.StateError):
        tracer.dag  # noqa: B018


def test_start_stop_api_and_reset():
    tracer = codedag.EnhancedTracer(exclude=["*.Blob.__init__"])
    for i in range(2):  # one call site, traced in two separate start/stop blocks: they accumulate
        tracer.start()
        pp.read(i)
        tracer.stop()
    tracer.stop()  # stopping twice is harmless
    assert [n.calls for n in tracer.dag.nodes] == [2]
    tracer.reset()
    assert len(tracer.dag.nodes) == 0


def test_chrome_trace_is_valid_and_has_the_calls(tmp_path):
    tracer = traced(pp.run, 3)
    out = tracer.save_chrome_trace(tmp_path / "trace.json")
    doc = json.loads(Path(out).read_text())
    events = doc["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    assert {e["name"] for e in complete} >= {"run", "sample", "read", "double", "pair", "merge"}
    assert sum(1 for e in complete if e["name"] == "sample") == 3
    for e in complete:
        assert e["dur"] >= 0 and e["ts"] >= 0 and isinstance(e["pid"], int) and isinstance(e["tid"], int)
    assert any(e["ph"] == "M" and e["name"] == "process_name" for e in events)


def test_dag_round_trips_through_the_file_format(tmp_path):
    tracer = traced(pp.run, 2)
    path = tracer.save(tmp_path / "dag.json")
    loaded = codedag.Dag.load(str(path))
    assert loaded.to_dict() == tracer.dag.to_dict()
    doc = json.loads(Path(path).read_text())
    assert doc["schema"] == "codedag.dag/1" and doc["meta"]["batches"] == 1
    node = doc["nodes"][0]
    for field in (
        "qualname",
        "module",
        "file",
        "line",
        "kind",
        "depth",
        "calls",
        "cpu_ns",
        "total_ns",
        "out_bytes",
        "arg_types",
        "ret_types",
        "lib_calls",
        "gpu_eligible",
    ):
        assert field in node


def test_optimizer_accepts_the_traced_dag():
    opt_cls = getattr(codedag, "OptimizerManager", None)
    if opt_cls is None:
        pytest.skip("OptimizerManager is not in this build yet")
    tracer = traced(pp.run, 2)
    res = opt_cls(k=2).optimize(tracer.dag)
    assert set(res["optimized_partitions"]) <= {n.id for n in res["coarsened_dag"].nodes}


def make_pair(i):
    return (i, i + 1)  # a tuple of numbers: no weakref support, so the tracer pins it in its ring


def use_pair(pair):
    return pair[0]


def pin_past_the_ring():
    kept = [make_pair(i) for i in range(16)]  # the oldest: evicted from the ring (4096) below, still alive
    for i in range(6000):
        make_pair(i)  # dropped: the ring alone holds them, and what it evicts dies (its address is reused)
    recent = make_pair(-1)  # still pinned when used
    use_pair(recent)
    for i in range(3000):
        use_pair((i, -i))  # built here, at addresses evicted pairs had: produced by no traced call
    for pair in kept:
        use_pair(pair)  # evicted while alive: the edge is lost, never another producer's


def test_pinned_ring_eviction_loses_edges_but_never_invents_them():
    dag = traced(pin_past_the_ring).dag
    short = {n.id: n.qualname.rsplit(".", 1)[-1] for n in dag.nodes}
    counts = {}
    for e in dag.edges:
        if e.kind == codedag.EdgeKind.data:
            counts[(short[e.src], short[e.dst])] = counts.get((short[e.src], short[e.dst]), 0) + e.count
    # Only the one pinned pair flows from make_pair; the 3000 fresh pairs (and the 16 evicted ones)
    # are attributed to the caller that built or kept them.
    assert counts.get(("make_pair", "use_pair")) == 1
    assert counts.get(("pin_past_the_ring", "use_pair"), 0) >= 3000
