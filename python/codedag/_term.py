"""Terminal output for the Python parts, with the engine's habits (rendered by C++): colour only on
a TTY and without NO_COLOR, ✓/✗ lines, a configuration header, a closing summary, silence on every
torch.distributed rank but 0."""

from __future__ import annotations

import sys
from typing import TextIO

from . import _core


class Terminal:
    """Writes ✓/✗/!/· lines, headers, tables and summaries to a stream (default: sys.stdout)."""

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream
        isatty = getattr(self.stream, "isatty", None)
        self._render = _core.TextPrinter(bool(isatty and isatty()))

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def _write(self, text: str) -> None:
        if text:
            self.stream.write(text)
            self.stream.flush()

    def ok(self, message: str) -> None:
        self._write(self._render.ok(message))

    def fail(self, message: str) -> None:
        self._write(self._render.fail(message))

    def warn(self, message: str) -> None:
        self._write(self._render.warn(message))

    def info(self, message: str) -> None:
        self._write(self._render.info(message))

    def header(self, title: str, fields: dict[str, object]) -> None:
        self._write(self._render.header(title, [(str(k), str(v)) for k, v in fields.items()]))

    def table(self, headers: list[str], rows: list[list[object]]) -> None:
        self._write(self._render.table(headers, [[str(c) for c in row] for row in rows]))

    def summary(self, what: str, passed: int, failed: int, seconds: float = -1.0) -> None:
        self._write(self._render.summary(what, passed, failed, seconds))

    def progress(self, label: str, total: int) -> Progress:
        """A progress bar for long work: ``bar.update(done)``, ``bar.finish()`` (a redrawn line on a
        TTY, a line per quarter otherwise, nothing on ranks but 0)."""
        isatty = getattr(self.stream, "isatty", None)
        return Progress(self, _core.TextProgress(bool(isatty and isatty()), label, max(1, int(total))))

    def line(self, text: str = "") -> None:
        if not self._render.silent:
            self._write(text + "\n")


class Progress:
    """One progress bar of a Terminal (see ``Terminal.progress``)."""

    def __init__(self, terminal: Terminal, bar: _core.TextProgress):
        self._terminal, self._bar = terminal, bar

    def update(self, done: int) -> None:
        self._terminal._write(self._bar.update(max(0, int(done))))

    def finish(self) -> None:
        self._terminal._write(self._bar.finish())
