"""PipelineMigrator.apply()/restore(): resolution of every kind of callable, identity on restore,
rollback on failure, no-op re-apply, unresolvable keys, thread safety, plan errors."""

import sys
import threading

import pytest
import test_migration_targets as t
import torch
from test_migration_targets import scale as imported_scale  # a `from x import f` binding

import codedag
from codedag.migration import PipelineMigrator

M = "test_migration_targets"


def plan(mapping, modes=None):
    return {"schema": "codedag.plan/1", "context_device_map": mapping, "modes": modes or {}}


def inline(*keys, device="batch:cpu"):
    return plan({k: device for k in keys}, {k: "inline" for k in keys})


def raw(owner, name):
    return vars(owner)[name]


def test_every_kind_of_callable_is_patched_and_restored_identically():
    keys = [f"{M}.scale", f"{M}.Ops.shift", f"{M}.Ops.negate", f"{M}.Ops.make", f"{M}.mel", f"{M}.net",
            f"{M}.Mel.__call__"]
    before = {
        "scale": t.scale, "shift": raw(t.Ops, "shift"), "negate": raw(t.Ops, "negate"), "make": raw(t.Ops, "make"),
        "call": raw(t.Mel, "__call__"), "forward": raw(t.Net, "forward"), "imported": imported_scale,
    }
    m = PipelineMigrator.from_plan(plan({k: "batch:cpu" for k in keys}, {k: "inline" for k in keys}))
    stats = m.apply()
    try:
        # `mel` and `Mel.__call__` are the same function: patched once, the second reported as skipped
        # (the plan reader keeps keys sorted, so `Mel.__call__` comes first).
        assert stats["patched"] == 6, stats
        assert stats["skipped"] == [f"{M}.mel"] and stats["unresolved"] == []
        assert "same function as" in stats["reasons"][f"{M}.mel"]
        assert t.scale is not before["scale"] and t.scale.__codedag_original__ is before["scale"]
        assert sys.modules[__name__].imported_scale is t.scale  # the `from x import f` copy too
        assert isinstance(raw(t.Ops, "negate"), staticmethod) and isinstance(raw(t.Ops, "make"), classmethod)
        assert raw(t.Net, "forward") is not before["forward"]
        # Behaviour is unchanged on the host executor.
        x = torch.ones(3)
        torch.testing.assert_close(t.scale(x), 2 * x)
        torch.testing.assert_close(t.Ops().shift(x), x + 1)
        torch.testing.assert_close(t.Ops.negate(x), -x)
        torch.testing.assert_close(t.Ops.make(3), torch.arange(3.0))
        torch.testing.assert_close(t.mel(x * 2), x * 4)
        torch.testing.assert_close(t.net(x), 3 * x)
    finally:
        m.restore()
    assert t.scale is before["scale"] and imported_scale is before["imported"]
    assert raw(t.Ops, "shift") is before["shift"] and raw(t.Ops, "negate") is before["negate"]
    assert raw(t.Ops, "make") is before["make"] and raw(t.Mel, "__call__") is before["call"]
    assert raw(t.Net, "forward") is before["forward"]
    assert not m.is_applied()


def test_apply_twice_is_a_no_op_and_context_manager_restores():
    original = t.scale
    m = PipelineMigrator.from_plan(inline(f"{M}.scale"))
    with m:
        first = t.scale
        assert m.apply() is m.stats and t.scale is first  # not wrapped twice
        assert m.is_applied()
    assert t.scale is original and not m.is_applied()
    m.restore()  # restoring again is harmless
    assert t.scale is original


def test_unresolvable_keys_are_reported_not_fatal():
    keys = [f"{M}.outer.<locals>.inner", f"{M}.<lambda>", f"{M}.does_not_exist", "no_such_module_xyz.f",
            f"{M}.scale"]
    with PipelineMigrator.from_plan(inline(*keys)) as m:
        stats = m.stats
        assert stats["patched"] == 1
        assert sorted(stats["unresolved"]) == sorted(keys[:4])
        assert "nested function" in stats["reasons"][keys[0]]
        assert "lambda" in stats["reasons"][keys[1]]
        assert "does_not_exist" in stats["reasons"][keys[2]]


