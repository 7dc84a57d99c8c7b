"""``python -m codedag.pipeline.trace_main`` — what ``codedag trace script.py [args...]`` runs: the script
under an EnhancedTracer, writing dag.json and trace.json to --out. With --batches N only the first N
batches of the first DataLoader the script iterates are traced, and the script is stopped after
them (a training run need not finish to show its pipeline)."""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import time

from codedag._term import Terminal

from .. import dataloader_hooks
from ..trace import EnhancedTracer


class _TracedEnough(BaseException):
    """Raised out of DataLoader.__next__ after the last traced batch: ends the script. BaseException
    so a training loop's `except Exception` does not swallow it."""


class _FirstBatches(dataloader_hooks.LoaderHook):
    """Traces the first ``batches`` batches of the first DataLoader iterator, then ends the script."""

    rank = 20  # outermost: the trace covers what the other hooks do around a batch

    def __init__(self, tracer: EnhancedTracer, batches: int, term: Terminal, started: float):
        self.tracer, self.batches, self.term, self.started = tracer, batches, term, started
        self.iterator = None
        self.done = 0

    def around_next(self, iterator, next_batch):
        if self.done >= self.batches or self.iterator not in (None, iterator):
            return next_batch()
        self.iterator = iterator
        self.tracer.start()
        try:
            batch = next_batch()
        finally:
            self.tracer.stop()
        self.done += 1
        self.term.info(f"traced batch {self.done}/{self.batches} ({time.monotonic() - self.started:.1f} s)")
        if self.done >= self.batches:
            raise _TracedEnough()
        return batch


def _parse(argv):
    p = argparse.ArgumentParser(prog="codedag trace", description=__doc__)
    p.add_argument("--out", default="codedag-trace", help="directory for dag.json and trace.json")
    p.add_argument("--batches", type=int, default=0, help="trace the first N batches of the first DataLoader")
    p.add_argument("--max-depth", type=int, default=10)
    p.add_argument("--include", action="append", default=[])
    p.add_argument("--exclude", action="append", default=[])
    p.add_argument("script")
    p.add_argument("args", nargs=argparse.REMAINDER)
    return p.parse_args(argv)


def _write(tracer: EnhancedTracer, out: str, term: Terminal) -> None:
    os.makedirs(out, exist_ok=True)
    dag_path = tracer.save(os.path.join(out, "dag.json"))
    trace_path = tracer.save_chrome_trace(os.path.join(out, "trace.json"))
    dag = tracer.dag
    wrote = f"wrote {dag_path} ({len(dag.nodes)} contexts, {len(dag.edges)} edges)"
    # An empty DAG is written (it is the honest result) but never with a ✓: the summary says why.
    (term.ok if dag.nodes else term.warn)(wrote)
    term.ok(f"wrote {trace_path} (open it in https://ui.perfetto.dev)")


def main(argv=None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    term = Terminal(sys.stderr)
    script = os.path.abspath(args.script)
    if not os.path.isfile(script):
        term.fail(f"codedag trace: no such script '{args.script}' (give the path of a Python file)")
        return 2
    if args.batches < 0:
        term.fail(f"codedag trace: --batches must be >= 0 (got {args.batches})")
        return 2
    tracer = EnhancedTracer(
        max_depth=args.max_depth,
        include=args.include,
        exclude=args.exclude,
        worker_batches=args.batches or None,
    )
    sys.argv = [script, *args.args]
    sys.path.insert(0, os.path.dirname(script))
    started = time.monotonic()
    code = 0
    if args.batches:
        limit = _FirstBatches(tracer, args.batches, term, started)
        dataloader_hooks.add(limit)
        try:
            runpy.run_path(script, run_name="__main__")
        except _TracedEnough:
            term.info("stopping the script: the requested batches are traced")
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            dataloader_hooks.remove(limit)
        if limit.done == 0:
            term.fail("codedag trace: the script iterated no DataLoader, so there is no batch to trace "
                      "(run without --batches to trace the whole script)")
            return 1 if code == 0 else code
        if limit.done < args.batches:
            term.warn(f"the DataLoader ended after {limit.done} of {args.batches} batches")
    else:
        tracer.start()
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            tracer.stop()
    _write(tracer, args.out, term)
    return code


if __name__ == "__main__":
    sys.exit(main())
