"""Sweep overhead per cell: `codedag sweep run` against a plain shell loop of the same commands and
against Hydra's multirun with its basic launcher, side by side, interleaved, in one run.

    python bench/sweep_bench.py --out bench/results/sweep.json [--cells 20] [--rounds 5]

Every tool runs the same N commands one after another (`python cell.py --x=I`, a script that
returns at once, so what is measured is what each tool adds): the shell loop is the floor; Hydra's
basic launcher runs its task function in its own process and the task starts the command with
subprocess.run (its jobs share one Python process, so running the command is how it gets a clean
one); codedag sweep creates a run per cell in the store, a log, a heartbeat and a cell runner.
Reported: the median over rounds of wall time per cell, and overhead per cell = (tool - shell) / N.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CELL = "import sys\n"

HYDRA_APP = """
import subprocess, sys
import hydra

@hydra.main(version_base=None, config_path=None)
def main(cfg):
    subprocess.run([sys.executable, "cell.py", f"--x={cfg.x}"], check=True)

if __name__ == "__main__":
    main()
"""


def codedag_cli() -> str:
    if os.environ.get("CODEDAG_CLI"):
        return os.path.abspath(os.environ["CODEDAG_CLI"])
    beside = Path(sys.executable).parent / "codedag"
    return str(beside) if beside.exists() else (shutil.which("codedag") or "codedag")


def timed(argv, cwd, env) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def load_average() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/sweep.json")
    ap.add_argument("--cells", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    try:
        import hydra  # noqa: F401
    except ImportError:
        print("hydra-core is not installed: pip install -r bench/requirements.txt", file=sys.stderr)
        return 1

    work = Path(tempfile.mkdtemp(prefix="codedag_sweep_bench_"))
    (work / "cell.py").write_text(CELL)
    (work / "hydra_app.py").write_text(HYDRA_APP)
    env = dict(os.environ, NO_COLOR="1", CODEDAG_HOME=str(work / "home"))
    xs = ",".join(str(i) for i in range(args.cells))
    py = sys.executable
    tools = {
        "shell_loop": [
            "bash",
            "-c",
            f'for x in {xs.replace(",", " ")}; do "{py}" cell.py --x=$x || exit 1; done',
        ],
        "codedag_sweep": [codedag_cli(), "sweep", "run", "-p", f"x={xs}", "--", py, "cell.py"],
        "hydra_basic_launcher": [
            py,
            "hydra_app.py",
            "-m",
            f"+x={xs}",
            f"hydra.sweep.dir={work}/multirun",
            "hydra/job_logging=none",
            "hydra/hydra_logging=none",
        ],
    }
    load_before = load_average()
    times: dict[str, list[float]] = {name: [] for name in tools}
    for r in range(args.rounds):
        order = list(tools)
        order = order[r % len(order) :] + order[: r % len(order)]  # rotate: no tool always runs first
        for name in order:
            times[name].append(timed(tools[name], work, env))
            shutil.rmtree(work / "multirun", ignore_errors=True)
    load_after = load_average()
    per_cell = {name: statistics.median(t) / args.cells for name, t in times.items()}
    floor = per_cell["shell_loop"]
    result = {
        "benchmark": "sweep overhead per cell",
        "cells": args.cells,
        "rounds": args.rounds,
        "command": "python cell.py --x=I (returns at once)",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": load_before,
            "load_after": load_after,
        },
        "seconds_per_cell_median": per_cell,
        "overhead_per_cell_ms": {
            name: (v - floor) * 1000 for name, v in per_cell.items() if name != "shell_loop"
        },
        "ratio_to_shell_loop": {name: v / floor for name, v in per_cell.items()},
        "ratio_codedag_to_hydra": per_cell["codedag_sweep"] / per_cell["hydra_basic_launcher"],
        "raw_seconds": times,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    for name, v in per_cell.items():
        extra = "" if name == "shell_loop" else f"  (+{(v - floor) * 1000:.1f} ms per cell, x{v / floor:.2f})"
        print(f"{name:22s} {v * 1000:8.1f} ms per cell{extra}")
    print(f"load average {load_before} -> {load_after}; written to {out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
