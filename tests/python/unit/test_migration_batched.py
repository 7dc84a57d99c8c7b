"""Batched mode: the planned suffix is deferred through collation and run on the whole batch in
the main process; outputs equal the baseline's with 0 and 2 workers, fork and spawn, persistent."""

import numpy as np
import pytest
import test_migration_targets as t
import torch
from torch.utils.data import DataLoader

from codedag.migration import PipelineMigrator
from codedag.migration.deferred import Deferred

M = "test_migration_targets"


def batched_plan(*names, device="batch:cpu"):
    keys = [f"{M}.{n}" for n in names]
    return {"schema": "codedag.plan/1", "context_device_map": {k: device for k in keys},
            "modes": {k: "batched" for k in keys}}


def collect(loader, epochs=1):
    return [(x.clone(), y.clone()) for _ in range(epochs) for x, y in loader]


def assert_same(got, want):
    assert len(got) == len(want)
    for (gx, gy), (wx, wy) in zip(got, want, strict=True):
        assert gx.shape == wx.shape and gx.dtype == wx.dtype
        torch.testing.assert_close(gx, wx, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(gy, wy)


def loader(ds, workers, ctx=None, **kw):
    return DataLoader(ds, batch_size=4, num_workers=workers, multiprocessing_context=ctx, **kw)


def test_in_process_loader_defers_and_vectorises_batch_safe_steps():
    ds = t.WaveDataset(n=10)  # 4 + 4 + 2: the short last batch too
    baseline = collect(loader(ds, 0))
    with PipelineMigrator.from_plan(batched_plan("spectrum", "normalise")) as m:
        migrated = collect(loader(ds, 0))
        assert m.stats["vectorised"] == {f"{M}.spectrum": True, f"{M}.normalise": True}
    assert_same(migrated, baseline)


def test_a_step_that_is_not_batch_safe_runs_per_sample():
    ds = t.WaveDataset(n=8, tail=("spectrum", "global_norm"))
    baseline = collect(loader(ds, 0))
    with PipelineMigrator.from_plan(batched_plan("spectrum", "global_norm")) as m:
        migrated = collect(loader(ds, 0))
        assert m.stats["vectorised"][f"{M}.global_norm"] is False  # the probe caught it
    assert_same(migrated, baseline)


def test_numpy_steps_get_ndarrays_per_sample():
    ds = t.WaveDataset(n=8, tail=("spectrum", "numpy_features"))
    baseline = collect(loader(ds, 0))
    with PipelineMigrator.from_plan(batched_plan("numpy_features")):
        migrated = collect(loader(ds, 0))
    assert_same(migrated, baseline)


def test_direct_calls_outside_a_loader_are_not_deferred():
    x = torch.randn(t.CROP)
    with PipelineMigrator.from_plan(batched_plan("spectrum")):
        out = t.spectrum(x)
    assert isinstance(out, torch.Tensor) and not isinstance(out, Deferred)
    torch.testing.assert_close(out, t.spectrum(x))


@pytest.mark.parametrize("ctx", ["fork", "spawn"])
def test_two_workers_equal_the_baseline(ctx):
    ds = t.WaveDataset(n=12)
    baseline = collect(loader(ds, 0))
    with PipelineMigrator.from_plan(batched_plan("spectrum", "normalise")) as m:
        migrated = collect(loader(ds, 2, ctx))
        # The suffix ran here, over whole batches: the workers deferred it.
        assert m.stats["vectorised"] == {f"{M}.spectrum": True, f"{M}.normalise": True}
    assert_same(migrated, baseline)


def test_persistent_spawn_workers_across_epochs_and_after_restore():
    ds = t.WaveDataset(n=8)
    baseline = collect(loader(ds, 0), epochs=2)
    dl = loader(ds, 2, "spawn", persistent_workers=True)
    m = PipelineMigrator.from_plan(batched_plan("spectrum", "normalise"))
    m.apply()
    try:
        migrated = collect(dl, epochs=2)
    finally:
        m.restore()
    assert_same(migrated, baseline)
    # The same persistent workers, after restore(): they stop deferring, output stays right.
    assert_same(collect(dl), baseline[:2])


def test_unplanned_use_of_a_deferred_value_computes_it_in_place():
    class Touching(t.WaveDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 1.0, y  # unplanned arithmetic on the planned output

    ds = Touching(n=4)
    baseline = collect(loader(ds, 0))
    with PipelineMigrator.from_plan(batched_plan("spectrum", "normalise")) as m:
        with pytest.warns(RuntimeWarning, match="outside the plan"):
            migrated = collect(loader(ds, 0))
        assert m.stats["fallbacks"] >= 1
    assert_same(migrated, baseline)


def test_dict_samples_and_numpy_leaves():
    class DictDataset(torch.utils.data.Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            arr = np.full((4, 5), float(i), dtype=np.float32)
            return {"feat": t.numpy_features(arr), "id": i}

    baseline = list(loader(DictDataset(), 0))
    with PipelineMigrator.from_plan(batched_plan("numpy_features")):
        migrated = list(loader(DictDataset(), 0))
    for g, w in zip(migrated, baseline, strict=True):
        torch.testing.assert_close(g["feat"], w["feat"])
        torch.testing.assert_close(g["id"], w["id"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine (never faked)")
def test_cuda_executor_equals_the_cpu_baseline():
    ds = t.WaveDataset(n=8)
    baseline = collect(loader(ds, 0))
    with PipelineMigrator.from_plan(batched_plan("spectrum", "normalise", device="cuda:0")):
        raw = list(loader(ds, 2, "spawn"))
    assert all(x.device.type == "cuda" for x, _ in raw)  # the suffix ran on the GPU, output left there
    assert_same([(x.cpu(), y) for x, y in raw], baseline)


def test_a_cuda_plan_without_a_gpu_is_skipped_not_faked():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with PipelineMigrator.from_plan(batched_plan("spectrum", device="cuda:0")) as m:
        assert m.stats["skipped"] == [f"{M}.spectrum"] and "no CUDA device" in m.stats["reasons"][f"{M}.spectrum"]
        assert not hasattr(t.spectrum, "__codedag_original__")


def test_a_batch_statistic_is_not_vectorised_on_a_lucky_probe_batch():
    # The probe batch is quiet: the batched call equals the per-sample calls there. The probe also
    # pushes one sample far off and sees the others' outputs move (the batch's maximum floors them),
    # so the step runs per sample, and the loud batch later gives the untouched values.
    import loop_targets as lt

    loader = DataLoader(lt.LoudImages(n=16), batch_size=4)
    baseline = [x.clone() for x, _ in loader]
    plan = {"schema": "codedag.plan/1", "context_device_map": {"loop_targets.floor_below_max": "batch:cpu"}}
    with PipelineMigrator.from_plan(plan) as m:
        got = [x.clone() for x, _ in loader]
        assert m.stats["vectorised"] == {"loop_targets.floor_below_max": False}
    for a, b in zip(baseline, got, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("tail", [("spectrum", "normalise"), ("spectrum", "global_norm"),
                                  ("spectrum", "numpy_features")])
def test_batches_run_in_row_chunks_give_the_whole_batchs_outputs(tail):
    # Small chunks (2-3 rows) over batches of 12 and a short last batch of 5: vectorised, per-sample
    # and numpy steps alike, outputs equal the untouched loader's and every row is in its place.
    ds = t.WaveDataset(n=29, tail=tail)
    baseline = collect(DataLoader(ds, batch_size=12))
    with PipelineMigrator.from_plan(batched_plan(*tail)) as m:
        m._batched.chunk_bytes = 1  # every chunk as small as allowed: 2 rows (3 to avoid a 1-row tail)
        migrated = collect(DataLoader(ds, batch_size=12))
        assert m._batched.row_bytes > 0
    assert_same(migrated, baseline)
    with PipelineMigrator.from_plan(batched_plan(*tail)) as m:
        m._batched.chunk_bytes = None  # whole batches: the same outputs
        assert_same(collect(DataLoader(ds, batch_size=12)), baseline)


def test_a_chains_intermediates_are_freed_as_soon_as_their_last_consumer_ran():
    from codedag.migration.deferred import _release_points

    # a = f(leaf0); b = g(a, leaf1); c = h(b, a): a is last read by step 2, b by step 2, leaf0 by
    # step 0, leaf1 by step 1; c (the result) is never released.
    steps = [("f", ("tuple", (("leaf", 0),)), ("dict", ())),
             ("g", ("tuple", (("node", 0), ("leaf", 1))), ("dict", ())),
             ("h", ("tuple", (("node", 1),)), ("dict", (("k", ("list", (("node", 0), ("const", 0)))),)))]
    assert [(sorted(n), sorted(lv)) for n, lv in _release_points(steps)] == [([], [0]), ([], [1]), ([0, 1], [])]


def test_a_deferred_batch_is_evaluated_once():
    from codedag.migration.deferred import collate_deferred

    key = f"{M}.spectrum"
    with PipelineMigrator.from_plan(batched_plan("spectrum")) as m:
        original = m._batched.originals[key]
        waves = [t.crop(torch.randn(600, generator=torch.Generator().manual_seed(i)), 0) for i in range(4)]
        batch = collate_deferred([Deferred(key, original, (w,), {}, m) for w in waves])
        out = m._evaluate_batch(batch)
        torch.testing.assert_close(out, torch.stack([original(w) for w in waves]), rtol=1e-4, atol=1e-5)
        with pytest.raises(RuntimeError, match="already evaluated"):
            m._evaluate_batch(batch)


def test_forked_workers_of_a_batched_plan_run_with_the_objects_of_before_the_fork_frozen():
    import gc

    from codedag.migration import fork_memory

    ds = t.WaveDataset(n=16)
    assert gc.get_freeze_count() == 0
    with PipelineMigrator.from_plan(batched_plan("spectrum", "normalise")):
        it = iter(loader(ds, 2, "fork"))
        next(it)
        assert fork_memory.frozen() and gc.get_freeze_count() > 0  # kept out of the collector's writes
        del it
        gc.collect()
        assert not fork_memory.frozen() and gc.get_freeze_count() == 0  # given back with the workers
        it = iter(loader(ds, 2, "spawn"))  # spawned workers share nothing: nothing frozen
        next(it)
        assert not fork_memory.frozen() and gc.get_freeze_count() == 0
        del it
    gc.freeze()  # someone else's freeze is theirs: neither extended nor undone
    try:
        count = gc.get_freeze_count()
        with PipelineMigrator.from_plan(batched_plan("spectrum", "normalise")):
            it = iter(loader(ds, 2, "fork"))
            next(it)
            assert not fork_memory.frozen() and gc.get_freeze_count() <= count  # objects die, none added
            del it
    finally:
        gc.unfreeze()
