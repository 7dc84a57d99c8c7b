"""Data edges through views of views. numpy collapses a view's `.base` to the array owning the
memory, so a row of a reshape of a loaded buffer names the buffer, not the view a traced call
returned; the tracer finds that view by the memory range it spans (the newest produced view holding
the memory), and never invents an edge for memory no traced call produced."""

from __future__ import annotations

import numpy as np

import codedag

WINDOW = 16
RAW = np.arange(4 * 8 * WINDOW, dtype=np.float32).tobytes()


def load_shard():
    # np.load's way: a flat array over a buffer (made by a builtin, produced by no traced call),
    # reshaped: what this returns is a view whose base is that flat array.
    return np.frombuffer(RAW, dtype=np.float32).reshape(4, 8 * WINDOW)


def split_windows(recording):
    return recording[: len(recording) // WINDOW * WINDOW].reshape(-1, WINDOW)


def window_features(window):
    return float(window.sum())


def stream():
    total = 0.0
    for recording in load_shard():
        for window in split_windows(recording):
            total += window_features(window)
    return total


def fresh_views():
    # Made here by builtins (views of a buffer): no traced call produced this memory.
    data = np.frombuffer(bytes(4 * WINDOW * 4), dtype=np.float32).reshape(4, WINDOW)
    return sum(window_features(row[1:]) for row in data)


def edges_by_name(dag) -> set[tuple[str, str]]:
    name = {n.id: n.qualname.rsplit(".", 1)[-1] for n in dag.nodes}
    return {(name[e.src], name[e.dst]) for e in dag.edges if e.kind == codedag.EdgeKind.data}


def test_rows_of_produced_views_flow_from_the_view_that_holds_them():
    tracer = codedag.EnhancedTracer(max_depth=5)
    with tracer.tracing_context():
        assert stream() > 0
    edges = edges_by_name(tracer.dag)
    assert ("load_shard", "split_windows") in edges, edges
    assert ("split_windows", "window_features") in edges, edges
    # Not attributed to the loop that cut the rows: their memory is the producers' output.
    assert ("stream", "window_features") not in edges, edges
    assert ("stream", "split_windows") not in edges, edges


def test_views_of_memory_no_traced_call_produced_come_from_their_caller():
    tracer = codedag.EnhancedTracer(max_depth=5)
    with tracer.tracing_context():
        fresh_views()
    edges = edges_by_name(tracer.dag)
    assert ("fresh_views", "window_features") in edges, edges
    assert edges == {("fresh_views", "window_features")}, edges
