"""codedag.verify: run the same batches (same indices, same seeds) without and with a plan and
compare every output.

Stochastic outputs are detected, not assumed: the baseline is run twice with the same seed and once
with another seed. An output that changes with the seed (or is not even reproducible under the same
seed) is *stochastic*; so is one the baseline repeats but the migrated side does not reproduce under
the same seed (a generator the seeds do not control, copied unadvanced into forked workers); the migrated run cannot be expected to draw the same random numbers (its
planned steps run in another process, over whole batches), so such an output is compared by
distribution (mean and standard deviation) -- and by its *joint* behaviour: a per-sample random
augmentation run once over a whole batch keeps the mean and standard deviation but makes the
samples of a batch move together. Baseline and migrated runs are repeated under several seeds and
the engine's permutation test (``_core.independence_test``) measures how strongly the samples of a
batch vary together across seeds; a migrated dependence far from the baseline's fails. Everything
else must be equal within ``rtol``/``atol``; a mismatch names the planned contexts behind it.

Map-style datasets replay the same index lists (drawn once from the loader's sampler under
``seed``); an IterableDataset is replayed from its start with the loader's batch size, so both runs
see the same stream.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from .. import _core
from ..migration import PipelineMigrator

# Dependence of the samples of a batch: a migrated within-batch correlation this far from the
# baseline's, significant at this level, means per-sample randomness was lost (or gained).
INDEPENDENCE_ALPHA = 0.01
INDEPENDENCE_EFFECT = 0.25
PROJECTIONS = 3


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
                         + (f", contexts: {', '.join(out['contexts'])}" if out["contexts"] else "") + ")"
                         + (f": {out['detail']}" if out.get("detail") else ""))
        return "\n".join(lines)


def _index_batches(loader: DataLoader, batches: int, seed: int) -> list[list[int]] | None:
    """The first ``batches`` index lists of the loader's sampler under ``seed``; None for an
    IterableDataset (it is replayed from its start instead)."""
    if isinstance(loader.dataset, IterableDataset):
        if loader.batch_size is None:
            raise ValueError("verify needs a DataLoader that makes batches (batch_size is None here)")
        return None
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


def _run(loader: DataLoader, index_batches: list[list[int]] | None, batches: int, seed: int, workers: int,
         migrator: PipelineMigrator | None = None) -> list[list[tuple[str, Any]]]:
    generator = _seed_all(seed)
    common = dict(num_workers=workers, collate_fn=loader.collate_fn, worker_init_fn=loader.worker_init_fn,
                  multiprocessing_context=loader.multiprocessing_context if workers else None, generator=generator)
    if index_batches is not None:
        dl = DataLoader(loader.dataset, batch_sampler=index_batches, **common)
    else:
        dl = DataLoader(loader.dataset, batch_size=loader.batch_size, drop_last=loader.drop_last, **common)

    def take() -> list[list[tuple[str, Any]]]:
        out = []
        for b in dl:
            out.append(_leaves(b))
            if len(out) == batches:
                break
        return out

    if migrator is None:
        return take()
    with migrator:
        return take()


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


# How many standard errors apart two sets of per-sample statistics may be and still count as one
# distribution: 4 leaves ~1e-4 of false refusals (normal approximation) per statistic.
SAMPLING_Z = 4.0


def _per_sample(values: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Each sample's mean and standard deviation (the batch's first dimension is the sample), or
    None when the output is not a batch of several samples with several values each."""
    rows = [t.detach().reshape(t.shape[0], -1).double() for t in values if t.dim() >= 1 and t.shape[0]]
    if not rows or any(r.shape[1] < 2 for r in rows):
        return None
    flat = torch.cat(rows)
    return (flat.mean(1), flat.std(1)) if flat.shape[0] >= 2 else None


