"""Call-site plan keys: ``"caller->callee"`` moves one library call, made directly in ``caller``.

The optimizer plans a library call as a context of its own when the user function that makes it
cannot move (it touches pandas, reads a file, ...) but the call could: folding the call into its
pinned caller would pin everything its output flows into (docs/optimizer.md, "call sites").

How it is applied: the library function's bindings (its defining attribute, ``from x import f``
copies, or the class attribute of a method such as ``AmplitudeToDB.forward``) get a *frame-checked*
dispatcher. On each call it looks up the stack for the first frame that is neither library code
(``codedag.libraries``) nor CodeDAG's own -- for ``self.to_db(x)`` inside ``__getitem__`` that skips
torch's ``Module.__call__`` machinery and lands on ``__getitem__`` -- and takes the planned route
only when that frame runs the caller's code object. Every other call site runs the original,
unchanged; restore puts the original binding back.

Why not rebind the name the caller looks up: ``self.to_db(...)`` and ``librosa.feature.mel(...)``
resolve through objects shared with the rest of the program (an instance's class, a module), so
there is no name that only the caller sees. The frame check costs a short stack walk per call of
the patched function, only while the plan is applied.
"""

from __future__ import annotations

import functools
import inspect
import sys
from dataclasses import dataclass
from types import CodeType
from typing import Any

from .. import libraries
from .resolve import Target, Unresolvable, resolve

SEPARATOR = "->"


def is_call_site(key: str) -> bool:
    return SEPARATOR in key


@dataclass
class CallSite:
    key: str
    caller: Target
    callee: Target
    caller_code: CodeType


def resolve_call_site(key: str) -> CallSite:
    """``"pkg.Dataset.__getitem__->torchaudio.transforms.AmplitudeToDB.forward"`` -> the live caller
    and callee; Unresolvable says why not."""
    caller_key, _, callee_key = key.partition(SEPARATOR)
    if not caller_key or not callee_key or SEPARATOR in callee_key:
        raise Unresolvable(f"{key!r} is not a call site 'caller{SEPARATOR}callee'")
    caller = resolve(caller_key)
    code = getattr(inspect.unwrap(caller.function), "__code__", None)
    if not isinstance(code, CodeType):
        raise Unresolvable(f"the caller {caller_key!r} is not Python code, so its calls cannot be told apart")
    callee = resolve(callee_key, bind_instances=True)
    return CallSite(key, caller, callee, code)


def _own(module: str) -> bool:
    return module == "codedag" or module.startswith("codedag.")


def calling_user_code(skip: int = 2) -> CodeType | None:
    """The code object of the first frame above that is the user's (not library code, not CodeDAG)."""
    frame = sys._getframe(skip)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str):
            module = ""
        if not _own(module) and not libraries.decide(module).library:
            return frame.f_code
        frame = frame.f_back
    return None


def dispatcher(original: Any, routes: dict[CodeType, Any]) -> Any:
    """The callable installed in place of ``original``: ``routes[caller code](...)`` when called
    from a planned caller, ``original(...)`` from anywhere else."""

    @functools.wraps(original)
    def at_call_site(*args, **kwargs):
        planned = routes.get(calling_user_code())
        if planned is None:
            return original(*args, **kwargs)
        return planned(*args, **kwargs)

    at_call_site.__codedag_original__ = original
    at_call_site.__codedag_call_sites__ = routes
    return at_call_site
