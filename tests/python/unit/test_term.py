"""Python output follows the engine's terminal habits."""

import io

from codedag._term import Terminal


def test_plain_on_a_pipe(monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    out = io.StringIO()
    term = Terminal(out)
    term.header("run", {"workers": 4})
    term.ok("verified")
    term.fail("slower")
    term.summary("plans", 1, 1)
    text = out.getvalue()
    assert "\x1b[" not in text
    assert "✓ verified\n" in text and "✗ slower\n" in text
    assert text.endswith("plans: 1 passed, 1 failed\n")


def test_colour_forced_and_no_color_wins(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    out = io.StringIO()
    Terminal(out).ok("x")
    assert "\x1b[32m" in out.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    out = io.StringIO()
    Terminal(out).ok("x")
    assert "\x1b[" not in out.getvalue()


def test_silent_on_nonzero_rank(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    out = io.StringIO()
    term = Terminal(out)
    term.ok("x")
    term.line("y")
    assert out.getvalue() == ""