def _same_distribution(base: list[torch.Tensor], other: list[torch.Tensor], tolerance: float) -> tuple[bool, dict]:
    """Mean and standard deviation within ``tolerance`` of the baseline's standard deviation, or
    within the sampling noise of a few batches. Pixels of one image move together (one brightness
    draw shifts all of them), so the noise is judged on per-sample statistics: two independent
    draws of 16 images differed by 14 % of the pixel std in mean on a torchvision-style pipeline,
    and every setting but the user's worker count was refused as "outputs differ"."""
    b = torch.cat([t.flatten().double() for t in base])
    o = torch.cat([t.flatten().double() for t in other])
    bm, bs, om, os_ = float(b.mean()), float(b.std()), float(o.mean()), float(o.std())
    allowed = tolerance * max(bs, 1e-12) + 1e-6
    mean_allowed = std_allowed = allowed
    pb, po = _per_sample(base), _per_sample(other)
    if pb is not None and po is not None:
        # The pixel spread is the samples' own spread plus the spread of their means: each is compared
        # within its standard error (of a mean; of a standard deviation, ~ sd / sqrt(2 (n - 1))).
        def mean_noise(x: torch.Tensor, y: torch.Tensor) -> float:
            return SAMPLING_Z * float((x.var() / x.numel() + y.var() / y.numel()).sqrt())

        def sd_noise(x: torch.Tensor, y: torch.Tensor) -> float:
            return SAMPLING_Z * float((x.var() / (2 * (x.numel() - 1)) + y.var() / (2 * (y.numel() - 1))).sqrt())

        mean_allowed = max(allowed, mean_noise(pb[0], po[0]))
        std_allowed = max(allowed, mean_noise(pb[1], po[1]))
        spread_allowed = max(allowed, sd_noise(pb[0], po[0]))
        ok = (abs(bm - om) <= mean_allowed
              and abs(float(pb[1].mean()) - float(po[1].mean())) <= std_allowed
              and abs(float(pb[0].std()) - float(po[0].std())) <= spread_allowed)
    else:
        ok = abs(bm - om) <= allowed and abs(bs - os_) <= allowed
    return ok, {"baseline_mean": bm, "baseline_std": bs, "migrated_mean": om, "migrated_std": os_,
                "mean_allowed": mean_allowed, "std_allowed": std_allowed}


def _features(runs: list[list[list[tuple[str, Any]]]], j: int) -> tuple[list[float], list[int], int] | None:
    """Output ``j`` of every run as the engine's independence test wants it: ``PROJECTIONS`` fixed
    random projections of each sample ([k][run][sample] flattened) and the batch of each sample.
    None when the output is not a batch of tensors with the same samples in every run."""
    first = [b[j][1] for b in runs[0]]
    if not all(isinstance(v, torch.Tensor) and v.dim() >= 1 for v in first):
        return None
    sizes = [v.shape[0] for v in first]
    directions: dict[int, torch.Tensor] = {}
    per_run: list[torch.Tensor] = []  # run -> [samples, k]
    for run in runs:
        rows = []
        for b, batch in enumerate(run):
            v = batch[j][1]
            if not isinstance(v, torch.Tensor) or v.dim() < 1 or v.shape[0] != sizes[b]:
                return None
            flat = v.detach().reshape(v.shape[0], -1).double()
            if flat.shape[1] not in directions:
                g = torch.Generator().manual_seed(1234 + flat.shape[1])
                directions[flat.shape[1]] = torch.randn(flat.shape[1], PROJECTIONS, generator=g, dtype=torch.float64)
            rows.append(flat @ directions[flat.shape[1]])
        per_run.append(torch.cat(rows))
    stacked = torch.stack(per_run)  # [runs, samples, k]
    if not torch.isfinite(stacked).all():
        return None
    batch_of = [b for b, n in enumerate(sizes) for _ in range(n)]
    return stacked.permute(2, 0, 1).reshape(-1).tolist(), batch_of, len(runs)


