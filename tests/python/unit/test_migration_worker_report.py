"""Fallbacks in DataLoader workers are counted where the main process sees them, with their cause;
a deferred value the dataset reads before returning it collates; with num_workers=0 a batch:cpu
plan runs batched even when it says "inline"."""

import warnings

import loop_targets as lt
import pytest
import torch
from torch.utils.data import DataLoader

from codedag.migration import PipelineMigrator

M = "loop_targets"


def plan(*names, mode="batched"):
    keys = [f"{M}.{n}" for n in names]
    return {"schema": "codedag.plan/1", "context_device_map": {k: "batch:cpu" for k in keys},
            "modes": {k: mode for k in keys}}


def expected(dataset):
    return torch.stack([dataset[i][0] for i in range(len(dataset))])


@pytest.mark.parametrize("ctx", ["fork", "spawn"])
def test_fallbacks_in_workers_are_counted_and_named(ctx):
    ds = lt.MixedPaths(n=16)
    loader = DataLoader(ds, batch_size=4, num_workers=2, multiprocessing_context=ctx)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with PipelineMigrator.from_plan(plan("brighten")) as m:
            got = torch.cat([x for x, _ in loader])
            stats = m.stats
    torch.testing.assert_close(got, expected(ds))
    # Every batch mixes samples that called brighten with samples that did not: 4 batches fell back
    # during collation in a worker (and the deferred samples were computed there: 2 per batch).
    assert stats["worker_fallbacks"] == stats["fallbacks"] > 0
    assert stats["fallback_contexts"][f"{M}.brighten"] == stats["fallbacks"]
    # The cause is named as collation met it: a batch whose first sample is deferred mixes different
    # planned calls; one whose first sample is a tensor stacks, reading numel() from the deferred ones.
    # Which comes first depends on which worker's decision (shared between workers) landed first.
    reason = stats["fallback_reasons"][f"{M}.brighten"]
    assert "different planned calls" in reason or "used by code outside the plan (attribute 'numel')" in reason, reason
    # Warned once, by the main process, naming the worker and the cause.
    messages = [str(w.message) for w in caught if "codedag migration" in str(w.message)]
    assert len(messages) == 1 and "in a DataLoader worker" in messages[0]


def test_a_value_the_dataset_reads_before_returning_it_collates():
    # x.shape on a deferred value computes it in place; returning it afterwards used to crash
    # collation with IndexError (an empty deferred chain).
    ds = lt.PeekingImages(n=12)
    for workers in (0, 2):
        loader = DataLoader(ds, batch_size=4, num_workers=workers, multiprocessing_context="fork" if workers else None)
        with PipelineMigrator.from_plan(plan("brighten")) as m, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = torch.cat([x for x, _ in loader])
            stats = m.stats
        torch.testing.assert_close(got, expected(ds))
        # The first fetch to call brighten runs it in place (deferral_gate.py: it decides that its
        # value reaches the batch, for every process); every sample deferred after that is computed
        # where it was read. 12 samples, 3 batches: without workers 2 batches defer; with 2 workers
        # worker 0's second, and worker 1's first -- in whole or from the sample on which worker 0's
        # decision reached it (the decision is shared while worker 1 is mid-batch), so 4 to 8.
        if workers == 0:
            assert stats["fallbacks"] == 8, stats
        else:
            assert 4 <= stats["fallbacks"] <= 8, stats
        assert "attribute 'shape'" in stats["fallback_reasons"][f"{M}.brighten"]


def test_inline_on_batch_cpu_without_workers_runs_batched():
    # An old plan for a num_workers=0 loader said "inline" for batch:cpu: the same per-sample call in
    # the same place. batch:cpu is always batched now: the step runs once over each batch.
    ds = lt.Images(n=16)
    loader = DataLoader(ds, batch_size=8)
    with PipelineMigrator.from_plan(plan("brighten", mode="inline")) as m:
        got = torch.cat([x for x, _ in loader])
        assert m.batched and m.stats["vectorised"] == {f"{M}.brighten": True}
        assert m.output_contexts["[0]"] == [f"{M}.brighten"]
    torch.testing.assert_close(got, expected(ds))


def test_a_call_on_an_open_file_runs_in_place_not_after_the_file_is_closed(tmp_path):
    # Deferred to collation, read_values(f) would run after the dataset's `with open()` closed f.
    ds = lt.FileSamples(tmp_path, n=8)
    loader = DataLoader(ds, batch_size=4)
    with PipelineMigrator.from_plan(plan("read_values")) as m, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = torch.cat([x for x, _ in loader])
        stats = m.stats
    torch.testing.assert_close(got, torch.stack([torch.arange(i, i + 4, dtype=torch.float32) for i in range(8)]))
    assert stats["fallbacks"] == 4  # the first fetch ran in place anyway (deferral_gate.py)
    assert "open resource (a _io.TextIOWrapper)" in stats["fallback_reasons"][f"{M}.read_values"]
