"""The one answer to "is this module library code, and from which distribution?".

The tracer asks while it names contexts (the answer is carried on every DAG node as ``library`` and
``distribution``), the migrator asks at apply time (library code is never patched), and the
optimizer only reads the node field. Nothing else in CodeDAG decides it.

A module is library code when (first rule that applies):

1. the user says so in ``[tool.codedag]`` of their ``pyproject.toml``: ``library = ["mypkg"]``
   makes ``mypkg`` and its submodules library code, ``user = ["vendored_pkg"]`` makes them the
   user's own (the longest matching name wins);
2. it is a builtin or a standard-library module (distribution ``"stdlib"``);
3. an installed distribution provides it (its ``.dist-info`` on ``sys.path``, read the way
   ``importlib.metadata`` finds it): its file is listed in the distribution's RECORD, wherever
   that distribution was installed -- site-packages,
   ``pip install --target`` on ``sys.path`` or ``PYTHONPATH``, an unpacked wheel directory added to
   ``sys.path`` the Kaggle-offline way. An *editable* install (``pip install -e .``: the user's own
   project) is the user's code. A module not loaded in this process is judged by its name alone.

Everything else is the user's code. Answers are cached per module name for the life of the process
(``reset()`` forgets them, e.g. after changing ``pyproject.toml``).
"""

from __future__ import annotations

import csv
import functools
import json
import os
import re
import sys
import sysconfig
import threading
from typing import NamedTuple

STDLIB = "stdlib"
_lock = threading.RLock()


class LibraryDecision(NamedTuple):
    library: bool
    distribution: str | None  # the installed distribution ("opencv-python-headless"), "stdlib", or None
    reason: str  # why, in words (for messages and docs/tests)


def decide(module: str) -> LibraryDecision:
    """Whether ``module`` (a dotted ``__module__`` name such as ``"cv2"`` or ``"pkg.audio"``) is
    library code, and the distribution that provides it."""
    if not isinstance(module, str):
        raise TypeError(f"decide() takes a module name (str), not {type(module).__name__}")
    with _lock:
        return _decide(module)


def is_library(module: str) -> bool:
    return decide(module).library


def reset() -> None:
    """Forgets cached answers, the overrides and the installed distributions."""
    with _lock:
        for cached in (_decide, _overrides, _declaring, _all_distributions, _by_name):
            cached.cache_clear()


# ---- the rules ------------------------------------------------------------------------------------


@functools.cache
def _decide(module: str) -> LibraryDecision:
    if not module or module == "__main__" or module.startswith("<"):
        return LibraryDecision(False, None, "the running script or generated code")
    override = _override_for(module)
    if override is not None:
        return override
    top = module.split(".", 1)[0]
    if top == "builtins" or (top in sys.stdlib_module_names and _from_stdlib(module)):
        return LibraryDecision(True, STDLIB, "the standard library")
    file = _module_file(module)
    candidates = _distributions_of_top(top, file)
    for dist in candidates:
        if file is None or _owns(dist, file, top, exact=len(candidates) > 1):
            if dist.editable():
                return LibraryDecision(False, dist.name, "an editable install (pip install -e): your own project")
            return LibraryDecision(True, dist.name, f"installed by the distribution {dist.name}")
    return LibraryDecision(False, None, "no installed distribution provides it: your own code")


def _from_stdlib(module: str) -> bool:
    """A module named like a standard one really is the standard one (not a user's random.py)."""
    file = _module_file(module)
    if file is None:
        return True
    roots = {os.path.realpath(p) for key in ("stdlib", "platstdlib") if (p := sysconfig.get_paths().get(key))}
    return any(file.startswith(root + os.sep) for root in roots)


def _module_file(module: str) -> str | None:
    """The real path of the file the loaded module (or its nearest loaded package) came from."""
    name = module
    while name:
        loaded = sys.modules.get(name)
        file = getattr(loaded, "__file__", None) if loaded is not None else None
        if isinstance(file, str) and file:
            return os.path.realpath(file)
        if loaded is not None and name == module:
            return None  # a builtin module or a namespace package: judged by name
        name = name.rpartition(".")[0]
    return None


