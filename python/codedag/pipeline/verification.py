"""codedag.verify: run the same batches (same indices, same seeds) without and with a plan and
compare every output.

Stochastic outputs are detected, not assumed: the baseline is run twice with the same seed and once
with another seed. An output that changes with the seed (or is not even reproducible under the same
seed) is *stochastic*; the migrated run cannot be expected to draw the same random numbers (its
planned steps run in another process, over whole batches), so such an output is compared by
distribution (mean and standard deviation) and reported as such. Everything else must be equal
within ``rtol``/``atol``; a mismatch names the planned contexts that produced that output.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..migration import PipelineMigrator


class VerificationReport(dict):
    """The verification result (a dict, JSON-serialisable) with ``ok`` and a readable ``str()``."""

    @property
    def ok(self) -> bool:
        return bool(self["ok"])

    def __str__(self) -> str:
        lines = [f"verification: {'passed' if self.ok else 'FAILED'} over {self['batches']} batch(es), seed {self['seed']}"]
        for out in self["outputs"]:
            lines.append(f"  {out['status']:<12} {out['path'] or '<batch>'} ({out['compared_by']}"
                         + (f", max |diff| {out['max_abs_diff']:.3g}" if out.get("max_abs_diff") is not None else "")
                         + (f", contexts: {', '.join(out['contexts'])}" if out["contexts"] else "") + ")")
        return "\n".join(lines)


def _index_batches(loader: DataLoader, batches: int, seed: int) -> list[list[int]]:
    if loader.batch_sampler is None:
        raise ValueError("verify needs a DataLoader that makes batches (batch_size is None here)")
    torch.manual_seed(seed)
    out = []
    for indices in loader.batch_sampler:
        out.append(list(indices))
        if len(out) == batches:
            break
    if not out:
        raise ValueError("the DataLoader yields no batches (empty dataset?)")
    return out


def _leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return [(path, torch.as_tensor(value).detach().cpu())]
    if isinstance(value, (tuple, list)):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}[{k!r}]")]
    return [(path, value)]


def _seed_all(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def _run(loader: DataLoader, index_batches: list[list[int]], seed: int, workers: int,
         migrator: PipelineMigrator | None = None) -> list[list[tuple[str, Any]]]:
    generator = _seed_all(seed)
    dl = DataLoader(loader.dataset, batch_sampler=index_batches, num_workers=workers,
                    collate_fn=loader.collate_fn, worker_init_fn=loader.worker_init_fn,
                    multiprocessing_context=loader.multiprocessing_context if workers else None,
                    generator=generator)
    if migrator is None:
        return [_leaves(b) for b in dl]
    with migrator:
        return [_leaves(b) for b in dl]


def _equal(a: Any, b: Any, rtol: float, atol: float) -> tuple[bool, float | None]:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False, None
        if a.is_floating_point() or a.is_complex():
            diff = float((a.to(torch.complex128 if a.is_complex() else torch.float64)
                          - b.to(torch.complex128 if b.is_complex() else torch.float64)).abs().max()) if a.numel() else 0.0
            return bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)), diff
        return bool(torch.equal(a, b)), float((a.long() - b.long()).abs().max()) if a.numel() else 0.0
    try:
        return bool(a == b), None
    except Exception:
        return False, None


def _same_distribution(base: list[torch.Tensor], other: list[torch.Tensor], tolerance: float) -> tuple[bool, dict]:
    b = torch.cat([t.flatten().double() for t in base])
    o = torch.cat([t.flatten().double() for t in other])
    bm, bs, om, os_ = float(b.mean()), float(b.std()), float(o.mean()), float(o.std())
    ok = abs(bm - om) <= tolerance * max(bs, 1e-12) + 1e-6 and abs(bs - os_) <= tolerance * max(bs, 1e-12) + 1e-6
    return ok, {"baseline_mean": bm, "baseline_std": bs, "migrated_mean": om, "migrated_std": os_}


def verify(loader_or_dataset: DataLoader | Dataset, plan: Any, batches: int = 4, seed: int = 0,
           rtol: float = 1e-4, atol: float = 1e-5, workers: int | None = None, batch_size: int = 8,
           distribution_tolerance: float = 0.1, migrator: PipelineMigrator | None = None,
           **migrator_options: Any) -> VerificationReport:
    """Baseline against migrated on the same ``batches`` batches (same indices, same seeds).

    ``loader_or_dataset``: the training DataLoader (its dataset, collate_fn, worker_init_fn and
    worker count are reused; a shuffling sampler is drawn once under ``seed``) or a Dataset (then
    ``batch_size`` and ``workers`` (default 0) apply). ``plan``: a codedag.plan/1 dict or path, or
    pass an existing ``migrator``. Returns a VerificationReport; ``report.ok`` is the verdict."""
    if isinstance(loader_or_dataset, DataLoader):
        loader = loader_or_dataset
    elif isinstance(loader_or_dataset, Dataset):
        loader = DataLoader(loader_or_dataset, batch_size=batch_size)
    else:
        raise TypeError(f"verify needs a DataLoader or a Dataset, not {type(loader_or_dataset).__name__}")
    if batches < 1:
        raise ValueError("batches must be at least 1")
    workers = loader.num_workers if workers is None else workers
    if migrator is None:
        migrator = PipelineMigrator.from_plan(plan, **migrator_options)
    if migrator.is_applied():
        raise RuntimeError("verify needs the plan not applied (it runs the baseline first); restore() it")
    index_batches = _index_batches(loader, batches, seed)

    baseline = _run(loader, index_batches, seed, workers)
    again = _run(loader, index_batches, seed, workers)
    other_seed = _run(loader, index_batches, seed + 1, workers)
    migrated = _run(loader, index_batches, seed, workers, migrator)

    outputs: list[dict] = []
    paths = [p for p, _ in baseline[0]]
    for j, path in enumerate(paths):
        contexts = list(migrator.output_contexts.get(path, []))
        base_vals = [b[j][1] for b in baseline]
        try:
            mig_vals = [m[j][1] for m in migrated]
            structure_ok = all(m[j][0] == path for m in migrated) and len(migrated) == len(baseline)
        except IndexError:
            mig_vals, structure_ok = [], False
        if not structure_ok:
            outputs.append({"path": path, "status": "mismatch", "compared_by": "structure", "max_abs_diff": None,
                            "contexts": contexts, "detail": "the migrated batch has a different structure"})
            continue
        reproducible = all(_equal(a, b[j][1], rtol, atol)[0] for a, b in zip(base_vals, again, strict=True))
        seed_dependent = not all(_equal(a, b[j][1], rtol, atol)[0] for a, b in zip(base_vals, other_seed, strict=True))
        stochastic = seed_dependent or not reproducible
        if stochastic and all(isinstance(v, torch.Tensor) and (v.is_floating_point()) for v in base_vals + mig_vals):
            ok, stats = _same_distribution(base_vals, mig_vals, distribution_tolerance)
            outputs.append({"path": path, "status": "equal" if ok else "mismatch", "compared_by": "distribution",
                            "max_abs_diff": None, "contexts": contexts, "stochastic": True,
                            "reproducible": reproducible, **stats})
            continue
        results = [_equal(a, m, rtol, atol) for a, m in zip(base_vals, mig_vals, strict=True)]
        diffs = [d for _, d in results if d is not None]
        outputs.append({"path": path, "status": "equal" if all(ok for ok, _ in results) else "mismatch",
                        "compared_by": "values", "max_abs_diff": max(diffs) if diffs else None,
                        "contexts": contexts, "stochastic": stochastic})

    mismatching = sorted({c for o in outputs if o["status"] != "equal" for c in o["contexts"]})
    stochastic_contexts = sorted({c for o in outputs if o.get("stochastic") for c in o["contexts"]})
    return VerificationReport(
        ok=all(o["status"] == "equal" for o in outputs), batches=len(index_batches), seed=seed,
        rtol=rtol, atol=atol, workers=workers, outputs=outputs, mismatching_contexts=mismatching,
        stochastic_contexts=stochastic_contexts, fallbacks=migrator.stats["fallbacks"],
        vectorised=dict(migrator.stats.get("vectorised", {})),
    )
