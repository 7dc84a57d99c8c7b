"""What the panel's value tables cost the index writer: `codedag index rebuild` of one store by two
codedag builds, interleaved, each on its own hard-linked copy of the run files.

    python bench/panel_index_cost.py STORE_HOME OLD_CODEDAG NEW_CODEDAG OUT.json [ROUNDS]

Used with OLD = a schema-5 build (values kept by SQLite triggers) and NEW = this tree (values written
by RunIndex). Training processes never write the index (runs write files only), so this is the
whole cost: paid by `index rebuild`, and per changed run by the sync of `codedag ls` and the panel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    src, old_cli, new_cli, out = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4])
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    work = out.parent / f"index_cost_{src.name}"
    homes = {}
    for tag in ("old", "new"):
        home = work / tag
        if not home.exists():
            home.mkdir(parents=True)
            subprocess.run(["cp", "-al", str(src / "info"), str(home / "info")], check=True)
        homes[tag] = home
    result = {"store": str(src), "old": [], "new": [], "loadavg": []}
    for _ in range(rounds):
        for tag, cli in (("old", old_cli), ("new", new_cli)):
            for f in homes[tag].glob("index.sqlite*"):
                f.unlink()
            env = dict(os.environ, CODEDAG_HOME=str(homes[tag]), NO_COLOR="1")
            t0 = time.perf_counter()
            subprocess.run([cli, "index", "rebuild"], env=env, check=True, capture_output=True)
            result[tag].append(time.perf_counter() - t0)
            result["loadavg"].append(os.getloadavg())
            print(f"{tag}: {result[tag][-1]:.2f} s (load {os.getloadavg()[0]:.1f})", flush=True)
    result["runs"] = sum(1 for _ in (src / "info").glob("*/*"))
    out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
