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
    # Counted once per process that decided (a worker may read the decision another made).
    assert 1 <= stats["fallback_contexts"][f"{M}.seed_of"] <= max(1, workers)


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


def _calls(path):
    with open(path) as log:
        return [tuple(int(v) for v in line.split()) for line in log if line.strip()]


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_what_one_worker_learned_reaches_the_next_epochs_workers(tmp_path, monkeypatch, context):
    # The gate's decisions live in shared memory: workers started later (next epoch, fresh
    # iterator) defer from their first fetch instead of each running it in place again.
    import os

    log = tmp_path / "calls.log"
    monkeypatch.setenv("CODEDAG_TEST_CALL_LOG", str(log))
    loader = DataLoader(lt.LoggedImages(n=16), batch_size=4, num_workers=2, multiprocessing_context=context)
    baseline = [(x.clone(), y.clone()) for x, y in loader]
    log.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with PipelineMigrator.from_plan(plan("logged_brighten")) as m:
            first = [(x.clone(), y.clone()) for x, y in loader]
            in_first = _calls(log)
            log.unlink()
            second = [(x.clone(), y.clone()) for x, y in loader]
            in_second = _calls(log)
            stats = m.stats
    same(first, baseline)
    same(second, baseline)
    main = os.getpid()
    assert any(pid != main for pid, _ in in_first)  # a worker's first fetch ran it in place and decided
    assert in_second and all(pid == main and ndim == 4 for pid, ndim in in_second), in_second
    assert f"{M}.logged_brighten" not in stats["fallback_contexts"]


def test_a_refusal_in_one_process_holds_in_every_other():
    # seed_of's value goes to C code: refused in the first process that saw it; the next epoch's
    # workers run it in place from their first fetch, and the batches stay the untouched ones.
    ds = lt.SeededImages(n=16)
    loader = DataLoader(ds, batch_size=4, num_workers=2, multiprocessing_context="fork")
    baseline = [(x.clone(), y.clone()) for x, y in loader]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with PipelineMigrator.from_plan(plan("seed_of", "brighten")) as m:
            same([(x.clone(), y.clone()) for x, y in loader], baseline)
            counted = m.stats["fallback_contexts"][f"{M}.seed_of"]
            same([(x.clone(), y.clone()) for x, y in loader], baseline)
            assert m.stats["fallback_contexts"][f"{M}.seed_of"] == counted  # decided once, not per worker again
            assert m._gate.state(f"{M}.seed_of") is False  # the main process knows too
            assert m._gate.state(f"{M}.brighten") is True


@pytest.mark.parametrize("workers", [0, 2])
def test_nested_planned_calls_all_defer(workers):
    # Chain.__call__ returns darken's value (one object, two planned keys) and trim's value feeds
    # both Chain and Brighten (inside it): every one of them reaches the batch through planned code.
    make = lambda: DataLoader(lt.ChainedImages(n=16), batch_size=4, num_workers=workers,  # noqa: E731
                              multiprocessing_context="fork" if workers else None)
    baseline = [(x.clone(), y.clone()) for x, y in make()]
    got, stats, outputs = run(make(), "trim", "Chain.__call__", "Brighten.__call__", "Darken.__call__")
    same(got, baseline)
    assert not stats["fallback_reasons"], stats["fallback_reasons"]
    assert any(f"{M}.trim" in keys and f"{M}.Chain.__call__" in keys for keys in outputs.values()), outputs
