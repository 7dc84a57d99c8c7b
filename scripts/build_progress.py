"""Turns a verbose `pip install` of codedag (cmake + ninja output) into one progress line with the
time left, keeping the whole output in a log file; compiler errors still show, and on failure
the log's tail is printed so the cause is on screen.

    pip install -v ... 2>&1 | python scripts/build_progress.py LOG_FILE
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

STEP = re.compile(r"^\s*\[(\d+)/(\d+)\] ")  # ninja's "[12/297] Building ...", indented by pip -v
SHOWN = re.compile(r"^\s*FAILED: | error: ")  # a failed step and the compiler's errors (warnings stay in the log)
NOISE = re.compile(r"^WARNING: Location .* is ignored")  # this machine's pip configuration, said once per package


def left(elapsed: float, done: int, total: int) -> str:
    if done == 0 or elapsed < 5:
        return ""
    seconds = int(elapsed / done * (total - done))
    return f", about {seconds // 60} min {seconds % 60:02d} s left" if seconds >= 60 else f", about {seconds} s left"


def main() -> int:
    log_path = Path(sys.argv[1])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tty = sys.stdout.isatty()
    start = time.monotonic()
    last_quarter: tuple[int, int] | None = None
    drawn = False
    with log_path.open("w") as log:
        for line in sys.stdin:
            log.write(line)
            if NOISE.match(line):
                continue
            m = STEP.match(line)
            if m:
                done, total = int(m.group(1)), int(m.group(2))
                text = f"  compiling {done}/{total} ({100 * done // total}%){left(time.monotonic() - start, done, total)}"
                if tty:
                    sys.stdout.write("\r" + text + "\x1b[K")
                    drawn = True
                elif (total, 4 * done // total) != last_quarter:
                    # Keyed by the total too: ninja's first "[0/2] Re-checking globbed directories" is
                    # its own little build, and the real one must still print its first line.
                    last_quarter = (total, 4 * done // total)
                    print(text)
                sys.stdout.flush()
            elif SHOWN.search(line):
                if drawn:
                    sys.stdout.write("\n")
                    drawn = False
                sys.stdout.write(line)
    if drawn:
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
