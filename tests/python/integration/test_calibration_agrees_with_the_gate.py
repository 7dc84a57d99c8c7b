"""Calibration and the deferral gate agree: what calibration proposes is made of steps whose values
reach the batch, and the plan is made on what calibration learned (pipeline/calibration.py). A
step the gate refuses is pinned to the workers; a Compose that cannot vectorise as a whole (its
last transform draws randomness) gives way to its deterministic transforms, tried on their own."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader  # noqa: E402

import codedag  # noqa: E402
from codedag.migration import PipelineMigrator  # noqa: E402
from codedag.pipeline.calibration import REFUSED, calibrate  # noqa: E402
from codedag.pipeline.verification import verify  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "python" / "unit"))
import loop_targets as lt  # noqa: E402

MEL = "pipelines.audio_mel."


def traced(loader):
    tracer = codedag.EnhancedTracer(max_depth=10, track_memory=True)
    iterator = iter(loader)
    with tracer.tracing_context():
        next(iterator)
    del iterator
    return tracer.dag


def moved(plan):
    return sorted(k for k, v in plan["context_device_map"].items() if v != "cpu")


def test_a_compose_that_cannot_vectorise_gives_way_to_its_transforms():
    from pipelines import audio_mel

    loader = audio_mel.make_loader(num_workers=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = calibrate(loader, traced(loader), handoff=False)
    details = found.details
    assert details.get("pinned_to_workers", {}) == {}, details  # every step tried deferred
    assert details["timings"], details.get("why")
    # The last candidate: the transforms themselves; Compose (whose whole call draws randomness
    # through FrequencyMasking) and fix_length (slices its input's first dimension) measured no gain.
    last = details["candidate"]
    assert f"{MEL}MelSpectrogram.forward" in last and f"{MEL}Compose.__call__" not in last, details["rounds"]
    assert details["vectorised"][f"{MEL}MelSpectrogram.forward"] is True
    assert details["vectorised"][f"{MEL}FrequencyMasking.forward"] is False  # it draws per sample
    # The measured steps carry their batch times into the DAG the optimizer plans on.
    nodes = {n["qualname"]: n for n in found.dag.to_dict()["nodes"]}
    assert nodes[f"{MEL}MelSpectrogram.forward"]["batch_ns"] is not None
    assert nodes[f"{MEL}Compose.__call__"]["batch_ns"] == pytest.approx(nodes[f"{MEL}Compose.__call__"]["cpu_ns"])
    # That candidate moves code with two forked workers and gives the untouched batches.
    plan = {"schema": "codedag.plan/1", "context_device_map": {k: "batch:cpu" for k in last}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        migrator = PipelineMigrator.from_plan(plan)
        report = verify(loader, plan, batches=3, migrator=migrator)
    assert report.ok, [o.get("detail") for o in report["outputs"]]
    assert not any("outside the plan" in r for r in migrator.stats["fallback_reasons"].values()), migrator.stats
    assert any(f"{MEL}MelSpectrogram.forward" in keys for keys in migrator.output_contexts.values())


def test_a_step_the_gate_refuses_is_pinned_and_never_planned():
    # as_array's value goes to torch.from_numpy (C code) and image's to as_array: the gate refuses
    # both in calibration; the DAG the optimizer plans on says so, and no plan made on it moves
    # them, however optimistic the model. brighten, whose value reaches the batch, still may.
    loader = DataLoader(lt.SeededImages(n=24), batch_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = calibrate(loader, traced(loader), handoff=False)
    pinned = found.details.get("pinned_to_workers", {})
    for key in ("loop_targets.as_array", "loop_targets.image"):
        assert "outside the plan" in pinned.get(key, ""), found.details
        nodes = [n for n in found.dag.to_dict()["nodes"] if n["qualname"] == key]
        assert nodes and all(not n["gpu_eligible"] and REFUSED in n["blocked_by"] for n in nodes)
    assert "loop_targets.brighten" not in pinned and found.details["vectorised"]["loop_targets.brighten"]
    model = codedag.DeviceModel.from_dict(found.model.to_dict())
    model.batch_speedup = 16.0
    manager = codedag.OptimizerManager(k=2, device_model=model, gpu_count=0, workers=1)
    planned = moved(manager.optimize(found.dag)["plan"])
    assert not set(planned) & set(pinned), planned