def _distributions_of_top(top: str, file: str | None) -> list[_Dist]:
    """The installed distributions that provide top-level import name ``top``: the one named like it,
    else those declaring it (top_level.txt), else those whose RECORD has it -- among the latter only
    distributions installed where ``file`` sits are read (RECORD files are large, and the user's own
    modules, the common case, sit in none of them)."""
    declared = _declaring(top)
    if declared:
        return list(declared)
    return [d for d in _all_distributions()
            if d.declared is None and (file is None or _under(file, d.base)) and d.provides(top)]


@functools.cache
def _declaring(top: str) -> tuple[_Dist, ...]:
    direct = _by_name().get(_normalize(top))  # the common case: the import name is the project name
    if direct is not None and direct.provides(top):
        return (direct,)
    return tuple(d for d in _all_distributions() if top in (d.declared or ()))


class _Dist:
    """One installed distribution, read from its .dist-info/.egg-info folder directly: the few
    files the decision needs, each read once and only when asked for (importlib.metadata's parsed
    METADATA and RECORD-as-paths objects cost ~300 ms over a site-packages at a tracer's start)."""

    def __init__(self, info: str, name: str, base: str):
        self.info = info  # the .dist-info / .egg-info folder
        self.name = name  # the project name its METADATA declares ("opencv-python-headless")
        self.base = base  # where it installed its files (the real path of the folder holding info)
        self._record_text: str | None = None
        self._record: frozenset[str] | None = None

    @functools.cached_property
    def declared(self) -> frozenset[str] | None:
        """Its top_level.txt (None without one: many wheel builders write none)."""
        text = _read(os.path.join(self.info, "top_level.txt"))
        return frozenset(text.split()) if text else None

    def record_text(self) -> str:
        if self._record_text is None:
            self._record_text = "\n" + (_read(os.path.join(self.info, "RECORD")) or "")
        return self._record_text

    def record(self) -> frozenset[str]:
        """The distribution's files, as paths relative to where it is installed."""
        if self._record is None:
            rows = csv.reader(self.record_text().splitlines())
            self._record = frozenset(row[0] for row in rows if row and row[0])
        return self._record

    def provides(self, top: str) -> bool:
        """Top-level import name ``top`` is its own: declared in top_level.txt, else a RECORD line
        starts with ``top/`` (a package), ``top.`` (a module, an extension) or ``top.libs/``. A text
        search, not a parse: RECORD files have thousands of lines."""
        if self.declared is not None:
            return top in self.declared
        text = self.record_text()
        return any(f"\n{q}{top}{end}" in text for q in ("", '"') for end in ("/", "."))

    def editable(self) -> bool:
        text = _read(os.path.join(self.info, "direct_url.json"))
        if not text:
            return False
        try:
            return bool(json.loads(text).get("dir_info", {}).get("editable", False))
        except (ValueError, AttributeError):
            return False


def _read(path: str, limit: int = 64 << 20) -> str | None:
    """A metadata file's text, None when it is missing or unreadable (a broken install is judged
    without it). Bounded: no metadata file is legitimately larger."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(limit)
    except OSError:
        return None


def _metadata_name(info: str) -> str | None:
    """The Name header of METADATA (PKG-INFO for .egg-info), read up to the end of the headers."""
    for leaf in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(info, leaf), encoding="utf-8", errors="replace") as f:
                for _, line in zip(range(200), f, strict=False):
                    if not line.strip():
                        break
                    key, sep, value = line.partition(":")
                    if sep and key.strip().lower() == "name" and value.strip():
                        return value.strip()
        except OSError:
            continue
    return None


_SEPARATORS = re.compile(r"[-_.]+")


def _normalize(name: str) -> str:
    return _SEPARATORS.sub("_", name).lower()


@functools.lru_cache(maxsize=1)
def _all_distributions() -> tuple[_Dist, ...]:
    """Every distribution installed on sys.path, in sys.path order (the first of a name is the one
    imported), as importlib.metadata's path finder would find them."""
    seen, out = set(), []
    for entry in sys.path:
        folder = entry or os.getcwd()
        try:
            with os.scandir(folder) as it:
                infos = sorted(e.path for e in it if e.name.endswith((".dist-info", ".egg-info")) and e.is_dir())
        except OSError:  # not a folder (a zip, a missing entry)
            continue
        base = os.path.realpath(folder)
        for info in infos:
            name = _metadata_name(info)
            if not name or _normalize(name) in seen:
                continue
            seen.add(_normalize(name))
            out.append(_Dist(info, name, base))
    return tuple(out)