def _independence(base_runs, mig_runs, j: int, baseline_seeded: bool = True) -> dict | None:
    """The within-batch dependence of output ``j`` across seeds, baseline and migrated, and the verdict.
    ``baseline_seeded`` False: the baseline's draws do not follow the seeds (a generator the seeds do
    not control), so its runs say nothing about how its samples vary; the migrated side's samples
    must then vary independently on their own."""
    base, mig = _features(base_runs, j), _features(mig_runs, j)
    if base is None or mig is None:
        return None
    b = _core.independence_test(base[0], PROJECTIONS, base[2], base[1])
    m = _core.independence_test(mig[0], PROJECTIONS, mig[2], mig[1])
    if not baseline_seeded:
        coupled = m["testable"] and m["p_value"] < INDEPENDENCE_ALPHA and m["dependence"] > INDEPENDENCE_EFFECT
        detail = (f"within-batch dependence of the migrated run {m['dependence']:.2f} (p = {m['p_value']:.3g}); "
                  "the baseline's draws do not follow the seeds, so it is not compared")
        if coupled:
            detail = "the samples of a batch vary together in the migrated run: " + detail
        return {"baseline": b, "migrated": m, "ok": not coupled, "detail": detail}
    if not (b["testable"] and m["testable"]):
        return {"baseline": b, "migrated": m, "ok": True, "detail": "not testable (fewer than two varying samples "
                                                                     "in a batch, or fewer than 3 seeds)"}
    gap = m["dependence"] - b["dependence"]
    significant = min(m["p_value"], b["p_value"]) < INDEPENDENCE_ALPHA
    ok = not (abs(gap) > INDEPENDENCE_EFFECT and significant)
    detail = (f"within-batch dependence across seeds {m['dependence']:.2f} migrated vs "
              f"{b['dependence']:.2f} baseline (p = {m['p_value']:.3g} / {b['p_value']:.3g})")
    if not ok:
        detail = ("the samples of a batch no longer vary independently: " if gap > 0 else
                  "the samples of a batch vary independently where the baseline's vary together: ") + detail
    return {"baseline": b, "migrated": m, "ok": ok, "detail": detail}


