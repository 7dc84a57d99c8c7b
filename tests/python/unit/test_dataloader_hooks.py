"""codedag.dataloader_hooks owns every patch of torch.utils.data: the tracer and the migrator both
step in through it, in any order, and when the last of them leaves, torch's own objects are back.

The orders run in a fresh interpreter (``run_every_order``): tracers other tests left for the
garbage collector would otherwise keep the tracer's hook registered.
"""

from __future__ import annotations

import gc
import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import python_env

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader, _utils, dataloader  # noqa: E402

import codedag  # noqa: E402
from codedag import dataloader_hooks  # noqa: E402

M = "test_migration_targets"
PATCHED = [
    (dataloader._MultiProcessingDataLoaderIter, "__init__"),
    (dataloader._MultiProcessingDataLoaderIter, "_reset"),
    (dataloader._MultiProcessingDataLoaderIter, "_process_data"),
    (dataloader._MultiProcessingDataLoaderIter, "_next_data"),
    (dataloader._SingleProcessDataLoaderIter, "_next_data"),
    (dataloader._BaseDataLoaderIter, "__next__"),
]


def torch_state() -> tuple:
    """The identities of everything the hooks may replace."""
    return tuple(owner.__dict__[name] for owner, name in PATCHED) + (dict(_utils.collate.default_collate_fn_map),)


def plan():
    keys = [f"{M}.spectrum", f"{M}.normalise"]
    return {"schema": "codedag.plan/1", "context_device_map": {k: "batch:cpu" for k in keys},
            "modes": {k: "batched" for k in keys}}


def check_state(tracer, migrator, workers: int) -> None:
    """One batch through a fresh iterator: traced when a tracer is alive, migrated when a plan is on."""
    import test_migration_targets as t

    loader = DataLoader(t.WaveDataset(n=8), batch_size=4, num_workers=workers,
                        multiprocessing_context="fork" if workers else None)
    if migrator is not None:
        migrator.output_contexts.clear()
    iterator = iter(loader)
    # Two batches: each process's first fetch under a plan runs in place (deferral_gate.py decides
    # there which planned calls may defer); the second is migrated.
    if tracer is not None:
        tracer.reset()
        with tracer.tracing_context():
            x, _ = next(iterator)
            x, _ = next(iterator)
        names = {n.qualname for n in tracer.dag.nodes}
        assert f"{M}.WaveDataset.__getitem__" in names, names
    else:
        x, _ = next(iterator)
        x, _ = next(iterator)
    del iterator
    assert isinstance(x, torch.Tensor) and x.shape[0] == 4
    migrated = migrator is not None and migrator.is_applied()
    # A migrated batch carried deferred values that were evaluated here, after collation.
    assert bool(migrator is not None and migrator.output_contexts) == migrated


def run_every_order(workers: int) -> int:
    """Every interleaving of (tracer created, tracer gone) with (plan applied, plan restored)."""
    from codedag.migration import PipelineMigrator

    pristine = torch_state()
    events = ["tracer", "apply", "restore", "untrace"]
    orders = [o for o in itertools.permutations(events)
              if o.index("tracer") < o.index("untrace") and o.index("apply") < o.index("restore")]
    for order in orders:
        tracer = migrator = None
        for event in order:
            if event == "tracer":
                tracer = codedag.EnhancedTracer(max_depth=4)
            elif event == "untrace":
                tracer = None
                gc.collect()  # the tracer's hook leaves with the last tracer
            elif event == "apply":
                migrator = PipelineMigrator.from_plan(plan())
                migrator.apply()
            else:
                migrator.restore()
            check_state(tracer, migrator, workers)
        assert not dataloader_hooks.installed(), order
        assert torch_state() == pristine, f"torch.utils.data not restored after {order}"
    return len(orders)


@pytest.mark.parametrize("workers", [0, 1])
def test_tracer_and_migrator_in_every_order_leave_torch_as_it_was(workers):
    assert "result 6" in _in_fresh_interpreter(f"run_every_order({workers})")


class Recorder(dataloader_hooks.LoaderHook):
    def __init__(self, rank, log):
        self.rank, self.log = rank, log

    def around_next(self, iterator, next_batch):
        self.log.append(f"enter {self.rank}")
        batch = next_batch()
        self.log.append(f"leave {self.rank}")
        return batch


def test_hooks_nest_by_rank_whatever_order_they_were_added_in():
    log: list[str] = []
    low, high = Recorder(0, log), Recorder(20, log)
    dataloader_hooks.add(high)
    dataloader_hooks.add(low)
    dataloader_hooks.add(low)  # twice is once
    try:
        next(iter(DataLoader(list(range(4)), batch_size=2)))
    finally:
        dataloader_hooks.remove(high)
        dataloader_hooks.remove(low)
    assert log == ["enter 20", "enter 0", "leave 0", "leave 20"]


def run_wrapped_by_someone_else() -> str:
    """Another library wraps our wrapper: removing our hook leaves theirs (and ours inside it) in
    place, adding it again does not wrap twice, and putting torch's own method back is noticed."""
    hook = Recorder(0, [])
    dataloader_hooks.add(hook)
    ours = dataloader._BaseDataLoaderIter.__next__

    def theirs(self):
        return ours(self)

    dataloader._BaseDataLoaderIter.__next__ = theirs
    dataloader_hooks.remove(hook)
    assert dataloader._BaseDataLoaderIter.__next__ is theirs  # theirs survives our removal
    dataloader_hooks.add(hook)
    assert dataloader._BaseDataLoaderIter.__next__ is theirs  # and ours is not wrapped twice
    next(iter(DataLoader(list(range(4)), batch_size=2)))
    assert hook.log == ["enter 0", "leave 0"]
    dataloader_hooks.remove(hook)
    dataloader._BaseDataLoaderIter.__next__ = ours.__wrapped__  # they restore torch's own
    assert not dataloader_hooks.installed()
    dataloader_hooks.add(hook)  # a stale entry is wrapped anew
    assert dataloader._BaseDataLoaderIter.__next__ is not ours.__wrapped__
    dataloader_hooks.remove(hook)
    assert dataloader._BaseDataLoaderIter.__next__ is ours.__wrapped__
    return "ok"


def _in_fresh_interpreter(call: str) -> str:
    here = Path(__file__).parent
    code = (f"import sys; sys.path[:0] = [{str(here)!r}, {str(here.parent)!r}]\n"
            f"import test_dataloader_hooks as t\nprint('result', t.{call})")
    proc = subprocess.run([sys.executable, "-c", code], env=python_env(), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def test_a_wrapper_someone_else_wrapped_is_left_in_place_and_not_doubled():
    assert "result ok" in _in_fresh_interpreter("run_wrapped_by_someone_else()")


def test_collate_entries_put_back_what_was_there():
    class Marker:
        pass

    table = _utils.collate.default_collate_fn_map
    dataloader_hooks.add_collate(Marker, lambda batch, **kw: "first")
    dataloader_hooks.add_collate(Marker, lambda batch, **kw: "second")
    assert table[Marker](None) == "second"
    dataloader_hooks.remove_collate(Marker)
    assert Marker not in table
    before = table[torch.Tensor]
    dataloader_hooks.add_collate(torch.Tensor, lambda batch, **kw: None)
    dataloader_hooks.remove_collate(torch.Tensor)
    assert table[torch.Tensor] is before
