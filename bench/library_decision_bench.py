"""The library decision at a tracer's start: what `EnhancedTracer()` pays to judge every loaded package
(codedag.libraries.decide, reading .dist-info folders itself) against the standard library's way to
answer the same question (importlib.metadata.packages_distributions() plus each distribution's
METADATA Name), each in a fresh interpreter with torch, numpy, scipy, librosa, cv2 and PIL loaded,
interleaved round by round so both see the same machine load.

    python bench/library_decision_bench.py --rounds 5 --out bench/results/library_decision.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

PRELUDE = """
import json, sys, time
for name in ("torch", "numpy", "scipy", "librosa", "cv2", "PIL.Image"):
    try:
        __import__(name)
    except ImportError:
        pass
names = [n for n, m in list(sys.modules.items()) if "." not in n and not n.startswith("_")
         and n not in sys.stdlib_module_names and getattr(m, "__file__", None)]
"""

CODEDAG = PRELUDE + """
from codedag import libraries
t = time.perf_counter()
got = {n: libraries.decide(n).distribution for n in names}
decide_s = time.perf_counter() - t
import codedag
t = time.perf_counter()
codedag.EnhancedTracer()
print(json.dumps({"seconds": decide_s, "tracer_start_s": time.perf_counter() - t, "answers": got}))
"""

PEER = PRELUDE + """
import importlib.metadata as md
t = time.perf_counter()
tops = md.packages_distributions()
got = {n: (md.distribution(tops[n][0]).metadata["Name"] if n in tops else None) for n in names}
print(json.dumps({"seconds": time.perf_counter() - t, "answers": got}))
"""


def run(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=dict(os.environ, NO_COLOR="1"))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default="bench/results/library_decision.json")
    args = parser.parse_args()
    codedag, peer = [], []
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        codedag.append(run(CODEDAG))
        peer.append(run(PEER))
        load.append(os.getloadavg()[0])
    med_codedag = statistics.median(r["seconds"] for r in codedag)
    med_peer = statistics.median(r["seconds"] for r in peer)
    result = {
        "rounds": args.rounds,
        "loadavg_1min": {"min": min(load), "max": max(load)},
        "codedag_decide_all_s": med_codedag,
        "codedag_tracer_start_s": statistics.median(r["tracer_start_s"] for r in codedag),
        "importlib_metadata_s": med_peer,
        "codedag_vs_importlib_metadata": med_codedag / med_peer if med_peer else None,
        "answers": {"codedag": codedag[-1]["answers"], "importlib_metadata": peer[-1]["answers"]},
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
    os.replace(args.out + ".tmp", args.out)
    print(f"codedag {med_codedag * 1e3:.1f} ms, importlib.metadata {med_peer * 1e3:.1f} ms "
          f"(ratio {result['codedag_vs_importlib_metadata']:.2f}), load {min(load):.1f}-{max(load):.1f} -> {args.out}")


if __name__ == "__main__":
    main()
