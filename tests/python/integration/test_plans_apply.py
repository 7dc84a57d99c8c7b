"""Every context a plan moves is one the migrator patches: each example pipeline, the test
pipelines here and every tests/pipelines/*.py defining make_loader() go through trace -> optimize
-> get_migration_plan -> apply, and (skipped ∪ unresolved) ∩ moved must be empty.

The device model is optimistic on purpose (batch:cpu 16x faster than a worker): the optimizer then
moves everything the constraints let it move, which is what is being checked, not whether moving
pays off on this machine."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader  # noqa: E402

import codedag  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "python"))


def _module(path: Path):
    name = f"_plans_apply_{path.parent.name}_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # spawned workers and plan keys find it by this name
    spec.loader.exec_module(module)
    return module


def _examples(tmp: Path) -> dict:
    image = _module(ROOT / "examples" / "image" / "pipeline.py")
    audio = _module(ROOT / "examples" / "audio" / "birdclef.py")
    scans = _module(ROOT / "examples" / "numpy_cv" / "pipeline.py")
    demo = _module(ROOT / "examples" / "trace_demo.py")
    return {
        "examples/image": lambda: DataLoader(image.ImageDataset(image.generate_images(tmp / "img", n=8)), batch_size=4),
        "examples/audio": lambda: DataLoader(audio.BirdCLEFDataset(audio.synthesise_dataset(tmp / "wav", n_files=4)),
                                             batch_size=4),
        "examples/numpy_cv": lambda: DataLoader(scans.ScanDataset(n=8), batch_size=4),
        "examples/trace_demo": lambda: DataLoader(demo.ImageFolderLike(n=8), batch_size=4),
    }


def _corpus() -> dict:
    out = {}
    for path in sorted((ROOT / "tests" / "pipelines").glob("*.py")):
        if path.stem.startswith("_"):
            continue
        module = importlib.import_module(f"pipelines.{path.stem}")  # the corpus is a package
        if callable(getattr(module, "make_loader", None)):
            out[f"tests/pipelines/{path.stem}"] = module.make_loader
    return out


def plan_and_apply(make_loader) -> dict:
    loader = make_loader()
    tracer = codedag.EnhancedTracer(max_depth=10)
    iterator = iter(loader)
    with tracer.tracing_context():
        next(iterator)
    del iterator
    model = codedag.DeviceModel.defaults(workers=max(1, loader.num_workers))
    model.batch_speedup = 16.0
    opt = codedag.OptimizerManager(k=2, gpu_count=0, device_model=model)
    res = opt.optimize(tracer.dag)
    plan = opt.get_migration_plan(res["optimized_partitions"], res["coarsened_dag"], gpu_count=0)
    moved = {k for k, v in plan["context_device_map"].items() if v != "cpu"}
    with codedag.PipelineMigrator.from_plan(plan) as migrator:
        stats = dict(migrator.stats)
        next(iter(make_loader()))  # the migrated pipeline still produces a batch
    return {"moved": moved, "stats": stats, "plan": plan, "dag": tracer.dag}


def test_every_pipeline_moves_only_what_the_migrator_patches(tmp_path):
    cases = {**_examples(tmp_path), **_corpus()}
    total_moved, failures, call_sites = 0, {}, set()
    for name, make_loader in cases.items():
        got = plan_and_apply(make_loader)
        stats, moved = got["stats"], got["moved"]
        refused = (set(stats["skipped"]) | set(stats["unresolved"])) & moved
        if refused:
            failures[name] = {k: stats["reasons"].get(k) for k in refused}
        assert stats["patched"] == len(moved) or refused, (name, stats)
        total_moved += len(moved)
        call_sites |= {k for k in moved if "->" in k}
    assert failures == {}
    # Something non-trivial was tested: plans moved contexts, and a call site among them.
    assert total_moved >= len(cases), total_moved
    # The heavy library call made in callsite_pipeline's pinned __getitem__ is planned, and patched, at
    # its call site -- even when this process traces librosa's first call (its lazy imports and numba
    # compilation are warm-up, not the DAG).
    assert "pipelines.callsite_pipeline.ClipDataset.__getitem__->librosa.feature.melspectrogram" in call_sites, \
        call_sites