def verify(loader_or_dataset: DataLoader | Dataset, plan: Any, batches: int = 4, seed: int = 0,
           rtol: float = 1e-4, atol: float = 1e-5, workers: int | None = None, batch_size: int = 8,
           distribution_tolerance: float = 0.1, migrator: PipelineMigrator | None = None,
           independence_runs: int = 5, migrated_workers: int | None = None,
           **migrator_options: Any) -> VerificationReport:
    """Baseline against migrated on the same ``batches`` batches (same indices, same seeds).

    ``loader_or_dataset``: the training DataLoader (its dataset, collate_fn, worker_init_fn and
    worker count are reused; a shuffling sampler is drawn once under ``seed``) or a Dataset (then
    ``batch_size`` and ``workers`` (default 0) apply). ``plan``: a codedag.plan/1 dict or path, or
    pass an existing ``migrator``. ``migrated_workers``: run the migrated side with this many
    workers (a plan that changes the worker count); default ``workers``. ``independence_runs``
    (at least 3 to test; 0 skips): seeds per side for the joint test of stochastic outputs.
    Returns a VerificationReport; ``report.ok`` is the verdict."""
    if isinstance(loader_or_dataset, DataLoader):
        loader = loader_or_dataset
    elif isinstance(loader_or_dataset, Dataset):
        loader = DataLoader(loader_or_dataset, batch_size=batch_size)
    else:
        raise TypeError(f"verify needs a DataLoader or a Dataset, not {type(loader_or_dataset).__name__}")
    if batches < 1:
        raise ValueError("batches must be at least 1")
    workers = loader.num_workers if workers is None else workers
    mig_workers = workers if migrated_workers is None else migrated_workers
    if migrator is None:
        migrator = PipelineMigrator.from_plan(plan, **migrator_options)
    if migrator.is_applied():
        raise RuntimeError("verify needs the plan not applied (it runs the baseline first); restore() it")
    index_batches = _index_batches(loader, batches, seed)

    baseline = _run(loader, index_batches, batches, seed, workers)
    if not baseline:
        raise ValueError("the DataLoader yields no batches (empty dataset?)")
    again = _run(loader, index_batches, batches, seed, workers)
    other_seed = _run(loader, index_batches, batches, seed + 1, workers)
    migrated = _run(loader, index_batches, batches, seed, mig_workers, migrator)

    outputs: list[dict] = []
    paths = [p for p, _ in baseline[0]]
    more_base: list | None = None
    more_mig: list | None = None
    migrated_again: list | None = None
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
        hidden_source = False
        if not stochastic and not all(_equal(a, m, rtol, atol)[0] for a, m in zip(base_vals, mig_vals, strict=True)):
            # A baseline can look deterministic only because of how its workers copy process state: a
            # generator the seeds do not control (albumentations' Compose without seed=, an
            # np.random.default_rng() built in __init__) is copied unadvanced into every forked worker,
            # so each run repeats the same draws, while a setting that draws in one process (0 workers)
            # advances it. If the migrated side is not reproducible under the same seed, the output is
            # random after all and is compared as such; a deterministic mismatch stays a mismatch.
            if migrated_again is None:
                migrated_again = _run(loader, index_batches, batches, seed, mig_workers, migrator)
            try:
                hidden_source = not all(_equal(m, again_m[j][1], rtol, atol)[0]
                                        for m, again_m in zip(mig_vals, migrated_again, strict=True))
            except (IndexError, ValueError):
                hidden_source = False  # a different structure: compared by value below, and fails
            stochastic = hidden_source
        if stochastic and all(isinstance(v, torch.Tensor) and v.is_floating_point() for v in base_vals + mig_vals):
            ok, stats = _same_distribution(base_vals, mig_vals, distribution_tolerance)
            entry = {"path": path, "status": "equal" if ok else "mismatch", "compared_by": "distribution",
                     "max_abs_diff": None, "contexts": contexts, "stochastic": True, "reproducible": reproducible,
                     **stats}
            if hidden_source:
                entry["random_source"] = ("not controlled by the seeds: the baseline repeats its draws (forked "
                                          "workers copy an unadvanced generator), the migrated run does not")
            if independence_runs >= 3:
                if more_base is None:  # once, for every stochastic output
                    more_base = [_run(loader, index_batches, batches, seed + r, workers)
                                 for r in range(2, independence_runs)]
                    more_mig = [_run(loader, index_batches, batches, seed + r, mig_workers, migrator)
                                for r in range(1, independence_runs)]
                joint = _independence([baseline, other_seed] + more_base, [migrated] + more_mig, j,
                                      baseline_seeded=not hidden_source)
                if joint is not None:
                    entry["compared_by"] = "distribution and independence"
                    entry["independence"] = joint
                    if not joint["ok"]:
                        entry["status"] = "mismatch"
                        entry["detail"] = joint["detail"]
            outputs.append(entry)
            continue
        results = [_equal(a, m, rtol, atol) for a, m in zip(base_vals, mig_vals, strict=True)]
        diffs = [d for _, d in results if d is not None]
        outputs.append({"path": path, "status": "equal" if all(ok for ok, _ in results) else "mismatch",
                        "compared_by": "values", "max_abs_diff": max(diffs) if diffs else None,
                        "contexts": contexts, "stochastic": stochastic})

    mismatching = sorted({c for o in outputs if o["status"] != "equal" for c in o["contexts"]})
    stochastic_contexts = sorted({c for o in outputs if o.get("stochastic") for c in o["contexts"]})
    stats = migrator.stats
    return VerificationReport(
        ok=all(o["status"] == "equal" for o in outputs), batches=len(baseline), seed=seed,
        rtol=rtol, atol=atol, workers=workers, migrated_workers=mig_workers, outputs=outputs,
        mismatching_contexts=mismatching, stochastic_contexts=stochastic_contexts, fallbacks=stats["fallbacks"],
        fallback_reasons=dict(stats.get("fallback_reasons", {})), vectorised=dict(stats.get("vectorised", {})),
        draws_randomness=dict(stats.get("stochastic", {})),
    )
