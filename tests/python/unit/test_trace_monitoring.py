"""What the tracer does the same on every supported Python (3.11's PyEval_SetProfile hook, 3.12+'s
sys.monitoring hook), and what only sys.monitoring has (the profiler tool slot).

`make test` runs this file under 3.11 and again under every 3.12/3.13 interpreter it finds."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the pipelines package

import codedag  # noqa: E402
from pipelines import pure_pipeline as pp  # noqa: E402

P = "pipelines.pure_pipeline."
MONITORING = sys.version_info >= (3, 12)


def by_name(dag):
    return {n.qualname.removeprefix(P): n for n in dag.nodes}


def test_a_call_site_stays_one_context_once_the_interpreter_specialises_it():
    # The interpreter rewrites a hot call into a specialised instruction after a few runs, and
    # reports another offset for it; the context must not split there.
    tracer = codedag.EnhancedTracer(exclude=["*.Blob.__init__"])
    with tracer.tracing_context():
        pp.churn(200)
    nodes = [n for n in tracer.dag.nodes if n.qualname == P + "consume"]
    assert len(nodes) == 1 and nodes[0].calls == 200


def test_a_generator_resumed_by_a_specialised_for_loop_is_one_context():
    tracer = codedag.EnhancedTracer(exclude=["*.Blob.__init__"])
    with tracer.tracing_context():
        pp.use_generator(50)
    gens = [n for n in tracer.dag.nodes if n.qualname == P + "numbers"]
    assert len(gens) == 1 and gens[0].calls == 51  # 50 yields and the final return


def test_builtin_methods_are_named_by_their_type():
    np = pytest.importorskip("numpy")

    def total(a):
        return a.sum()

    tracer = codedag.EnhancedTracer()
    with tracer.tracing_context():
        total(np.arange(4.0))
    names = {n.qualname for n in tracer.dag.nodes}
    assert "numpy.ndarray.sum" in names


def test_a_thread_already_running_when_tracing_starts_is_traced():
    go, done = threading.Event(), threading.Event()
    results = [None]

    def waiting_worker():
        go.wait(10)
        pp.worker_task(results, 0)
        done.set()

    thread = threading.Thread(target=waiting_worker)
    thread.start()
    tracer = codedag.EnhancedTracer(exclude=["*.Blob.__init__"])
    try:
        with tracer.tracing_context():
            go.set()
            assert done.wait(10)
    finally:
        go.set()
        thread.join(10)
    assert by_name(tracer.dag)["worker_task"].calls == 1


@pytest.mark.skipif(not MONITORING, reason="sys.monitoring is 3.12+")
def test_refuses_when_another_tool_holds_the_profiler_slot():
    mon = sys.monitoring
    mon.use_tool_id(mon.PROFILER_ID, "someone-else")
    try:
        with pytest.raises(codedag.StateError, match="someone-else"):
            codedag.EnhancedTracer().start()
    finally:
        mon.free_tool_id(mon.PROFILER_ID)
    tracer = codedag.EnhancedTracer()
    with tracer.tracing_context():  # usable once the slot is free
        pp.read(1)
    assert by_name(tracer.dag)["read"].calls == 1


@pytest.mark.skipif(not MONITORING, reason="sys.monitoring is 3.12+")
def test_stop_gives_the_profiler_slot_back_even_after_an_exception():
    mon = sys.monitoring
    tracer = codedag.EnhancedTracer()
    with pytest.raises(pp.PipelineError), tracer.tracing_context():
        assert mon.get_tool(mon.PROFILER_ID) == "codedag"
        pp.fails(1)
    assert mon.get_tool(mon.PROFILER_ID) is None
    assert mon.get_events(mon.PROFILER_ID) == 0
    assert by_name(tracer.dag)["fails"].calls == 1  # the partial DAG is kept


@pytest.mark.skipif(not MONITORING, reason="sys.monitoring is 3.12+")
def test_a_forked_child_can_trace_on_its_own():
    import os

    tracer = codedag.EnhancedTracer()
    r, w = os.pipe()
    with tracer.tracing_context():
        pid = os.fork()
        if pid == 0:  # the child: drop the inherited hook, then trace for itself
            os.close(r)
            code = 1
            try:
                codedag._core._trace_after_fork()
                child = codedag.EnhancedTracer()
                with child.tracing_context():
                    pp.read(1)
                code = 0 if by_name(child.dag)["read"].calls == 1 else 2
            finally:
                os.write(w, bytes([code]))
                os._exit(0)
        os.close(w)
        pp.read(2)
    status = os.read(r, 1)
    os.close(r)
    os.waitpid(pid, 0)
    assert status == b"\x00"
    assert by_name(tracer.dag)["read"].calls == 1
