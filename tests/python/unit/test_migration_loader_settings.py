"""The opt-in worker count and threads of a plan on the user's DataLoader: applied, measured in the
workers, restored identically; persistent workers never keep a stale setting."""

import loop_targets as lt
import pytest
import torch
from torch.utils.data import DataLoader

import codedag
from codedag.migration import PipelineMigrator


def workers_plan(workers, threads=None, moved=()):
    parallelism = {"workers": workers}
    if threads is not None:
        parallelism["threads_per_worker"] = threads
    return {"schema": "codedag.plan/1", "context_device_map": {f"loop_targets.{n}": "batch:cpu" for n in moved},
            "parallelism": parallelism}


def test_the_worker_count_and_threads_are_applied_and_restored():
    def init(worker_id):
        pass

    loader = DataLoader(lt.Threads(), batch_size=2, worker_init_fn=init)
    assert loader.prefetch_factor is None
    m = PipelineMigrator.from_plan(workers_plan(2, threads=1), loader=loader, apply_workers=True)
    with m:
        assert loader.num_workers == 2 and loader.prefetch_factor == 2
        assert m.stats["workers"] == {"workers": 2, "threads_per_worker": 1, "batch_size": None}
        reported = torch.cat(list(loader))
    # torch already gives workers one thread; BLAS (numpy's OpenBLAS) would take every core.
    assert (reported[:, 0] == 1).all()
    assert (reported[:, 1] == 1).all() or (reported[:, 1] == -1).all()
    assert loader.num_workers == 0 and loader.prefetch_factor is None and loader.worker_init_fn is init


def test_without_the_flag_the_loader_is_not_touched():
    loader = DataLoader(lt.Threads(), batch_size=2)
    with PipelineMigrator.from_plan(workers_plan(3)) as m:
        assert loader.num_workers == 0 and m.stats["workers"] is None


def test_the_flag_needs_a_loader():
    with pytest.raises(codedag.InputError, match="loader="):
        PipelineMigrator.from_plan(workers_plan(2), apply_workers=True)


def test_an_iterable_dataset_keeps_its_worker_count():
    loader = DataLoader(lt.StreamOfImages(), batch_size=4)
    with pytest.raises(codedag.InputError, match="IterableDataset"):
        PipelineMigrator.from_plan(workers_plan(2), loader=loader, apply_workers=True)
    PipelineMigrator.from_plan(workers_plan(0), loader=loader, apply_workers=True)  # the same count is fine


def test_persistent_workers_are_restarted_under_the_plan():
    # Workers started before the plan run the original code; apply() shuts them down so the next
    # iterator's workers carry the plan, and restore() does the same the other way.
    ds = lt.Images(n=16)
    loader = DataLoader(ds, batch_size=4, num_workers=2, persistent_workers=True, multiprocessing_context="fork")
    list(loader)
    before = loader._iterator
    assert before is not None
    m = PipelineMigrator.from_plan(workers_plan(2, moved=("brighten",)), loader=loader, apply_workers=True)
    with m:
        assert loader._iterator is None
        got = torch.cat([x for x, _ in loader])
        assert m.stats["vectorised"] == {"loop_targets.brighten": True}  # the plan ran: fresh workers deferred
    assert loader._iterator is None
    torch.testing.assert_close(got, torch.stack([ds[i][0] for i in range(16)]))


def test_a_plan_file_with_parallelism_is_read_and_checked():
    plan = codedag.load_plan(workers_plan(3, threads=2))
    assert plan["parallelism"]["workers"] == 3 and plan["parallelism"]["threads_per_worker"] == 2
    with pytest.raises(codedag.FormatError, match="parallelism.workers"):
        codedag.load_plan(workers_plan(-2))


def test_the_suggested_batch_size_is_applied_only_when_asked_and_restored():
    loader = DataLoader(lt.Images(n=16), batch_size=4)
    plan = workers_plan(0)
    plan["parallelism"]["suggested_batch_size"] = 8
    with PipelineMigrator.from_plan(plan, loader=loader, apply_workers=True):
        assert [len(y) for _, y in loader] == [4, 4, 4, 4]  # the suggestion alone changes nothing
    m = PipelineMigrator.from_plan(plan, loader=loader, apply_workers=True, apply_batch_size=True)
    with m:
        assert [y.tolist() for _, y in loader] == [list(range(8)), list(range(8, 16))]
        assert loader.batch_size == 8 and m.stats["workers"]["batch_size"] == 8
    assert loader.batch_size == 4 and [len(y) for _, y in loader] == [4, 4, 4, 4]


def test_a_batch_size_cannot_be_applied_to_the_users_own_batch_sampler():
    loader = DataLoader(lt.Images(n=16), batch_sampler=[[0, 1, 2], [3, 4, 5]])
    plan = workers_plan(0)
    plan["parallelism"]["suggested_batch_size"] = 8
    with pytest.raises(codedag.InputError, match="its own batch_sampler"):
        PipelineMigrator.from_plan(plan, loader=loader, apply_workers=True, apply_batch_size=True)
    with pytest.raises(codedag.InputError, match="goes with apply_workers"):
        PipelineMigrator.from_plan(plan, loader=loader, apply_batch_size=True)


def test_the_worker_count_alone_leaves_the_workers_threads_as_torch_sets_them():
    # The plan reader gives every plan threads_per_worker (1 by default): limit_worker_threads=False
    # applies the worker count only, with no worker_init_fn of ours.
    loader = DataLoader(lt.Threads(), batch_size=2)
    m = PipelineMigrator.from_plan(workers_plan(2), loader=loader, apply_workers=True, limit_worker_threads=False)
    with m:
        assert loader.worker_init_fn is None
    plan = workers_plan(2)
    plan["parallelism"]["limit_threads"] = False  # the same, said by the plan (what the closed loop keeps)
    m = PipelineMigrator.from_plan(plan, loader=loader, apply_workers=True)
    with m:
        assert loader.num_workers == 2 and loader.worker_init_fn is None
        assert m.stats["workers"]["threads_per_worker"] is None
    limited = PipelineMigrator.from_plan(workers_plan(2), loader=loader, apply_workers=True)
    with limited:
        assert loader.worker_init_fn is not None and limited.stats["workers"]["threads_per_worker"] == 1
    assert loader.num_workers == 0 and loader.worker_init_fn is None
