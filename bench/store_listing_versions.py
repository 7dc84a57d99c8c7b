"""Listing speed of two CodeDAG installations on the same store, interleaved: a regression check for
changes to the store (issue 12 must not make `codedag ls` or `Watcher.load()` slower; issue 17 wants
< 50 ms at 10k runs).

    python bench/store_listing_versions.py --before /path/to/old/venv --after .venv \
        --sizes 1000,10000 --out bench/results/store_listing_versions.json

Each installation is a virtual environment with codedag installed (its `bin/codedag` and
`bin/python`). The store is written once per size in the documented layout (bench/store_bench.py's
write_runs) and each installation builds its own index first; then the measurements alternate
before/after, `--repeats` times each, and the medians and after/before ratios are reported with the
machine load seen.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from store_bench import write_runs  # noqa: E402

LOAD = "import codedag,sys; w=codedag.Watcher(sys.argv[1]); import time; t=time.perf_counter(); " \
       "rows=w.load(as_frame=False) if 'as_frame' in codedag.Watcher.load.__code__.co_varnames else w.load(); " \
       "print(time.perf_counter()-t, len(rows))"


def timed(cmd, env):
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def watcher_load(python, home, env):
    out = subprocess.run([python, "-c", LOAD, str(home)], env=env, check=True, capture_output=True, text=True)
    secs, rows = out.stdout.split()
    return float(secs), int(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="venv of the reference installation")
    ap.add_argument("--after", required=True, help="venv of the installation under test")
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    installs = {k: Path(v).resolve() for k, v in (("before", args.before), ("after", args.after))}
    tmp = Path(tempfile.mkdtemp(prefix="codedag_listing_"))
    results = {"sizes": [], "load_before": os.getloadavg()}
    try:
        for size in map(int, args.sizes.split(",")):
            home = tmp / f"store_{size}"
            write_runs(home, size)
            env = dict(os.environ, CODEDAG_HOME=str(home), NO_COLOR="1", XDG_CACHE_HOME=str(tmp / "xdg"))
            env.pop("CODEDAG_BUILD_DIR", None)
            env.pop("PYTHONPATH", None)
            times: dict[str, dict[str, list[float]]] = {k: {"ls_json": [], "ls_table": [], "watcher_load": []}
                                                        for k in installs}
            for venv in installs.values():  # each builds its own index first (not measured)
                subprocess.run([venv / "bin" / "codedag", "ls", "--json"], env=env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(args.repeats):
                for key, venv in installs.items():
                    cli = str(venv / "bin" / "codedag")
                    times[key]["ls_json"].append(timed([cli, "ls", "--json"], env))
                    times[key]["ls_table"].append(timed([cli, "ls"], env))
                    secs, rows = watcher_load(str(venv / "bin" / "python"), home, env)
                    assert rows == size, (key, rows)
                    times[key]["watcher_load"].append(secs)
            entry = {"runs": size}
            for what in ("ls_json", "ls_table", "watcher_load"):
                b = statistics.median(times["before"][what])
                a = statistics.median(times["after"][what])
                entry[what] = {"before_median_s": b, "after_median_s": a, "after_over_before": a / b}
                print(f"{size:>7} runs  {what:<13} before {b * 1e3:8.1f} ms   after {a * 1e3:8.1f} ms   "
                      f"ratio {a / b:5.2f}", flush=True)
            results["sizes"].append(entry)
            shutil.rmtree(home, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["load_after"] = os.getloadavg()
    results["installs"] = {k: str(v) for k, v in installs.items()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
