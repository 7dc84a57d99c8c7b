"""The closing lines of `make test`: each suite's counts and the overall total, read from the logs
the Makefile's test target tees (one per suite), so the last line says how the whole run went.

    python scripts/test_summary.py LOG_DIR START_EPOCH_SECONDS
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

# ctest: "100% tests passed out of 312" (CMake 4), "97% tests passed, 9 tests failed out of 312"
CTEST = re.compile(r"\d+% tests passed(?:, (\d+) tests? failed)? out of (\d+)")
# "==== 3 failed, 520 passed, 4 skipped, 1 error in 301.20s (0:05:01) ===="  (pytest)
PYTEST = re.compile(r"^=+ (.*?) in [0-9.]+s.*=+$")
COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")
# "· tracer tests under Python 3.12 (.venv-py3.12)" (the Makefile's line before each extra Python's run)
EXTRA = re.compile(r"tracer tests under Python (\d+\.\d+)")


def suites(log_dir: Path) -> list[tuple[str, dict[str, int]]]:
    found: list[tuple[str, dict[str, int]]] = []
    for log in sorted(log_dir.glob("*.log")):
        name = log.stem.split("-", 1)[-1]  # "2-Python 3.11" -> "Python 3.11"
        for line in log.read_text(errors="replace").splitlines():
            if m := EXTRA.search(line):
                name = f"tracer, Python {m.group(1)}"
            if m := CTEST.search(line):
                failed, total = int(m.group(1) or 0), int(m.group(2))
                found.append(("C++ (ctest)", {"passed": total - failed, "failed": failed}))
            elif m := PYTEST.match(line.strip()):
                counts = {k.rstrip("s") if k.startswith("error") else k: int(n) for n, k in COUNT.findall(m.group(1))}
                if counts:
                    found.append((name, counts))
    return found


def main() -> int:
    log_dir, start = Path(sys.argv[1]), float(sys.argv[2])
    found = suites(log_dir)
    total: dict[str, int] = {}
    print()
    print("== make test: summary ==")
    for name, counts in found:
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v
        print(f"  {name}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    minutes, seconds = divmod(int(time.time() - start), 60)
    bad = total.get("failed", 0) + total.get("error", 0)
    words = ", ".join(f"{v} {k}" for k, v in total.items() if v) or "no test ran"
    mark = "✗" if bad or not found else "✓"
    print(f"{mark} make test: {words} in {minutes} min {seconds:02d} s ({len(found)} suites)")
    return 1 if bad or not found else 0


if __name__ == "__main__":
    sys.exit(main())
