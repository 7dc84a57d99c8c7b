"""`codedag lint` throughput beside ruff and TorchFix on the same real corpus, in one run.

    python bench/lint_bench.py --out bench/results/lint.json [--rounds 3] [--jobs 2]

Corpus: every .py file of the installed torch package (and lightning / pytorch_lightning when
installed). Each round runs the three tools one after the other on the same file list (interleaved,
so machine load hits all of them alike); the figure is the median wall time per tool and files/s.
Each tool runs its own rule set with the parallelism it is given (codedag -j, TorchFix --jobs; ruff
uses every core). Also recorded: the load average seen and each tool's finding count.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def corpus() -> tuple[list[Path], list[str]]:
    roots = []
    for name in ("torch", "lightning", "pytorch_lightning"):
        d = package_dir(name)
        if d:
            roots.append((name, d))
    files = sorted(p for _, d in roots for p in d.rglob("*.py") if p.is_file())
    return files, [n for n, _ in roots]


def codedag_cli() -> str:
    if os.environ.get("CODEDAG_CLI"):
        return os.environ["CODEDAG_CLI"]
    beside = Path(sys.executable).parent / "codedag"
    return str(beside) if beside.exists() else shutil.which("codedag") or "codedag"


def timed(cmd: list[str], cwd: Path, timeout: float) -> tuple[float, str, int]:
    """Wall time of one run; a run past `timeout` is stopped and returns rc -9 (recorded as such)."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, "", -9
    return time.perf_counter() - t0, proc.stdout, proc.returncode


def count_json_findings(out: str) -> int | None:
    try:
        return len(json.loads(out))
    except (json.JSONDecodeError, TypeError):
        return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/results/lint.json")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=1800, help="seconds one tool run may take")
    args = ap.parse_args()

    files, packages = corpus()
    if not files:
        print("✗ no corpus: torch is not installed in this interpreter")
        return 1
    total_bytes = sum(f.stat().st_size for f in files)
    # Every tool gets the same single root (a copy of the corpus in a temporary directory), so no
    # configuration file of the installed packages applies and no tool has to follow symlinks.
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpus"
        for i, f in enumerate(files):
            link = root / f"{i // 1000:03d}" / f"f{i:06d}.py"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.write_bytes(f.read_bytes())  # copies, not links: ruff and TorchFix skip symlinks differently
        tools = {
            "codedag": [
                codedag_cli(),
                "lint",
                "--output-format",
                "json",
                "--exit-zero",
                "-j",
                str(args.jobs),
                "corpus",
            ],
            "ruff": [
                sys.executable,
                "-m",
                "ruff",
                "check",
                "--isolated",
                "--no-cache",
                "--exit-zero",
                "--output-format",
                "json",
                "--quiet",
                "corpus",
            ],
        }
        if shutil.which("torchfix", path=str(Path(sys.executable).parent)) or importlib.util.find_spec(
            "torchfix"
        ):
            tools["torchfix"] = [
                sys.executable,
                "-m",
                "torchfix",
                "--select",
                "ALL",
                "--jobs",
                str(args.jobs),
                "corpus",
            ]
        times: dict[str, list[float]] = {name: [] for name in tools}
        findings: dict[str, int | None] = {}
        errors: dict[str, str] = {}
        loads = []
        for r in range(args.rounds):
            for name, cmd in tools.items():
                loads.append(os.getloadavg()[0])
                secs, out, rc = timed(cmd, Path(tmp), args.timeout)
                if name == "torchfix":
                    findings[name] = sum(1 for line in out.splitlines() if ": TOR" in line)
                else:
                    findings[name] = count_json_findings(out)
                if rc == -9:
                    errors[name] = f"timed out after {args.timeout:.0f} s (the time is a lower bound)"
                elif rc not in (0, 1):
                    errors[name] = f"exit {rc}"
                times[name].append(secs)
                print(f"  round {r + 1} {name:9s} {secs:8.2f} s")
    result = {
        "benchmark": "lint",
        "corpus": {"packages": packages, "files": len(files), "bytes": total_bytes},
        "rounds": args.rounds,
        "jobs": args.jobs,
        "cpus": os.cpu_count(),
        "load_average_seen": {"min": min(loads), "median": statistics.median(loads), "max": max(loads)},
        "tools": {},
    }
    for name, ts in times.items():
        med = statistics.median(ts)
        result["tools"][name] = {
            "median_s": med,
            "files_per_s": len(files) / med,
            "all_s": ts,
            "findings": findings.get(name),
            "error": errors.get(name),
        }
    base = result["tools"]["codedag"]["median_s"]
    for t in result["tools"].values():
        t["time_vs_codedag"] = t["median_s"] / base
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"corpus: {len(files)} files ({total_bytes / 2**20:.1f} MiB) from {', '.join(packages)}")
    for name, t in result["tools"].items():
        print(
            f"  {name:9s} median {t['median_s']:7.2f} s  {t['files_per_s']:8.0f} files/s  "
            f"{t['time_vs_codedag']:6.2f}x codedag's time  findings {t['findings']}"
        )
    print(f"load average during the run: {result['load_average_seen']}")
    print(f"✓ {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
