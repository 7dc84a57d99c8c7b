"""Contracts with the other areas, imported only when they exist: the migration strategy registry
(which library calls have tensor implementations) and the experiment store (attach files to the
running experiment)."""

from __future__ import annotations


def covered_functions():
    """{callable: registry name} from codedag.strategies, or None when it is unavailable."""
    try:
        from codedag.strategies import covered_functions as covered
    except Exception:  # the registry is optional: eligibility then needs tensors throughout
        return None
    try:
        return dict(covered())
    except Exception:
        return None


def attach_to_experiment(kind: str, path: str) -> None:
    """Stores `path` with the running codedag.Experiment, if there is one."""
    try:
        from codedag.store import active_experiment
    except Exception:
        return
    exp = active_experiment()
    if exp is not None:
        exp.attach(kind, path)
