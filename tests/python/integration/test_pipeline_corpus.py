"""Every pipeline of the corpus (tests/pipelines, protocol in its README) traces to a DAG holding its
key contexts and data edges: with num_workers=0, and with two workers (forked, spawned or persistent,
as the pipeline builds them) in both iterator orders — the iterator made inside tracing_context()
(and thrown away: the README's `next(iter(loader))`) or made before it."""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import pytest

pytest.importorskip("torch")
TESTS = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TESTS))

import codedag  # noqa: E402


def corpus() -> list[str]:
    names = []
    for path in sorted((TESTS / "pipelines").glob("*.py")):
        if not path.stem.startswith("_") and "def make_loader(" in path.read_text():
            names.append(path.stem)
    return names


def test_the_corpus_has_at_least_twelve_pipelines():
    assert len(corpus()) >= 12, corpus()


def suffix_match(qualname: str, wanted: str) -> bool:
    return qualname == wanted or qualname.endswith("." + wanted)


def check(module, dag, how: str) -> None:
    names = [n.qualname for n in dag.nodes]
    missing = [w for w in module.EXPECTED_CONTEXTS if not any(suffix_match(q, w) for q in names)]
    assert not missing, f"{module.__name__} ({how}): contexts {missing} missing from {sorted(set(names))}"
    by_id = {n.id: n.qualname for n in dag.nodes}
    edges = [(by_id[e.src], by_id[e.dst]) for e in dag.edges if e.kind == codedag.EdgeKind.data]
    for src, dst in module.EXPECTED_EDGES:
        assert any(suffix_match(a, src) and suffix_match(b, dst) for a, b in edges), (
            f"{module.__name__} ({how}): no data edge {src} -> {dst}; edges: {sorted(edges)}"
        )
    # Numbers are per batch: one batch of samples went through the dataset.
    assert dag.meta["batches"] == 1
    getitem = [n for n in dag.nodes if n.qualname.endswith(("__getitem__", "__iter__"))]
    assert getitem and all(n.calls >= 1 for n in getitem)


def trace(module, workers: int, order: str):
    loader = module.make_loader(num_workers=workers)
    tracer = codedag.EnhancedTracer()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "not captured" / "not finished" would fail here
        if order == "inside":
            with tracer.tracing_context():
                batch = next(iter(loader))  # the iterator is thrown away inside the block
        else:
            iterator = iter(loader)
            with tracer.tracing_context():
                batch = next(iterator)
            del iterator
    assert batch is not None
    return tracer.dag


@pytest.mark.parametrize("name", corpus())
def test_pipeline_traces_in_process(name):
    module = importlib.import_module(f"pipelines.{name}")
    check(module, trace(module, 0, "inside"), "num_workers=0")


@pytest.mark.parametrize("order", ["inside", "before"])
@pytest.mark.parametrize("name", corpus())
def test_pipeline_traces_with_workers(name, order):
    module = importlib.import_module(f"pipelines.{name}")
    dag = trace(module, 2, order)
    check(module, dag, f"2 workers, iterator made {order} tracing_context()")
    assert dag.meta["workers"] == 2
