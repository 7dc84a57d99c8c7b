"""The full closed loop with the tracer and the optimizer: trace -> calibrate -> optimize -> plan ->
verify -> measure. Whether the plan is kept depends on this machine's speed, so the test checks
that every stage ran and that the decision is consistent with what was measured."""

import pytest
import test_migration_targets as t
from torch.utils.data import DataLoader

import codedag

pytestmark = pytest.mark.skipif(not hasattr(codedag, "EnhancedTracer") or not hasattr(codedag, "OptimizerManager"),
                                reason="tracer or optimizer not built")


def test_closed_loop_end_to_end_decision_matches_measurement(tmp_path):
    loader = DataLoader(t.WaveDataset(n=32), batch_size=8)
    result = codedag.optimize_pipeline(loader, verify_batches=2, measure_batches=2, repeats=1,
                                       export_dir=str(tmp_path), quiet=True, keep=False)
    calibration = result["optimizer"]["calibration"]
    assert result["optimizer"]["dag_nodes"] > 0
    assert "batch_speedup" in calibration or calibration.get("why")
    moved = [k for k, v in result["plan"]["context_device_map"].items() if v != "cpu"]
    if not moved:
        assert not result.kept and "nothing to migrate" in result["reason"]
        return
    assert result["predicted_speedup"] is not None
    if result["verification"] is None:  # the plan named only library/unpatchable contexts
        assert not result.kept and "no planned context could be applied" in result["reason"]
        return
    assert result["verification"]["ok"], result["verification"]
    assert result.kept == (result["measured_speedup"] >= 1.05)
    assert (tmp_path / "closed_loop.json").exists() and (tmp_path / "plan.json").exists()
    assert not result.migrator.is_applied()
