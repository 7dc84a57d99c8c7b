"""``codedag optimize-run script.py``: the closed loop on the DataLoader a training script builds.

The script is imported as a module named after its file (its ``if __name__ == "__main__":`` block
does not run, so its training does not start); the DataLoader is the global named by ``--loader``, or a zero-argument
function of that name, or else the one DataLoader instance among its globals.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from torch.utils.data import DataLoader

EXIT_INPUT = 2


def _find_loader(namespace: dict, name: str | None, script: str) -> DataLoader:
    if name:
        if name not in namespace:
            raise LookupError(f"{script} defines no global {name!r}; name the DataLoader (or a function "
                              "returning it) with --loader")
        value = namespace[name]
        if callable(value) and not isinstance(value, DataLoader):
            value = value()
        if not isinstance(value, DataLoader):
            raise LookupError(f"{script}: {name!r} is a {type(value).__name__}, not a torch DataLoader")
        return value
    loaders = {k: v for k, v in namespace.items() if isinstance(v, DataLoader)}
    if len(loaders) == 1:
        return next(iter(loaders.values()))
    for factory in ("make_dataloader", "get_dataloader", "build_dataloader"):
        if callable(namespace.get(factory)):
            return _find_loader(namespace, factory, script)
    if not loaders:
        raise LookupError(f"{script} has no DataLoader at module level; pass --loader NAME (a DataLoader global "
                          "or a function returning one)")
    raise LookupError(f"{script} has several DataLoaders ({', '.join(sorted(loaders))}); choose one with --loader")


def _import_script(script: str) -> dict[str, Any]:
    """Imports the script as the module named after its file (train.py -> ``train``): its
    ``__main__`` block does not run, its functions get importable plan keys (``train.crop``), and
    spawned DataLoader workers can import it. When the script later runs as ``__main__``, the
    migrator maps ``train.*`` keys onto it."""
    import importlib.util

    name = os.path.splitext(os.path.basename(script))[0]
    if not name.isidentifier():
        raise LookupError(f"{script}: the file name must be a Python identifier to be imported as a module")
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return vars(module)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codedag optimize-run", description=__doc__)
    parser.add_argument("script")
    parser.add_argument("--loader", default=None)
    parser.add_argument("--plan", default=None, help="try this plan.json instead of tracing and optimizing")
    parser.add_argument("--out", default="codedag-optimize", help="directory for plan.json and closed_loop.json")
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--verify-batches", type=int, default=3)
    parser.add_argument("--batches", type=int, default=10, help="timed batches per throughput measurement")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved measurement rounds")
    parser.add_argument("--keep-workers", action="store_true", help="do not choose the worker count")
    parser.add_argument("--min-speedup", type=float, default=1.05)
    parser.add_argument("--budget-s", type=float, default=None, help="seconds the whole loop may take")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--require-kept", action="store_true", help="exit 1 when the plan is not kept")
    parser.add_argument("script_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    from .._term import Terminal
    from .closed_loop import optimize_pipeline

    term = Terminal(sys.stderr)
    script = os.path.abspath(args.script)
    if not os.path.isfile(script):
        term.fail(f"{args.script}: no such file")
        return EXIT_INPUT
    sys.argv = [script, *[a for a in args.script_args if a != "--"]]
    sys.path.insert(0, os.path.dirname(script))
    try:
        namespace = _import_script(script)
        loader = _find_loader(namespace, args.loader, args.script)
    except LookupError as exc:
        term.fail(str(exc.args[0]))
        return EXIT_INPUT
    from .. import InputError

    try:
        result = optimize_pipeline(loader, plan=args.plan, k=args.k, verify_batches=args.verify_batches,
                                   measure_batches=args.batches, repeats=args.repeats, min_speedup=args.min_speedup,
                                   seed=args.seed, export_dir=args.out, keep=False,
                                   tune_workers=not args.keep_workers, budget_s=args.budget_s)
    except InputError as exc:
        term.fail(str(exc))
        return EXIT_INPUT
    from .. import _core

    os.makedirs(args.out, exist_ok=True)
    if result["plan"] is not None:
        _core.save_json(os.path.join(args.out, "plan.json"), result["plan"])
    print(f"results in {os.path.abspath(args.out)} (plan.json, closed_loop.json)")
    return 1 if args.require_kept and not result.kept else 0


if __name__ == "__main__":
    sys.exit(main())
