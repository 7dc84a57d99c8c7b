"""The full closed loop: trace -> calibrate -> optimize (placement and worker count) -> verify ->
interleaved measurement with a bootstrap interval -> keep or restore. Whether a setting is kept
depends on this machine's speed, so the tests check that every stage ran, that the decision follows
the interval, and that the loop never raises for the user's pipeline."""

import io
import re
import sys

import loop_targets as lt
import pytest
import test_migration_targets as t
from torch.utils.data import DataLoader

import codedag

pytestmark = pytest.mark.skipif(not hasattr(codedag, "EnhancedTracer") or not hasattr(codedag, "OptimizerManager"),
                                reason="tracer or optimizer not built")

QUICK = dict(verify_batches=1, measure_batches=2, repeats=2, independence_runs=3)


def assert_consistent(result, min_speedup=1.05):
    """The decision follows the measured interval, and nothing stays applied unless kept."""
    if result.kept:
        assert result["interval"]["lower"] >= min_speedup
        assert result["interval"]["lower"] <= result["measured_speedup"] <= result["interval"]["upper"]
    for setting in result["settings"][1:]:
        interval = setting.get("speedup")
        if interval and not result.kept:
            assert interval["lower"] < min_speedup or setting["error"]


def test_closed_loop_end_to_end(tmp_path):
    loader = DataLoader(t.WaveDataset(n=48), batch_size=8)
    result = codedag.optimize_pipeline(loader, export_dir=str(tmp_path), quiet=True, keep=False, **QUICK)
    assert result["optimizer"]["dag_nodes"] > 0, result["reason"]
    calibration = result["optimizer"]["calibration"]
    assert calibration["cores"] > 0 and "worker_handoff_ns" in calibration
    assert result["optimizer"]["chose_workers"]
    parallelism = result["optimizer"]["parallelism"]  # not the kept plan's: a plain one has no grid
    assert parallelism["workers"] >= 0 and parallelism["threads_per_worker"] >= 1
    assert {s["workers"] for s in parallelism["settings"]} >= {0, 1, 2}
    assert result["settings"][0]["name"] == "untouched" and len(result["settings"][0]["samples_per_s"]) == 2
    assert_consistent(result)
    assert set(result["phase_seconds"]) >= {"trace", "calibrate", "optimize"}
    assert 0.5 < sum(result["phase_share"].values()) <= 1.0 + 1e-9
    assert (tmp_path / "closed_loop.json").exists() and (tmp_path / "plan.json").exists()
    assert loader.num_workers == 0
    assert result.migrator is None or not result.migrator.is_applied()


