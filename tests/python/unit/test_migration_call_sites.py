"""Call-site plan keys ("caller->callee"): the library call is intercepted only when made from the
planned caller; every other call site runs the original; restore is exact."""

from __future__ import annotations

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
librosa = pytest.importorskip("librosa")
from torch.utils.data import DataLoader  # noqa: E402

import codedag  # noqa: E402
from codedag.migration import call_sites  # noqa: E402
from pipelines import callsite_pipeline as p  # noqa: E402

CALLER = "pipelines.callsite_pipeline.ClipDataset.__getitem__"
CALLEE = "librosa.feature.spectral.melspectrogram"
KEY = f"{CALLER}->{CALLEE}"


LOG = "pipelines.callsite_pipeline.log_scale"  # consumes the call's output: moves with it


def plan(keys=(KEY, LOG), mode="batched"):
    return {"schema": "codedag.plan/1", "context_device_map": {k: "batch:cpu" for k in keys},
            "modes": {k: mode for k in keys}}


def batches(loader):
    return [(x.clone(), y.clone()) for x, y in loader]


def test_only_the_planned_caller_is_intercepted_and_restore_is_exact():
    original = librosa.feature.melspectrogram  # librosa loads its submodules lazily
    spectral = sys.modules[original.__module__]
    loader = DataLoader(p.ClipDataset(n=8), batch_size=4)
    baseline = batches(loader)
    with codedag.PipelineMigrator.from_plan(plan()) as m:
        assert m.stats["patched"] == 2 and m.stats["skipped"] == [] and m.stats["unresolved"] == []
        assert vars(spectral)["melspectrogram"] is not original
        # Another call site, inside a DataLoader fetch too: the original runs, nothing is deferred.
        inside = DataLoader([p.wave(1)[:2000]] * 4, batch_size=4, collate_fn=lambda xs: [p.mel_elsewhere(x) for x in xs])
        assert all(isinstance(v, np.ndarray) for v in next(iter(inside)))
        migrated = batches(loader)
        # The planned call ran after collation, over the batch (deferred out of __getitem__).
        assert any(KEY in keys for keys in m.output_contexts.values()), m.output_contexts
        assert m.stats["fallbacks"] == 0, m.stats["fallback_contexts"]
    assert vars(spectral)["melspectrogram"] is original
    assert librosa.feature.melspectrogram is original
    for (gx, gy), (wx, wy) in zip(migrated, baseline, strict=True):
        torch.testing.assert_close(gx, wx, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(gy, wy)


def test_two_workers_equal_the_baseline():
    # Two batches per worker: each worker's first fetch runs in place (deferral_gate.py), the second defers.
    loader = DataLoader(p.ClipDataset(n=16), batch_size=4, num_workers=2, multiprocessing_context="fork")
    baseline = batches(DataLoader(p.ClipDataset(n=16), batch_size=4))
    with codedag.PipelineMigrator.from_plan(plan()) as m:
        migrated = batches(loader)
        assert any(KEY in keys for keys in m.output_contexts.values())
    for (gx, _), (wx, _) in zip(migrated, baseline, strict=True):
        torch.testing.assert_close(gx, wx, rtol=1e-4, atol=1e-5)


def test_unresolvable_call_sites_are_reported():
    keys = {f"{CALLER}->librosa.no_such_function": "batch:cpu",
            f"pipelines.callsite_pipeline.nothing_here->{CALLEE}": "batch:cpu",
            f"json.dumps->{CALLEE}": "batch:cpu"}
    with codedag.PipelineMigrator.from_plan({"schema": "codedag.plan/1", "context_device_map": keys}) as m:
        assert m.stats["patched"] == 0 and sorted(m.stats["unresolved"]) == sorted(keys)
        assert "library code" in m.stats["reasons"][f"json.dumps->{CALLEE}"]


def test_the_frame_check_skips_library_frames_to_find_the_caller():
    import inspect

    found = []

    def patched_library_function(value):  # what the dispatcher stands for
        found.append(call_sites.calling_user_code())
        return False

    def user_caller():
        inspect.getmembers(object(), patched_library_function)  # stdlib (library) code calls it

    user_caller()
    assert found and all(code is user_caller.__code__ for code in found)
