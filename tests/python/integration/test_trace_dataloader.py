"""EnhancedTracer on a real torch DataLoader: the same DAG whatever num_workers (0, 2 fork, 2 spawn,
persistent workers), and a worker killed mid-batch loses only what it had not streamed yet."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the pipelines package

import codedag  # noqa: E402
from pipelines.image_pipeline import ImageDataset  # noqa: E402

P = "pipelines.image_pipeline."


def shape(dag):
    """Contexts (qualname paths, calls) and data edges (by path, count, bytes): what must not depend
    on num_workers."""
    nodes = {n.id: n for n in dag.nodes}

    def path(n):
        return (path(nodes[n.parent]) + "/" if n.parent is not None else "") + n.qualname

    contexts = sorted((path(n), n.calls) for n in dag.nodes)
    edges = sorted(
        (path(nodes[e.src]), path(nodes[e.dst]), e.count, e.bytes)
        for e in dag.edges
        if e.kind == codedag.EdgeKind.data
    )
    return contexts, edges


def trace_first_batch(**loader_kwargs):
    tracer = codedag.EnhancedTracer()
    loader = DataLoader(ImageDataset(), batch_size=4, **loader_kwargs)
    iterator = iter(loader)
    with tracer.tracing_context():
        batch = next(iterator)
    del iterator
    return tracer, batch


@pytest.fixture(scope="module")
def single_process():
    tracer, batch = trace_first_batch(num_workers=0)
    return shape(tracer.dag), batch


def test_single_process_shape(single_process):
    (contexts, edges), batch = single_process
    names = dict(contexts)
    gi = P + "ImageDataset.__getitem__"
    assert names[gi] == 4
    for step in ("load", "Normalize.__call__", "random_crop", "to_chw"):
        assert names[f"{gi}/{P}{step}"] == 4
    assert names["torch.utils.data._utils.collate.default_collate"] == 1
    chain = [(a, b, c) for a, b, c, _ in edges]
    assert (f"{gi}/{P}load", f"{gi}/{P}Normalize.__call__", 4) in chain
    assert (f"{gi}/{P}random_crop", f"{gi}/{P}to_chw", 4) in chain
    assert (gi, "torch.utils.data._utils.collate.default_collate", 4) in chain
    collate_edge = [e for e in edges if e[1].endswith("default_collate")][0]
    assert collate_edge[3] == 4 * 3 * 16 * 16 * 4  # four float32 3x16x16 images reach collate
    assert batch[0].shape == (4, 3, 16, 16)


def test_two_forked_workers_give_the_same_dag(single_process):
    tracer, batch = trace_first_batch(num_workers=2, multiprocessing_context="fork")
    assert shape(tracer.dag) == single_process[0]
    assert tracer.dag.meta["workers"] == 2
    assert torch.equal(batch[0], single_process[1][0])


def test_two_spawned_persistent_workers_give_the_same_dag(single_process, tmp_path):
    tracer = codedag.EnhancedTracer()
    loader = DataLoader(ImageDataset(), batch_size=4, num_workers=2, multiprocessing_context="spawn",
                        persistent_workers=True)
    first_epoch = iter(loader)
    with tracer.tracing_context():
        next(first_epoch)
    assert shape(tracer.dag) == single_process[0]
    # Second epoch on the same persistent workers: batch 0 of epoch 2 is traced and merged too.
    tracer.reset()
    second_epoch = iter(loader)
    with tracer.tracing_context():
        next(second_epoch)
    assert shape(tracer.dag) == single_process[0]
    trace = tracer.save_chrome_trace(tmp_path / "trace.json")
    import json

    events = json.loads(Path(trace).read_text())["traceEvents"]
    pids = {e["pid"] for e in events if e["ph"] == "X"}
    assert os.getpid() not in pids or len(pids) > 1  # worker processes appear as their own tracks
    del first_epoch, second_epoch


def test_a_spawned_traced_worker_exits_without_a_leak_report(capfd):
    # A spawned worker ends through Python's finalisation; the fetch wrapper holding its TraceSession
    # outlived nanobind's check for live objects, and every traced spawned worker printed
    # "nanobind: leaked 1 instances ... TraceSession" into the user's terminal.
    tracer = codedag.EnhancedTracer()
    loader = DataLoader(ImageDataset(), batch_size=4, num_workers=2, multiprocessing_context="spawn")
    it = iter(loader)
    with tracer.tracing_context():
        next(it)
    assert tracer.dag.nodes, "the workers' records arrived"
    workers = list(it._workers)
    del it  # shuts the workers down and waits for them
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    err = capfd.readouterr().err
    assert "leaked" not in err, err


def test_worker_killed_mid_batch_no_hang_partial_data_kept(tmp_path, monkeypatch):
    marker = tmp_path / "slow-worker.pid"
    monkeypatch.setenv("CODEDAG_TEST_SLOW_MARKER", str(marker))
    tracer = codedag.EnhancedTracer()
    # Batch 1 (indices 4..7) goes to worker 1, which blocks inside sample 6 after finishing 4 and 5.
    loader = DataLoader(ImageDataset(slow_index=6), batch_size=4, num_workers=2, multiprocessing_context="fork",
                        timeout=60)
    iterator = iter(loader)

    def kill_when_stuck():
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(int(marker.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_when_stuck, daemon=True)
    killer.start()
    started = time.monotonic()
    with pytest.warns(RuntimeWarning, match="not finished"):
        with pytest.raises(RuntimeError, match="exited unexpectedly|killed"), tracer.tracing_context():
            next(iterator)  # batch 0, from worker 0
            next(iterator)  # batch 1: its worker is killed
        dag = tracer.dag
    assert time.monotonic() - started < 60
    assert sys.getprofile() is None
    # batch 0 complete (4 samples) + what worker 1 streamed before dying (samples 4 and 5); the DAG
    # is per batch over the 2 batches the traced block consumed (one of them partial).
    assert dag.meta["batches"] == 2
    calls = {n.qualname: n.calls * dag.meta["batches"] for n in dag.nodes}
    assert calls[P + "ImageDataset.__getitem__"] == 6
    assert calls[P + "to_chw"] == 6
    killer.join(timeout=5)


def test_throwaway_iterator_inside_the_block_keeps_the_workers_records(single_process):
    # The README's tour: the iterator is collected (its workers shut down) before stop() merges.
    tracer = codedag.EnhancedTracer()
    loader = DataLoader(ImageDataset(), batch_size=4, num_workers=2, multiprocessing_context="fork")
    with tracer.tracing_context():
        batch = next(iter(loader))
    assert shape(tracer.dag) == single_process[0]
    assert torch.equal(batch[0], single_process[1][0])
    assert tracer.diagnostics == []


def test_a_batch_past_the_workers_window_is_named_not_silently_empty():
    import gc

    # Workers trace the widest window of the tracers alive when iter() runs: a tracer of an earlier
    # test that only the cycle collector frees would widen it to its default and hide the warning.
    gc.collect()
    tracer = codedag.EnhancedTracer(worker_batches=1)
    from codedag.trace import _dataloader

    assert list(_dataloader._tracers) == [tracer], "a tracer of an earlier test is still alive (a leak?)"
    loader = DataLoader(ImageDataset(), batch_size=4, num_workers=2, multiprocessing_context="fork")
    iterator = iter(loader)
    next(iterator)  # batch 0, traced by its worker but consumed outside the block
    with pytest.warns(RuntimeWarning, match="fetched untraced.*worker_batches"), tracer.tracing_context():
        next(iterator)  # batch 1: past the window
    dag = tracer.dag
    assert dag.meta["untraced_worker_batches"] == 1
    with pytest.raises(codedag.InputError, match="0 contexts: .*worker_batches"):
        codedag.OptimizerManager(k=2, gpu_count=0).optimize(dag)
    del iterator


def test_a_failed_trace_leaves_no_dataloader_hook_behind():
    import gc

    from codedag import dataloader_hooks

    gc.collect()  # tracers of earlier tests (the state before this one's failure)
    tracer = codedag.EnhancedTracer()
    loader = DataLoader(ImageDataset(), batch_size=4, num_workers=2, multiprocessing_context="fork")
    kept = None
    try:
        with tracer.tracing_context():
            next(iter(loader))
            raise ValueError("the training step failed")
    except ValueError as exc:
        kept = exc  # its traceback keeps the tracer alive, as a notebook's last exception does
    assert kept.__traceback__ is not None
    assert not any(type(h).__name__ == "_TracerHook" for h in dataloader_hooks.hooks())
    fresh = iter(DataLoader(ImageDataset(), batch_size=4, num_workers=2, multiprocessing_context="fork"))
    assert not hasattr(fresh, "_codedag_stream")  # not armed by the failed tracer
    assert next(fresh)[0].shape == (4, 3, 16, 16)
    del fresh
    # The tracer is usable again: start() arms new iterators.
    with tracer.tracing_context():
        next(iter(loader))
    assert any(n.qualname.endswith("to_chw") for n in tracer.dag.nodes)


def test_module_calls_are_their_forward_with_edges_between_modules():
    from torch import nn

    class Scale(nn.Module):
        def forward(self, x):
            return x * 2

    class Shift(nn.Module):
        def forward(self, x):
            return x + 1

    class Steps:
        def __init__(self):
            self.steps = [Scale(), Shift(), Scale()]

        def __call__(self, x):
            x = self.steps[0](x)  # the same class from two places: two contexts
            x = self.steps[1](x)
            return self.steps[2](x)

    steps = Steps()

    def sample():
        return steps(torch.ones(4))

    tracer = codedag.EnhancedTracer()
    with tracer.tracing_context():
        sample()
    dag = tracer.dag
    names = [n.qualname.rsplit(".", 2)[-2] + "." + n.name.rsplit(".", 1)[-1] for n in dag.nodes]
    assert not [n for n in dag.nodes if "_call_impl" in n.qualname], names
    forwards = [n for n in dag.nodes if n.qualname.endswith(".forward")]
    assert len(forwards) == 3
    by_id = {n.id: n for n in dag.nodes}
    chain = sorted(
        (by_id[e.src].qualname.split(".")[-2], by_id[e.dst].qualname.split(".")[-2])
        for e in dag.edges
        if e.kind == codedag.EdgeKind.data and by_id[e.src].qualname.endswith("forward")
        and by_id[e.dst].qualname.endswith("forward")
    )
    assert chain == [("Scale", "Shift"), ("Shift", "Scale")]
    parent = {by_id[n.parent].qualname.split(".")[-1] for n in forwards}
    assert parent == {"__call__"}  # under the code that called the modules, not under Module machinery
