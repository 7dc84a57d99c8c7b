"""Reading a codedag.plan/1 given as a dict or a path.

The file format belongs to the engine: when the optimizer's C++ loader (``codedag.load_plan``) is
built it reads and validates the file; this module only checks the few fields the migrator relies
on, so a hand-written or older plan gets a clear message instead of a KeyError deep inside apply().
"""

from __future__ import annotations

import json
import os
from typing import Any

SCHEMA = "codedag.plan/1"
MODES = ("inline", "batched")


def _input_error(message: str) -> Exception:
    from .. import _core

    return _core.InputError(message)


def load_plan(plan: Any) -> dict:
    """dict | path | object with to_dict()/to_json() -> a plan dict (a copy, never the caller's)."""
    if isinstance(plan, (str, os.PathLike)):
        path = os.fspath(plan)
        from .. import _core

        if not os.path.exists(path):
            raise _input_error(f"plan file {path} does not exist; pass the plan.json the optimizer wrote")
        # The engine's JSON reader (errors name the file, line and column), then the checks below of
        # the fields the migrator uses -- not the optimizer's strict reader, which also requires the
        # cost fields a hand-written plan (examples/*/plan_batch_cpu.json) has no reason to carry.
        plan = _core.load_json(path)
        if not isinstance(plan, dict):
            raise _input_error(f"{path}: a plan is a JSON object, not {type(plan).__name__}")
    elif not isinstance(plan, dict):
        plan = _as_dict(plan)
    return validate(json.loads(json.dumps(plan)))


def _as_dict(obj: Any) -> dict:
    for attr in ("to_dict", "to_json"):
        fn = getattr(obj, attr, None)
        if callable(fn):
            value = fn()
            return json.loads(value) if isinstance(value, str) else value
    raise _input_error(f"a plan must be a dict or a path to plan.json, not {type(obj).__name__}")


def validate(plan: dict, where: str = "plan") -> dict:
    schema = plan.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise _input_error(f"{where}: schema {schema!r} is not {SCHEMA!r}; regenerate the plan with this CodeDAG")
    cmap = plan.get("context_device_map")
    if not isinstance(cmap, dict):
        raise _input_error(f"{where}: 'context_device_map' must be an object of qualified name -> executor")
    for key, device in cmap.items():
        if not isinstance(key, str) or not isinstance(device, str):
            raise _input_error(f"{where}: context_device_map[{key!r}] must map a name to an executor string")
    modes = plan.get("modes") or {}
    if not isinstance(modes, dict):
        raise _input_error(f"{where}: 'modes' must be an object of qualified name -> 'inline' | 'batched'")
    for key, mode in modes.items():
        if mode not in MODES:
            raise _input_error(f"{where}: modes[{key!r}] is {mode!r}; expected one of {', '.join(MODES)}")
    plan.setdefault("schema", SCHEMA)
    plan["modes"] = modes
    return plan