def test_cpu_contexts_and_missing_gpus_are_skipped_with_a_reason():
    keys = {f"{M}.scale": "cpu", f"{M}.Ops.shift": "cuda:7"}
    with PipelineMigrator.from_plan(plan(keys)) as m:
        assert m.stats["patched"] == 0
        assert set(m.stats["skipped"]) == set(keys)
        assert "workers" in m.stats["reasons"][f"{M}.scale"]
        assert "cuda:7" in m.stats["reasons"][f"{M}.Ops.shift"]


def test_a_failure_half_way_through_apply_restores_everything():
    original_scale, original_run = t.scale, raw(t.Locked, "run")
    m = PipelineMigrator.from_plan(inline(f"{M}.scale", f"{M}.Locked.run"))
    with pytest.raises(codedag.StateError, match="Locked.*frozen"):
        m.apply()
    assert t.scale is original_scale and imported_scale is original_scale
    assert raw(t.Locked, "run") is original_run
    assert not m.is_applied()


def test_bad_plans_get_clear_errors(tmp_path):
    with pytest.raises(codedag.InputError, match="schema"):
        PipelineMigrator.from_plan({"schema": "codedag.plan/9", "context_device_map": {}})
    with pytest.raises(codedag.InputError, match="context_device_map"):
        PipelineMigrator.from_plan({"schema": "codedag.plan/1"})
    with pytest.raises(codedag.InputError, match="modes"):
        PipelineMigrator.from_plan(plan({f"{M}.scale": "batch:cpu"}, {f"{M}.scale": "sideways"}))
    with pytest.raises(codedag.FormatError, match="executors are cpu, batch:cpu and cuda:<n>"):
        PipelineMigrator.from_plan(plan({f"{M}.scale": "tpu:0"}))
    with pytest.raises(codedag.FormatError, match="executors are cpu, batch:cpu and cuda:<n>"):
        PipelineMigrator.from_plan(plan({f"{M}.scale": "cuda"}))  # the C++ reader's set, no aliases
    with pytest.raises(codedag.InputError, match="default_device"):
        PipelineMigrator.from_plan(plan({f"{M}.scale": "batch:cpu"}), default_device="gpu")
    with pytest.raises(codedag.NotFoundError, match="no such file"):
        PipelineMigrator.from_plan(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "codedag.plan/1",\n "context_device_map": {,}}')
    with pytest.raises(codedag.InputError, match="bad.json:2"):
        PipelineMigrator.from_plan(bad)
    assert t.scale.__name__ == "scale" and not hasattr(t.scale, "__codedag_original__")


def test_plan_from_a_file(tmp_path):
    import json

    path = tmp_path / "plan.json"
    path.write_text(json.dumps(inline(f"{M}.Ops.shift")))
    with PipelineMigrator.from_plan(str(path)) as m:
        assert m.stats["patched"] == 1


def test_concurrent_apply_and_restore_leave_the_original():
    original = t.scale
    # batch:cpu always runs batched, and only one batched plan may be applied at a time: a refused
    # apply (StateError) is an answer here, a wrapper around another plan's wrapper is the bug.
    migrators = [PipelineMigrator.from_plan(inline(f"{M}.scale")) for _ in range(4)]
    errors = []
    applied = []

    def churn(m):
        try:
            for _ in range(50):
                try:
                    stats = m.apply()
                except codedag.StateError:
                    assert not m.is_applied()
                    continue
                applied.append(1)
                # Overlapping plans never wrap each other's wrappers: one owns it, others skip.
                assert stats["patched"] + len(stats["skipped"]) == 1
                assert getattr(t.scale, "__codedag_original__", original) is original
                torch.testing.assert_close(t.scale(torch.ones(1)), torch.full((1,), 2.0))
                m.restore()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(m,)) for m in migrators]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert applied
    assert t.scale is original


