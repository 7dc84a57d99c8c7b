"""Semantics first: a planned function that draws randomness is never run over a whole batch at once
(judged by the state of the generators it can reach, not by comparing outputs), unless the registry
declares per-sample randomness for it; verification catches per-sample randomness turned per-batch."""

import random

import loop_targets as lt
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import codedag
from codedag.migration import PipelineMigrator
from codedag.strategies import register_strategy, unregister

M = "loop_targets"


def plan(*names):
    keys = [f"{M}.{n}" for n in names]
    return {"schema": "codedag.plan/1", "context_device_map": {k: "batch:cpu" for k in keys},
            "modes": {k: "batched" for k in keys}}


def flipped(batch_x, indices):
    """Per sample: was it flipped (compared with its unflipped image)?"""
    return [bool(torch.equal(x, lt.image(int(i)).flip(-1))) for x, i in zip(batch_x, indices, strict=True)]


def uniform_batches(loader):
    """How many batches had every sample flipped the same way, of how many."""
    uniform = total = 0
    for x, i in loader:
        flips = flipped(x, i)
        uniform += len(set(flips)) == 1
        total += 1
    return uniform, total


def test_random_flip_stays_per_sample():
    # The case: with a batched call, whole batches flipped all-or-nothing (24 of 24 uniform).
    np.random.seed(0)
    loader = DataLoader(lt.Images(n=192, steps=("random_flip",)), batch_size=8)
    with PipelineMigrator.from_plan(plan("random_flip")) as m:
        uniform, total = uniform_batches(loader)
        assert m.stats["vectorised"] == {f"{M}.random_flip": False}
        assert m.stats["stochastic"] == {f"{M}.random_flip": ["numpy.random"]}
    assert total == 24
    assert uniform <= 3  # independent fair flips: a batch of 8 is uniform with probability 1/128


def test_a_draw_that_never_shows_in_the_output_still_counts():
    # Outputs of the batched and per-sample calls are equal on every batch: the old probe vectorised it.
    loader = DataLoader(lt.Images(n=16, steps=("lucky_jitter",)), batch_size=8)
    with PipelineMigrator.from_plan(plan("lucky_jitter")) as m:
        list(loader)
        assert m.stats["vectorised"][f"{M}.lucky_jitter"] is False
        assert "numpy.random" in m.stats["stochastic"][f"{M}.lucky_jitter"]


@pytest.mark.parametrize("name, generator", [
    ("python_random_flip", "random"),
    ("torch_random_flip", "torch"),
    ("generator_flip", "a numpy Generator reachable from the function"),
    ("call_augment", "a numpy RandomState reachable from the function"),
])
def test_every_kind_of_generator_is_seen(name, generator):
    loader = DataLoader(lt.Images(n=16, steps=(name,)), batch_size=8)
    with PipelineMigrator.from_plan(plan(name)) as m:
        list(loader)
        assert m.stats["vectorised"][f"{M}.{name}"] is False
        assert generator in m.stats["stochastic"][f"{M}.{name}"]


def test_a_deterministic_step_still_vectorises_and_draws_nothing():
    loader = DataLoader(lt.Images(n=16, steps=("brighten",)), batch_size=8)
    state = np.random.get_state()
    with PipelineMigrator.from_plan(plan("brighten")) as m:
        list(loader)
        assert m.stats["vectorised"] == {f"{M}.brighten": True} and m.stats["stochastic"] == {}
    assert (np.random.get_state()[1] == state[1]).all()


def test_the_rejected_batched_call_draws_nothing():
    # The probe's batched call of random_flip drew one number; it is rewound, so the generator ends
    # where the 8 per-sample calls (what the unmigrated pipeline draws) leave it.
    loader = DataLoader(lt.Images(n=8, steps=("random_flip",)), batch_size=8)
    np.random.seed(11)
    with PipelineMigrator.from_plan(plan("random_flip")):
        (x, i), = list(loader)
    after = np.random.get_state()
    np.random.seed(11)
    expected = [np.random.rand() < 0.5 for _ in range(8)]
    assert (np.random.get_state()[1] == after[1]).all() and np.random.get_state()[2] == after[2]
    assert flipped(x, i) == expected  # and each sample got its own draw, in order


def test_a_registry_strategy_with_per_sample_randomness_vectorises():
    register_strategy(f"{M}.random_flip", randomness="per_sample")(lt.flip_each)
    try:
        torch.manual_seed(0)
        loader = DataLoader(lt.Images(n=192, steps=("random_flip",)), batch_size=8)
        with PipelineMigrator.from_plan(plan("random_flip")) as m:
            uniform, total = uniform_batches(loader)
            assert m.stats["stochastic"][f"{M}.random_flip"] == ["numpy.random"]
        assert uniform <= 3 and total == 24
    finally:
        unregister(f"{M}.random_flip")


def test_registering_an_unknown_randomness_is_refused():
    with pytest.raises(ValueError, match="per_sample"):
        register_strategy("x.y", randomness="per_batch")


def test_verify_catches_per_sample_randomness_turned_per_batch():
    # A dishonest strategy claims per-sample randomness but draws once per batch: means and standard
    # deviations match, the joint behaviour does not.
    register_strategy(f"{M}.random_flip", randomness="per_sample")(lt.flip_batch_once)
    try:
        loader = DataLoader(lt.Images(n=64, steps=("random_flip",)), batch_size=8)
        report = codedag.verify(loader, plan("random_flip"), batches=3, seed=2)
        out = report["outputs"][0]
        assert out["stochastic"] and out["compared_by"] == "distribution and independence"
        assert not report.ok, str(report)
        assert "no longer vary independently" in out["detail"]
        assert out["independence"]["migrated"]["dependence"] > 0.8
        assert f"{M}.random_flip" in report["mismatching_contexts"]
    finally:
        unregister(f"{M}.random_flip")


def test_verify_passes_per_sample_randomness_kept_per_sample():
    loader = DataLoader(lt.Images(n=64, steps=("random_flip",)), batch_size=8)
    report = codedag.verify(loader, plan("random_flip"), batches=3, seed=2)
    assert report.ok, str(report)
    joint = report["outputs"][0]["independence"]
    assert joint["ok"] and abs(joint["migrated"]["dependence"]) < 0.3
    assert report["draws_randomness"] == {f"{M}.random_flip": ["numpy.random"]}


def test_verify_with_workers_and_python_random():
    random.seed(1)
    loader = DataLoader(lt.Images(n=48, steps=("python_random_flip",)), batch_size=6, num_workers=2,
                        multiprocessing_context="fork")
    report = codedag.verify(loader, plan("python_random_flip"), batches=2, seed=4, independence_runs=4)
    assert report.ok, str(report)
    assert report["outputs"][0]["independence"]["migrated"]["testable"]
