"""codedag.verify and the closed loop: equal plans pass, unequal ones are named, stochastic
contexts are compared by distribution, and optimize_pipeline keeps only verified, faster plans."""

import json

import numpy as np
import pytest
import test_migration_targets as t
import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

import codedag

M = "test_migration_targets"


def batched_plan(*names, **extra):
    keys = [f"{M}.{n}" for n in names]
    return {"schema": "codedag.plan/1", "context_device_map": {k: "batch:cpu" for k in keys},
            "modes": {k: "batched" for k in keys}, **extra}


def test_an_equal_plan_verifies_and_names_its_contexts():
    loader = DataLoader(t.WaveDataset(n=12), batch_size=4, shuffle=True)
    report = codedag.verify(loader, batched_plan("spectrum", "normalise"), batches=2, seed=3)
    assert report.ok, str(report)
    spec = report["outputs"][0]
    assert spec["compared_by"] == "values" and spec["status"] == "equal"
    assert spec["contexts"] == [f"{M}.spectrum", f"{M}.normalise"]
    assert report["outputs"][1]["contexts"] == []  # the labels are not planned
    assert report["vectorised"] == {f"{M}.spectrum": True, f"{M}.normalise": True}
    assert t.spectrum.__name__ == "spectrum" and not hasattr(t.spectrum, "__codedag_original__")


def test_a_plan_that_changes_outputs_is_reported_with_the_context():
    # Two batches of identical samples fool the vectorisation probe: the first fetch runs in place
    # (deferral_gate.py), the second probes, the third differs.
    ds = t.RepeatsFirst(n=12, same=8, tail=("spectrum", "center"))
    report = codedag.verify(ds, batched_plan("spectrum", "center"), batches=3, batch_size=4)
    assert not report.ok
    assert f"{M}.center" in report["mismatching_contexts"]
    bad = report["outputs"][0]
    assert bad["status"] == "mismatch" and bad["max_abs_diff"] > 1e-3
    assert "FAILED" in str(report) and "center" in str(report)


def test_stochastic_contexts_are_compared_by_distribution():
    ds = t.WaveDataset(n=16, tail=("spectrum", "normalise", "noisy"))
    report = codedag.verify(ds, batched_plan("spectrum", "normalise", "noisy"), batches=2, batch_size=8, seed=1)
    assert report.ok, str(report)
    out = report["outputs"][0]
    assert out["compared_by"].startswith("distribution") and out["stochastic"]
    assert f"{M}.noisy" in report["stochastic_contexts"]


class HiddenGeneratorFlips(Dataset):
    """Random flips drawn from a generator built in __init__ from OS entropy: albumentations'
    Compose(seed=None) habit. Forked workers copy it unadvanced, so runs with workers repeat their
    draws whatever the seeds; ``scale_in_main`` makes the main process's samples differ for real."""

    def __init__(self, n=32, scale_in_main=1.0):
        self.rng = np.random.default_rng()
        self.base = torch.rand(n, 64, generator=torch.Generator().manual_seed(3))
        self.scale_in_main = scale_in_main

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        x = self.base[i] * (self.scale_in_main if get_worker_info() is None else 1.0)
        return x.flip(0) if self.rng.random() < 0.5 else x


def _zero_workers(loader):
    from codedag.migration import PipelineMigrator
    from codedag.pipeline.closed_loop import _plain_plan

    return PipelineMigrator.from_plan(_plain_plan(0, None), loader=loader, apply_workers=True)


def test_randomness_the_seeds_do_not_control_is_compared_by_distribution():
    # The 2-worker baseline repeats its draws run after run; 0 workers advance the generator. Before,
    # the output counted as deterministic and the plain 0-worker loader (20x faster on the
    # albumentations pipeline of the corpus) was refused as "outputs differ".
    loader = DataLoader(HiddenGeneratorFlips(), batch_size=8, num_workers=2)
    report = codedag.verify(loader, None, batches=3, migrator=_zero_workers(loader), migrated_workers=0)
    assert report.ok, str(report)
    out = report["outputs"][0]
    assert out["stochastic"] and out["compared_by"].startswith("distribution")
    assert "not controlled by the seeds" in out["random_source"]


def test_a_real_difference_behind_an_uncontrolled_generator_still_fails():
    loader = DataLoader(HiddenGeneratorFlips(scale_in_main=2.0), batch_size=8, num_workers=2)
    report = codedag.verify(loader, None, batches=3, migrator=_zero_workers(loader), migrated_workers=0)
    assert not report.ok
    assert report["outputs"][0]["status"] == "mismatch"


def test_with_an_uncontrolled_generator_a_migrated_batch_that_moves_together_fails():
    # The baseline's runs cannot be compared (its draws do not follow the seeds), so the migrated
    # side must show independent samples on its own: one shared draw per batch (per-sample
    # augmentation run once over the batch) is caught, independent draws pass.
    from codedag.pipeline.verification import _independence

    g = torch.Generator().manual_seed(7)
    base = torch.rand(2, 8, 16, generator=g)

    def runs(shared: bool):
        out = []
        for _ in range(6):
            noise = torch.rand(2, 1, 1, generator=g) if shared else torch.rand(2, 8, 1, generator=g)
            out.append([[("<batch>", base[b] + 5 * noise[b])] for b in range(2)])
        return out

    same = [[[("<batch>", base[b])] for b in range(2)] for _ in range(6)]
    coupled = _independence(same, runs(shared=True), 0, baseline_seeded=False)
    assert not coupled["ok"] and "vary together in the migrated run" in coupled["detail"]
    assert _independence(same, runs(shared=False), 0, baseline_seeded=False)["ok"]