def test_inline_moves_tensors_and_falls_back_to_the_cpu_once_per_context():
    # use_registry="always" takes the device path (argument copies, registry scope) on the CPU:
    # the same code a GPU executor runs.
    m = PipelineMigrator.from_plan(inline(f"{M}.scale", f"{M}.explode"), use_registry="always")
    x = torch.ones(2)
    with m:
        torch.testing.assert_close(t.scale([x, {"k": x}], factor=1)[0], x)  # containers are walked
        t.scale(x)
        # The CPU original fails too: its error is surfaced after the warning.
        with pytest.warns(RuntimeWarning, match="explode: failed on cpu"), pytest.raises(RuntimeError, match="no kernel"):
            t.explode(x)
        assert m.stats["fallbacks"] == 1
        with pytest.raises(RuntimeError):
            t.explode(x)
        assert m.stats["fallbacks"] == 2 and m.stats["fallback_contexts"] == {f"{M}.explode": 2}


def test_registry_dispatchers_are_scoped_to_the_plan_and_restored():
    import cv2
    import numpy as np

    original_resize, original_mean = cv2.resize, np.mean
    img = (np.arange(12 * 16 * 3) % 251).astype(np.float32).reshape(12, 16, 3)
    expected = t.thumbnail(img)
    m = PipelineMigrator.from_plan(inline(f"{M}.thumbnail"), use_registry="always")
    with m:
        assert {"cv2.resize", "numpy.mean", "numpy.subtract"} <= set(m.stats["library_calls"])
        assert cv2.resize is not original_resize
        # Outside the planned context the library behaves exactly as before.
        np.testing.assert_array_equal(cv2.resize(img, (8, 6)), original_resize(img, (8, 6)))
        assert isinstance(np.mean(img), np.floating)
        # Inside it, every call ran as torch code: the result is a tensor on the executor.
        out = t.thumbnail(img)
        assert isinstance(out, torch.Tensor)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-4)
        assert m.stats["fallbacks"] == 0
    assert cv2.resize is original_resize and np.mean is original_mean


def test_library_functions_in_a_plan_are_never_patched():
    import numpy as np

    keys = ["torch.stft", "torch.Tensor.numel", "numpy.mean", f"{M}.scale"]
    before = (torch.stft, np.mean, torch.Tensor.numel)
    with PipelineMigrator.from_plan(inline(*keys)) as m:
        assert m.stats["patched"] == 1
        assert sorted(m.stats["skipped"]) == sorted(keys[:3])
        assert "library" in m.stats["reasons"]["torch.stft"]
        assert torch.stft is before[0] and np.mean is before[1] and torch.Tensor.numel is before[2]


def test_default_device_moves_what_the_plan_put_on_its_default_executor():
    doc = plan({f"{M}.scale": "batch:cpu", f"{M}.Ops.shift": "batch:cpu"})
    doc["default_device"] = "batch:cpu"
    m = PipelineMigrator.from_plan(doc, default_device="cuda:0")
    assert m.plan["context_device_map"] == {f"{M}.scale": "cuda:0", f"{M}.Ops.shift": "cuda:0"}
    assert m.plan["default_device"] == "cuda:0"
    if not torch.cuda.is_available():
        stats = m.apply()
        try:
            assert stats["patched"] == 0 and sorted(stats["skipped"]) == sorted(doc["context_device_map"])
            assert "torch sees no CUDA device" in stats["reasons"][f"{M}.scale"]
        finally:
            m.restore()
    # None keeps the plan as it is.
    assert PipelineMigrator.from_plan(doc).plan["context_device_map"] == doc["context_device_map"]


def test_a_hand_written_placement_only_plan_is_read_like_any_other(tmp_path):
    import json

    hand = {"schema": "codedag.plan/1", "context_device_map": {f"{M}.scale": "batch:cpu"}}
    path = tmp_path / "hand.json"
    path.write_text(json.dumps(hand))
    read = codedag.load_plan(path)
    assert read["context_device_map"] == hand["context_device_map"] and "cost" not in read
    with PipelineMigrator.from_plan(path) as m:
        assert m.stats["patched"] == 1