@functools.lru_cache(maxsize=1)
def _by_name() -> dict[str, _Dist]:
    return {_normalize(d.name): d for d in _all_distributions()}


def _under(file: str, base: str) -> bool:
    return bool(base) and file.startswith(base.rstrip(os.sep) + os.sep)


def _owns(dist: _Dist, file: str, top: str, exact: bool) -> bool:
    """``file`` was installed by ``dist``: it sits where ``dist`` put top-level ``top`` (a shadowing
    copy elsewhere does not count). ``exact``: several distributions share ``top`` (a namespace
    package such as google.*), so the file must be listed in this one's RECORD."""
    if not _under(file, dist.base):
        return False
    rel = os.path.relpath(file, dist.base).replace(os.sep, "/")
    if exact:
        return rel in dist.record()
    first = rel.split("/", 1)[0]
    return first == top or first.split(".", 1)[0] == top  # top/..., top.py, top.cpython-311-x86_64-linux-gnu.so


# ---- the user's overrides -------------------------------------------------------------------------


def _override_for(module: str) -> LibraryDecision | None:
    path, rules = _overrides(_project_start())
    best = None
    for name, library in rules.items():
        covers = module == name or module.startswith(name + ".")
        if covers and (best is None or len(name) > len(best[0])):
            best = (name, library)
    if best is None:
        return None
    key = "library" if best[1] else "user"
    return LibraryDecision(best[1], None, f"{path}: [tool.codedag] {key} names {best[0]!r}")


def _project_start() -> str:
    """Where the user's project is looked for: the running script's folder, else the working folder."""
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    return os.path.dirname(os.path.abspath(file)) if isinstance(file, str) and file else os.getcwd()


@functools.cache
def _overrides(start: str) -> tuple[str | None, dict[str, bool]]:
    """(pyproject.toml path, {module name: library?}) of the nearest pyproject.toml above ``start``."""
    path = _find_pyproject(start)
    if path is None:
        return None, {}
    return path, read_overrides(path)


def _find_pyproject(start: str) -> str | None:
    folder = os.path.abspath(start)
    while True:
        candidate = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def read_overrides(path: str) -> dict[str, bool]:
    """``[tool.codedag]`` ``library`` / ``user`` lists of a pyproject.toml -> {module name: library?}.
    FormatError names the file and the key when they are not lists of module names, or when one
    name is in both."""
    import tomllib

    from . import _core

    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise _core.FormatError(f"{path}: not valid TOML ({exc}); fix it or remove [tool.codedag]") from None
    except OSError as exc:
        raise _core.SystemCallError(f"{path}: cannot be read ({exc.strerror})") from None
    table = doc.get("tool", {}).get("codedag", {})
    if not isinstance(table, dict):
        raise _core.FormatError(f"{path}: [tool.codedag] must be a table")
    rules: dict[str, bool] = {}
    for key, library in (("library", True), ("user", False)):
        names = table.get(key, [])
        if not isinstance(names, list) or not all(isinstance(n, str) and _is_module_name(n) for n in names):
            raise _core.FormatError(f"{path}: [tool.codedag] {key} must be a list of module names "
                                    f"(like [\"mypkg\", \"other.sub\"]), got {names!r}")
        for name in names:
            if rules.get(name, library) != library:
                raise _core.FormatError(f"{path}: [tool.codedag] names {name!r} in both library and user; keep one")
            rules[name] = library
    return rules


def _is_module_name(name: str) -> bool:
    return bool(name) and all(part.isidentifier() for part in name.split("."))