def _images(seed: int, per_image: float = 0.5, shift: float = 0.0, n: int = 32) -> list[torch.Tensor]:
    """Batches of 8 "images" whose pixels share one random brightness per image (ColorJitter's kind)."""
    g = torch.Generator().manual_seed(seed)
    imgs = torch.randn(n, 3, 8, 8, generator=g) + per_image * torch.randn(n, 1, 1, 1, generator=g) + shift
    return list(imgs.split(8))


def test_stochastic_outputs_are_compared_within_their_sampling_noise():
    from codedag.pipeline.verification import _same_distribution

    base, other = _images(1), _images(2)
    ok, stats = _same_distribution(base, other, 0.1)
    # Two draws of one distribution: the means differ by more than 10 % of the pixel std (the old rule
    # refused this), well within what 32 images with their own brightness can tell apart.
    assert abs(stats["baseline_mean"] - stats["migrated_mean"]) > 0.1 * stats["baseline_std"]
    assert ok, stats
    assert not _same_distribution(base, _images(2, shift=1.0), 0.1)[0], "a real shift is still caught"
    assert not _same_distribution(base, _images(2, per_image=0.0), 0.1)[0], "a lost per-image draw is caught"
    assert not _same_distribution(base, [2 * t for t in _images(2)], 0.1)[0], "a doubled spread is caught"


def test_verify_refuses_bad_input():
    with pytest.raises(TypeError, match="DataLoader or a Dataset"):
        codedag.verify([1, 2, 3], batched_plan("spectrum"))
    with pytest.raises(ValueError, match="batches"):
        codedag.verify(t.WaveDataset(n=4), batched_plan("spectrum"), batches=0)


def test_closed_loop_rejects_a_plan_that_is_not_equal(tmp_path):
    loader = DataLoader(t.RepeatsFirst(n=12, same=8, tail=("spectrum", "center")), batch_size=4)
    result = codedag.optimize_pipeline(loader, plan=batched_plan("spectrum", "center", predicted_speedup=1.8),
                                       verify_batches=3, measure_batches=2, repeats=1, export_dir=str(tmp_path),
                                       quiet=True, tune_workers=False)
    assert not result.kept and "differ" in result["reason"] and f"{M}.center" in result["reason"]
    assert result["measured_speedup"] is None  # never measured: correctness first
    assert result.migrator is None and not hasattr(t.center, "__codedag_original__")
    saved = json.loads((tmp_path / "closed_loop.json").read_text())
    assert saved["kept"] is False and saved["predicted_speedup"] == 1.8


def test_closed_loop_rejects_a_plan_that_is_slower():
    # Equal outputs, but the moved step is not batch-safe (per sample after migration) and slow:
    # serial in the main process it loses to two workers running it in parallel.
    loader = DataLoader(t.WaveDataset(n=32, tail=("spectrum", "slow_global_norm")), batch_size=4,
                        num_workers=2, multiprocessing_context="fork")
    result = codedag.optimize_pipeline(loader, plan=batched_plan("slow_global_norm"), verify_batches=1,
                                       measure_batches=3, repeats=2, quiet=True, tune_workers=False)
    assert result["verification"]["ok"]
    assert result["measured_speedup"] < 1.0
    assert not result.kept and "below the required" in result["reason"]
    assert result["interval"]["upper"] < 1.05  # the lower bound is what decides; here even the upper is low
    assert not hasattr(t.slow_global_norm, "__codedag_original__")


def test_closed_loop_keeps_a_verified_faster_plan_and_leaves_it_applied():
    # With the workers made slow in the part that stays there, nothing to gain -- so instead use the
    # deterministic win: a slow step that IS batch-safe runs once per batch after migration.
    loader = DataLoader(t.WaveDataset(n=32, tail=("spectrum", "normalise")), batch_size=8)
    result = codedag.optimize_pipeline(loader, plan=batched_plan("spectrum", "normalise"), verify_batches=1,
                                       measure_batches=2, repeats=1, min_speedup=0.0, quiet=True)
    try:
        assert result.kept and result["verification"]["ok"] and result.migrator.is_applied()
        assert result["measured_speedup"] > 0 and result["apply_stats"]["patched"] == 2
    finally:
        result.migrator.restore()


def test_closed_loop_with_nothing_to_move():
    loader = DataLoader(t.WaveDataset(n=8), batch_size=4)
    result = codedag.optimize_pipeline(loader, plan={"schema": "codedag.plan/1",
                                                     "context_device_map": {f"{M}.spectrum": "cpu"}}, quiet=True)
    assert not result.kept and "moves no context" in result["reason"]
