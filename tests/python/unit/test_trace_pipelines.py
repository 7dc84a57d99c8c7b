"""EnhancedTracer on pure-Python pipelines of known shape: exact contexts, counts and data edges."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the pipelines package

import codedag  # noqa: E402
from pipelines import pure_pipeline as pp  # noqa: E402

P = "pipelines.pure_pipeline."


def trace(fn, *args, **kwargs):
    # Blob.__init__ is a real context (user code); folded here so the shapes below stay small.
    kwargs.setdefault("exclude", ["*.Blob.__init__"])
    tracer = codedag.EnhancedTracer(**kwargs)
    with tracer.tracing_context():
        result = fn(*args)
    return tracer, tracer.dag, result


def by_name(dag):
    """{qualname path: node} where the path is parent names joined by '/' (contexts are per place)."""
    nodes = {n.id: n for n in dag.nodes}

    def path(n):
        return (path(nodes[n.parent]) + "/" if n.parent is not None else "") + n.qualname.removeprefix(P)

    return {path(n): n for n in dag.nodes}


def data_edges(dag):
    nodes = {n.id: n for n in dag.nodes}

    def path(n):
        return (path(nodes[n.parent]) + "/" if n.parent is not None else "") + n.qualname.removeprefix(P)

    names = {n.id: path(n) for n in dag.nodes}
    return {(names[e.src], names[e.dst]): e.count for e in dag.edges if e.kind == codedag.EdgeKind.data}


def test_known_shape_contexts_counts_and_edges():
    _, dag, _ = trace(pp.run, 5)
    nodes = by_name(dag)
    # Two call sites of `double` in `sample` are two contexts; the 5 samples aggregate.
    assert set(nodes) == {
        "run",
        "run/sample",
        "run/sample/read",
        "run/sample/double",
        "run/sample/pair",
        "run/sample/merge",
    }
    assert len(dag.nodes) == 7  # the two `double` call sites share a path name but are two nodes
    doubles = [n for n in dag.nodes if n.qualname == P + "double"]
    assert len(doubles) == 2 and all(n.calls == 5 for n in doubles)
    assert nodes["run"].calls == 1 and nodes["run/sample"].calls == 5
    assert nodes["run/sample/read"].calls == 5 and nodes["run/sample/merge"].calls == 5
    assert nodes["run/sample"].depth == 2 and nodes["run/sample/read"].depth == 3
    first, second = sorted(doubles, key=lambda n: n.id)
    ids = {n.id: n for n in dag.nodes}
    edges = {
        (ids[e.src].qualname, e.src, ids[e.dst].qualname, e.dst): e.count
        for e in dag.edges
        if e.kind == codedag.EdgeKind.data
    }
    expected = {
        (P + "read", nodes["run/sample/read"].id, P + "double", first.id): 5,
        (P + "double", first.id, P + "pair", nodes["run/sample/pair"].id): 5,
        # merge receives the tuple pair returned (one level in: the tuple itself is the producer's)
        (P + "pair", nodes["run/sample/pair"].id, P + "merge", nodes["run/sample/merge"].id): 5,
        (P + "merge", nodes["run/sample/merge"].id, P + "double", second.id): 5,
    }
    assert edges == expected
    # call edges: parent -> child with the child's call count
    calls = {(e.src, e.dst): e.count for e in dag.edges if e.kind == codedag.EdgeKind.call}
    assert calls[(nodes["run"].id, nodes["run/sample"].id)] == 5
    assert len(calls) == len(dag.nodes) - 1


def test_times_are_consistent():
    _, dag, _ = trace(pp.run, 20)
    nodes = {n.id: n for n in dag.nodes}
    for n in dag.nodes:
        assert 0 <= n.cpu_ns <= n.total_ns
        kids = [c for c in dag.nodes if c.parent == n.id]
        assert sum(c.total_ns for c in kids) <= n.total_ns + 1
    assert all(n.kind == "python" for n in nodes.values())
    assert nodes[1].file.endswith("pure_pipeline.py") and nodes[1].line > 0
    assert nodes[1].module == "pipelines.pure_pipeline"


def test_id_reuse_makes_no_false_edges():
    gc.collect()
    _, dag, total = trace(pp.churn, 1000)
    assert total == sum(range(1000))
    nodes = by_name(dag)
    assert nodes["churn/make_temp"].calls == 1000 and nodes["churn/consume"].calls == 1000
    edges = data_edges(dag)
    # consume's Blob was built by churn itself (attributed to the caller), never by make_temp.
    assert ("churn/make_temp", "churn/consume") not in edges
    assert edges == {("churn", "churn/consume"): 1000}


def test_closure_cell_arguments_are_read():
    def run():
        return pp.closure_user(pp.read(1))

    _, dag, _ = trace(run)
    edges = data_edges(dag)
    key = [k for k in edges if k[0].endswith("read") and k[1].endswith("closure_user")]
    assert key and edges[key[0]] == 1


def test_feedback_loop_self_edges_are_dropped_and_dag_loads():
    _, dag, _ = trace(pp.feedback, pp.Blob([1]), 4)
    nodes = by_name(dag)
    assert nodes["feedback/double"].calls == 4
    assert dag.meta["dropped_data_edges"] >= 1
    dag.validate()


def test_return_types_and_bytes_with_track_memory():
    _, dag, _ = trace(pp.run, 2)
    nodes = by_name(dag)
    assert nodes["run/sample/pair"].ret_types == ["tuple", "other"]
    assert nodes["run/sample/read"].arg_types == ["int"]
    assert nodes["run/sample/read"].gpu_eligible is False
    assert nodes["run/sample/read"].blocked_by  # says why


def test_returned_bytes_of_arrays_bytes_and_pil_images():
    np = pytest.importorskip("numpy")
    Image = pytest.importorskip("PIL.Image")

    def make_array():
        return np.zeros((8, 16), dtype=np.float32)

    def make_bytes():
        return b"x" * 100

    def make_image():
        return Image.new("RGB", (40, 30))

    def make_gray():
        return Image.new("L", (40, 30))

    def pipeline():
        return make_array(), make_bytes(), make_image(), make_gray()

    tracer = codedag.EnhancedTracer(track_memory=True)
    with tracer.tracing_context():
        pipeline()
    out = {n.name.rsplit(".", 1)[-1]: n.out_bytes for n in tracer.dag.nodes}
    assert out["make_array"] == 8 * 16 * 4
    assert out["make_bytes"] == 100
    assert out["make_image"] == 40 * 30 * 3
    assert out["make_gray"] == 40 * 30
    untracked = codedag.EnhancedTracer(track_memory=False)
    with untracked.tracing_context():
        pipeline()
    assert all(n.out_bytes == 0 for n in untracked.dag.nodes)


def test_tracing_does_not_keep_produced_samples_alive():
    # A sample tuple (image, label) is followed through its image, not pinned: pinning it would keep
    # every image of the trace alive until the tracer stops.
    import weakref

    class Image:
        pass

    def load(i):
        return Image(), i

    def consume(sample):
        return sample[1]

    def run(n):
        refs = []
        for i in range(n):
            sample = load(i)
            consume(sample)
            refs.append(weakref.ref(sample[0]))
        return refs

    tracer = codedag.EnhancedTracer()
    with tracer.tracing_context():
        refs = run(50)
        alive_while_tracing = sum(r() is not None for r in refs)
    assert alive_while_tracing == 0
    names = {n.id: n.name.rsplit(".", 1)[-1] for n in tracer.dag.nodes}
    edges = {
        (names[e.src], names[e.dst]): e.count for e in tracer.dag.edges if e.kind == codedag.EdgeKind.data
    }
    assert edges[("load", "consume")] == 50  # the tuple is still followed, once per call


def test_include_and_exclude_patterns():
    _, dag, _ = trace(pp.run, 2, exclude=["*pure_pipeline.pair", "*.Blob.__init__"])
    assert not [n for n in dag.nodes if n.qualname.endswith(".pair")]
    # merge still receives pair's tuple: produced by no traced call -> attributed to sample
    edges = data_edges(dag)
    assert ("run/sample", "run/sample/merge") in edges
    _, dag2, _ = trace(pp.run, 1, include=["*pure_pipeline.run"], exclude=["*.read", "*.sample"])
    assert [n.qualname for n in dag2.nodes if n.depth == 1] == [P + "run"]


def test_bad_max_depth_is_an_input_error():
    with pytest.raises(codedag.InputError, match="max_depth"):
        codedag.EnhancedTracer(max_depth=0)


def test_seed_alias_module():
    from codedag.core.enhanced_tracer import EnhancedTracer

    assert EnhancedTracer is codedag.EnhancedTracer
    tracer = EnhancedTracer(max_depth=3)
    with tracer.tracing_context():
        pp.run(1)
    assert tracer.dag_builder.dag.to_dict() == tracer.dag.to_dict()
