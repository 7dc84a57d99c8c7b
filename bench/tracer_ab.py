"""Tracer before/after: runs bench/tracer_bench.py alternately against two builds of codedag (A, B),
round after round, so both see the same machine load, and writes the medians and the B/A ratios.
Each round's cProfile column is the in-run reference: `codedag_vs_cprofile` compares runs made under
different load fairly.

    python bench/tracer_ab.py --a-build /tmp/main-build --a-python /tmp/main/python \\
        --b-build build/dev --b-python python --rounds 3 --out bench/results/tracer_ab.json

--X-build is a CMake build directory (CODEDAG_BUILD_DIR: its python/codedag/_core*.so is loaded) and
--X-python the matching source tree's python/ folder (put first on PYTHONPATH); empty: installed one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def one_run(build: str, python_dir: str, calls: int, repeats: int) -> dict:
    env = dict(os.environ, NO_COLOR="1")
    if build:
        env["CODEDAG_BUILD_DIR"] = os.path.abspath(build)
    if python_dir:
        env["PYTHONPATH"] = os.pathsep.join(p for p in [os.path.abspath(python_dir), env.get("PYTHONPATH", "")] if p)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        subprocess.run([sys.executable, os.path.join(HERE, "tracer_bench.py"), "--out", out, "--calls", str(calls),
                        "--repeats", str(repeats)], env=env, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)


def summary(runs: list[dict]) -> dict:
    def med(get):
        values = [get(r) for r in runs if get(r) is not None]
        return statistics.median(values) if values else None

    return {
        "runs": len(runs),
        "codedag_added_ns_per_call": med(lambda r: r["micro"]["added_ns_per_call"]["codedag"]),
        "cprofile_added_ns_per_call": med(lambda r: r["micro"]["added_ns_per_call"]["cProfile"]),
        "codedag_vs_cprofile": med(lambda r: r["micro"]["codedag_vs_cprofile"]),
        "batch_ratio_codedag": med(lambda r: (r["batch"] or {}).get("ratio_vs_untraced", {}).get("codedag")),
        "batch_ratio_cprofile": med(lambda r: (r["batch"] or {}).get("ratio_vs_untraced", {}).get("cProfile")),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for side in ("a", "b"):
        ap.add_argument(f"--{side}-build", default="")
        ap.add_argument(f"--{side}-python", default="")
        ap.add_argument(f"--{side}-name", default=side.upper())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    runs: dict[str, list[dict]] = {"a": [], "b": []}
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    for r in range(args.rounds):
        for side in (("a", "b") if r % 2 == 0 else ("b", "a")):  # alternate who goes first
            runs[side].append(one_run(getattr(args, f"{side}_build"), getattr(args, f"{side}_python"), args.calls,
                                      args.repeats))
            print(f"round {r + 1} {getattr(args, f'{side}_name')}: codedag "
                  f"{runs[side][-1]['micro']['added_ns_per_call']['codedag']:.0f} ns/call, "
                  f"{runs[side][-1]['micro']['codedag_vs_cprofile']:.2f}x cProfile", flush=True)
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    a, b = summary(runs["a"]), summary(runs["b"])
    result = {
        "benchmark": "tracer before/after",
        "a": {"name": args.a_name, **a},
        "b": {"name": args.b_name, **b},
        "b_over_a": {k: (b[k] / a[k] if a[k] and b[k] else None) for k in a if k != "runs"},
        "load_average": {"before": load_before, "after": load_after},
        "raw": runs,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: result[k] for k in ("a", "b", "b_over_a", "load_average")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
