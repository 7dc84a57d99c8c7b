"""A deferred value never reaches code outside the plan (deferral_gate.py): a planned call defers only
after its values were seen reaching the batch; values that go to C code (numpy's seeding,
torch.from_numpy) or to the user's own collate_fn come from calls that run in place, named in stats."""

import warnings

import loop_targets as lt
import pytest
import torch
from torch.utils.data import DataLoader

from codedag.migration import PipelineMigrator

M = "loop_targets"


def plan(*names):
    return {"schema": "codedag.plan/1", "context_device_map": {f"{M}.{n}": "batch:cpu" for n in names}}


def run(loader, *names):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with PipelineMigrator.from_plan(plan(*names)) as m:
            got = [(x.clone(), y.clone()) for x, y in loader]
            return got, m.stats, dict(m.output_contexts)


def same(a, b):
    assert len(a) == len(b)
    for (ax, ay), (bx, by) in zip(a, b, strict=True):
        torch.testing.assert_close(ax, bx)
        torch.testing.assert_close(ay, by)


@pytest.mark.parametrize("workers", [0, 2])
def test_values_for_c_code_run_in_place_and_the_rest_defers(workers):
    ds = lt.SeededImages(n=16)
    make = lambda: DataLoader(ds, batch_size=4, num_workers=workers,  # noqa: E731
                              multiprocessing_context="fork" if workers else None)
    baseline = [(x.clone(), y.clone()) for x, y in make()]
    got, stats, outputs = run(make(), "seed_of", "as_array", "brighten")
    same(got, baseline)  # deferred, seed_of's value would make default_rng raise; as_array's from_numpy
    reasons = stats["fallback_reasons"]
    for key in (f"{M}.seed_of", f"{M}.as_array"):
        assert "went to code outside the plan" in reasons[key], reasons
    assert f"{M}.brighten" not in reasons
    # brighten's value reaches the batch: after each process's first fetch it ran batched.
    assert any(f"{M}.brighten" in keys for keys in outputs.values()), outputs
    # Counted once per process that decided (the main process, or each worker).
    assert stats["fallback_contexts"][f"{M}.seed_of"] == max(1, workers)


def test_a_stream_never_sees_a_deferred_value_in_c_code():
    # An IterableDataset's fetch cannot be repeated: the first fetch must already be right.
    make = lambda: DataLoader(lt.SeededStream(n=12), batch_size=4)  # noqa: E731
    baseline = [(x.clone(), y.clone()) for x, y in make()]
    got, stats, outputs = run(make(), "seed_of", "as_array", "brighten")
    same(got, baseline)
    assert set(stats["fallback_contexts"]) == {f"{M}.seed_of", f"{M}.as_array"}
    assert any(f"{M}.brighten" in keys for keys in outputs.values())


def test_the_users_collate_fn_gets_real_values():
    ds = lt.Images(n=12)
    make = lambda: DataLoader(ds, batch_size=4, collate_fn=lt.stack_pairs)  # noqa: E731
    baseline = [(x.clone(), y.clone()) for x, y in make()]
    got, stats, outputs = run(make(), "brighten")
    same(got, baseline)
    assert outputs == {}  # nothing deferred
    assert "collate_fn loop_targets.stack_pairs is code outside the plan" in stats["fallback_reasons"][f"{M}.brighten"]


def test_a_fetch_broken_by_a_deferred_value_is_fetched_again_with_the_same_draws():
    # scale earns deferral on the first batch; the second hands its value to torch.from_numpy, which
    # raises on a deferred value: that batch is fetched again in place, numpy's generator rewound.
    import numpy as np

    make = lambda: DataLoader(lt.BranchingImages(n=12), batch_size=4)  # noqa: E731
    np.random.seed(3)
    baseline = [(x.clone(), y.clone()) for x, y in make()]
    np.random.seed(3)
    got, stats, outputs = run(make(), "scale")
    same(got, baseline)
    assert "which raised TypeError" in stats["fallback_reasons"][f"{M}.scale"], stats["fallback_reasons"]
    assert outputs == {}  # the first batch ran in place, the second was fetched again in place, then refused