def test_the_loop_prints_its_progress_the_interval_and_its_cost(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    loader = DataLoader(lt.Images(n=48), batch_size=8)
    plan = {"schema": "codedag.plan/1", "context_device_map": {"loop_targets.brighten": "batch:cpu"}}
    result = codedag.optimize_pipeline(loader, plan=plan, keep=False, tune_workers=False, **QUICK)
    text = out.getvalue()
    assert "measuring" in text and "95% interval" in text
    assert "the loop took" in text and "measure" in text
    assert bool(re.search(r"(?<!not )kept: ", text)) == result.kept and ("not kept: " in text) == (not result.kept)
    assert_consistent(result)


def test_a_broken_dataset_is_an_answer_not_an_exception():
    loader = DataLoader(lt.Broken(n=32), batch_size=4)
    result = codedag.optimize_pipeline(loader, quiet=True, **QUICK)
    assert not result.kept
    assert "ValueError" in result["reason"] and "sample 5: truncated file" in result["reason"]
    assert not hasattr(lt.brighten, "__codedag_original__")


def test_an_empty_dataset_says_so():
    loader = DataLoader(lt.Images(n=0), batch_size=4)
    result = codedag.optimize_pipeline(loader, quiet=True, **QUICK)
    assert not result.kept and result["reason"]


def test_an_iterable_dataset_goes_through_the_whole_loop():
    loader = DataLoader(lt.StreamOfImages(n=64), batch_size=8)
    result = codedag.optimize_pipeline(loader, quiet=True, keep=False, **QUICK)
    assert result["reason"]
    assert not result["optimizer"].get("chose_workers")  # its stream depends on the worker count
    assert all(s["workers"] == 0 for s in result["settings"])
    assert_consistent(result)


def test_a_dataset_that_reads_a_deferred_value_is_verified_not_crashed():
    loader = DataLoader(lt.PeekingImages(n=48), batch_size=8)
    plan = {"schema": "codedag.plan/1", "context_device_map": {"loop_targets.brighten": "batch:cpu"}}
    result = codedag.optimize_pipeline(loader, plan=plan, quiet=True, keep=False, tune_workers=False, **QUICK)
    assert result["verification"]["ok"], result["reason"]
    assert result["fallbacks"] > 0  # every read sample was computed in place, and counted
    assert_consistent(result)


def test_persistent_workers_measure_the_plan_and_keep_no_stale_workers():
    loader = DataLoader(lt.Images(n=64), batch_size=8, num_workers=2, persistent_workers=True,
                        multiprocessing_context="fork")
    list(loader)  # workers started before the loop, running the original code
    plan = {"schema": "codedag.plan/1", "context_device_map": {"loop_targets.brighten": "batch:cpu"}}
    result = codedag.optimize_pipeline(loader, plan=plan, quiet=True, keep=True, min_speedup=0.0,
                                       tune_workers=False, **QUICK)
    try:
        assert result.kept, result["reason"]
        assert loader._iterator is None  # the next epoch starts workers that carry the plan
        list(loader)
        assert result.migrator.stats["vectorised"] == {"loop_targets.brighten": True}
    finally:
        result.migrator.restore()


def test_a_worker_count_in_the_plan_is_tried_as_the_plan_and_as_a_plain_loader():
    loader = DataLoader(lt.Images(n=96), batch_size=8)
    plan = {"schema": "codedag.plan/1", "context_device_map": {"loop_targets.brighten": "batch:cpu"},
            "parallelism": {"workers": 1, "threads_per_worker": 1, "plain_workers": 2}}
    result = codedag.optimize_pipeline(loader, plan=plan, quiet=True, keep=False, **QUICK)
    names = [s["name"] for s in result["settings"]]
    assert names[:4] == ["untouched", "plan, 1 workers", "plan, 1 workers, threads as torch leaves them",
                         "plain, 2 workers"], result["reason"]
    # The plain loader with threads limited as the plan reads, and as torch leaves them.
    assert names[4:] in ([], ["plain, 2 workers, threads as torch leaves them"])
    assert set(result["verifications"]) == set(names[1:])
    assert result["verifications"]["plain, 2 workers"]["migrated_workers"] == 2
    assert_consistent(result)
    assert loader.num_workers == 0


def test_bad_arguments_are_refused_before_anything_runs():
    loader = DataLoader(lt.Images(n=8), batch_size=4)
    with pytest.raises(codedag.InputError, match="measure_batches"):
        codedag.optimize_pipeline(loader, measure_batches=1, quiet=True)
    with pytest.raises(codedag.InputError, match="DataLoader"):
        codedag.optimize_pipeline([1, 2], quiet=True)


def test_a_short_loader_is_measured_over_several_epochs():
    from codedag.pipeline.measurement import measure_once

    loader = DataLoader(lt.Images(n=12), batch_size=4)  # 3 batches an epoch
    assert measure_once(loader, batches=7, warmup=2) > 0  # 9 batches: three epochs
    with pytest.raises(ValueError, match="too few batches"):
        measure_once(DataLoader(lt.Images(n=0), batch_size=4), batches=3, warmup=1)


def test_the_plain_grid_covers_zero_to_the_users_workers_and_one_more_within_the_cores():
    from codedag.pipeline.closed_loop import _plain_grid

    # 2 workers on 2 cores, the model prefers 1: 0, 1 and 2 (2 with one thread each; not 3 > cores).
    # Other worker counts than the user's also with the threads as torch leaves them (None).
    grid = _plain_grid(2, {"cores": 2.0, "plain_workers": 1, "plain_threads_per_worker": 2})
    assert grid == [(0, None), (1, 2), (1, None), (2, 1)]
    # 1 worker on 4 cores, the model prefers 4: 0, 1 (threads as the engine divides the cores), 2, 4.
    grid = _plain_grid(1, {"cores": 4.0, "plain_workers": 4, "plain_threads_per_worker": 1})
    assert [w for w, t in grid if t is not None or w == 0] == [0, 1, 2, 4]
    assert [w for w, t in grid if t is None] == [0, 2, 4]
    assert grid[1] == (1, codedag._core.threads_per_worker(4.0, 1)) == (1, 4)
    # 0 workers, cores unknown: only the model's choice (0 workers itself is the untouched loader).
    assert _plain_grid(0, {"plain_workers": 2}) == [(2, None)]


def test_the_suggested_batch_size_is_measured_only_when_asked():
    # A batch size changes training: reported always, tried only with tune_batch_size.
    loader = DataLoader(lt.Images(n=64), batch_size=2)
    plain = codedag.optimize_pipeline(loader, quiet=True, keep=False, **QUICK)
    assert all(s["batch_size"] is None for s in plain["settings"])
    assert plain["batch_size"] == 2 and plain["suggested_batch_size"] is not None
    asked = codedag.optimize_pipeline(loader, quiet=True, keep=False, tune_batch_size=True, **QUICK)
    suggested = asked["suggested_batch_size"]
    tried = {s["batch_size"] for s in asked["settings"] if s["batch_size"]}
    # The suggestion and twice the user's batch (a hand-tuner's first step), plain at 0 workers too.
    assert tried == ({suggested, 4} - {2} if suggested else {4}), asked["settings"]
    assert any(s["batch_size"] == 4 and s["workers"] == 0 and s["kind"] == "plain" for s in asked["settings"])
    if suggested in (None, 0, 2):
        assert any(n.startswith("batch size: the optimizer suggests none") for n in asked["notes"])
    assert loader.batch_size == 2 and [len(y) for _, y in loader][:2] == [2, 2]


def test_a_fast_pipeline_is_measured_for_a_minimum_time():
    # 10 batches of a fast loader last milliseconds; the measurement goes on (epochs included) until
    # min_seconds have passed, so one scheduler hiccup cannot decide a comparison.
    import time

    from codedag.pipeline.measurement import measure_once

    loader = DataLoader(lt.Images(n=16), batch_size=4)
    t0 = time.perf_counter()
    rate = measure_once(loader, batches=2, warmup=1, min_seconds=0.2)
    assert time.perf_counter() - t0 >= 0.2 and rate > 0
    t0 = time.perf_counter()
    measure_once(loader, batches=2, warmup=1)
    assert time.perf_counter() - t0 < 0.2  # without it: the batches asked for


def test_a_budget_too_small_to_trace_keeps_nothing_says_so_and_restores_everything():
    loader = DataLoader(lt.Images(n=48), batch_size=8)
    result = codedag.optimize_pipeline(loader, quiet=True, keep=True, budget_s=1e-3, **QUICK)
    assert not result.kept and result.migrator is None
    assert "budget of 0.001 s ran out after trace" in result["reason"] and "nothing kept" in result["reason"]
    assert result["budget"]["ran_out"] and result["budget"]["cut"] == ["not run: calibrate, optimize and verify"]
    assert set(result["phase_seconds"]) == {"trace"}  # nothing ran after the budget was spent
    assert loader.num_workers == 0 and [len(y) for _, y in loader][:2] == [8, 8]


def test_a_budget_cuts_measurement_rounds_and_decides_on_what_it_measured(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    loader = DataLoader(lt.Images(n=48), batch_size=8)
    plan = {"schema": "codedag.plan/1", "context_device_map": {"loop_targets.brighten": "batch:cpu"}}
    quick = dict(QUICK, repeats=1000)
    result = codedag.optimize_pipeline(loader, plan=plan, keep=False, tune_workers=False, budget_s=3.0, **quick)
    rounds = len(result["settings"][0]["samples_per_s"])
    assert 1 <= rounds < 1000, result["reason"]
    assert result["budget"]["ran_out"] and result["budget"]["cut"] == [f"measurement: {rounds} of 1000 rounds"]
    assert result["seconds"] < 3.0 + 2.0  # a round may overrun the estimate, not the budget many times over
    if result.kept:
        assert result["interval"]["has_interval"] and result["interval"]["lower"] >= 1.05
        assert f"{rounds} of 1000 rounds within the budget" in result["reason"]
    else:
        iv = result["interval"]
        assert f"ran out after {rounds} of 1000 measurement rounds" in result["reason"]
        assert f"[{iv['lower']:.2f}, {iv['upper']:.2f}]" in result["reason"]
    assert f"budget 3 s: measurement: {rounds} of 1000 rounds" in out.getvalue()
    assert_consistent(result)


def test_one_round_within_the_budget_is_inconclusive_never_kept():
    from codedag.pipeline.measurement import Setting, interleave

    loader = DataLoader(lt.Images(n=16), batch_size=4)
    settings = [Setting("untouched", "untouched", 0), Setting("again", "untouched", 0)]
    import time

    assert interleave(loader, settings, 5, 2, deadline=time.perf_counter()) == 1  # the first round always runs
    assert [len(s.samples_per_s) for s in settings] == [1, 1]
    assert interleave(loader, settings, 2, 2, deadline=time.perf_counter() + 600) == 2


def test_a_clearly_beaten_setting_is_raced_out_after_two_rounds():
    # Workers restarted every epoch of a tiny dataset run many times slower than 0 workers: measuring
    # them five rounds was most of an 18-minute loop on the corpus. The baseline runs every round.
    from codedag.migration import PipelineMigrator
    from codedag.pipeline.closed_loop import _plain_plan
    from codedag.pipeline.measurement import Setting, interleave

    loader = DataLoader(lt.Images(n=8), batch_size=4)
    slow = Setting("plain, 2 workers", "plain", 2,
                   PipelineMigrator.from_plan(_plain_plan(2, None), loader=loader, apply_workers=True))
    settings = [Setting("untouched", "untouched", 0), slow]
    assert interleave(loader, settings, 4, 2) == 4
    assert len(settings[0].samples_per_s) == 4 and settings[0].beaten is None
    assert len(slow.samples_per_s) == 2, slow.samples_per_s
    assert slow.beaten.startswith("out after 2 rounds") and "untouched's slowest" in slow.beaten
    assert slow.describe()["beaten"] == slow.beaten
    assert loader.num_workers == 0


def test_racing_skips_a_setting_with_an_unusable_rate_instead_of_raising():
    from codedag.pipeline.measurement import Setting, _race

    base, zero, slow = Setting("untouched", "untouched", 0), Setting("zero", "plain", 2), Setting("slow", "plain", 1)
    base.samples_per_s, zero.samples_per_s, slow.samples_per_s = [100.0, 90.0], [0.0, 1.0], [1.0, 2.0]
    _race([base, zero, slow], 2)  # the engine refuses a zero rate; the loop must not raise for it
    assert zero.beaten is None and slow.beaten.startswith("out after 2 rounds")


def test_a_generous_budget_changes_nothing():
    loader = DataLoader(lt.Images(n=48), batch_size=8)
    plan = {"schema": "codedag.plan/1", "context_device_map": {"loop_targets.brighten": "batch:cpu"}}
    result = codedag.optimize_pipeline(loader, plan=plan, quiet=True, keep=False, tune_workers=False, budget_s=600,
                                       **QUICK)
    assert result["budget"] == {"seconds": 600, "ran_out": False, "cut": []}
    assert all(len(s["samples_per_s"]) == 2 for s in result["settings"] if not s["error"])
    assert "budget" not in result["reason"]
    unlimited = codedag.optimize_pipeline(loader, plan=plan, quiet=True, keep=False, tune_workers=False, **QUICK)
    assert unlimited["budget"] is None


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "abc", True])
def test_a_budget_must_be_a_positive_number(bad):
    loader = DataLoader(lt.Images(n=8), batch_size=4)
    with pytest.raises(codedag.InputError, match="budget_s must be a positive number"):
        codedag.optimize_pipeline(loader, budget_s=bad, quiet=True)
