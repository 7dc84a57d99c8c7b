"""Resource sampling cost: CodeDAG's C++ sampler against psutil doing the same readings, side by
side in one run.

"psutil" finds the tree each sample (children(recursive=True): a scan of every pid, which is how
psutil finds descendants); "psutil_tree_cached" finds it once and only reads. "kernel_floor" is the
time the kernel takes to generate the same procfs files, which no sampler can go under.

A "full sample" is what ExperimentMonitor records each interval: CPU time and resident memory of
the process tree (this process and its children; two idle workers are started so the tree has
three processes, as a DataLoader with workers does), the host's CPU and memory. CodeDAG also reads
the cgroup counters when a limit is set and NVML when a GPU exists; psutil does neither.

Figures: median microseconds per full sample, and the CPU a background sampler costs at 10 Hz
(% of one core, measured from the sampling thread's own schedstat run time), for CodeDAG's thread
and for a Python thread calling psutil. Writes JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil  # noqa: E402

import codedag  # noqa: E402
from codedag import _core  # noqa: E402
from codedag._term import Terminal  # noqa: E402

TARGET_US = 20.0
TARGET_CPU_PCT = 0.1


def psutil_full_sample(root: psutil.Process) -> tuple[float, float, float, float]:
    """The same readings with psutil: tree CPU times and RSS, host CPU times and memory."""
    cpu = rss = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    host = psutil.cpu_times()
    mem = psutil.virtual_memory()
    return cpu, rss, host.user + host.system, mem.percent


def psutil_cached_tree_sample(tree: list[psutil.Process]) -> tuple[float, float, float, float]:
    """psutil's readings alone: the tree found once and reused (so a new worker would be missed)."""
    cpu = rss = 0.0
    for p in tree:
        t = p.cpu_times()
        cpu += t.user + t.system
        rss += p.memory_info().rss
    host = psutil.cpu_times()
    mem = psutil.virtual_memory()
    return cpu, rss, host.user + host.system, mem.percent


def time_psutil(n: int) -> list[float]:
    root = psutil.Process()
    psutil_full_sample(root)
    out = []
    for _ in range(n):
        a = time.perf_counter_ns()
        psutil_full_sample(root)
        out.append(time.perf_counter_ns() - a)
    return out


def time_psutil_cached(n: int) -> list[float]:
    root = psutil.Process()
    tree = [root, *root.children(recursive=True)]
    psutil_cached_tree_sample(tree)
    out = []
    for _ in range(n):
        a = time.perf_counter_ns()
        psutil_cached_tree_sample(tree)
        out.append(time.perf_counter_ns() - a)
    return out


def kernel_floor(n: int, tree_pids: list[int]) -> dict:
    """What the kernel alone charges to produce the files a full sample reads (one pread each on
    an open descriptor, timed from Python, so ~0.3 µs of interpreter overhead per file is included)."""
    files = ["/proc/stat", "/proc/meminfo"] + [f"/proc/{pid}/stat" for pid in tree_pids]
    fds = [os.open(f, os.O_RDONLY) for f in files]
    per_file = {}
    try:
        for f, fd in zip(files, fds, strict=True):
            ns = []
            for _ in range(n):
                a = time.perf_counter_ns()
                os.pread(fd, 65536, 0)
                ns.append(time.perf_counter_ns() - a)
            per_file[f] = statistics.median(ns) / 1000
    finally:
        for fd in fds:
            os.close(fd)
    return {"per_file_us": per_file, "total_us": sum(per_file.values())}


def thread_run_ns(tid: int) -> int:
    """Nanoseconds a thread of this process has run (first field of its schedstat)."""
    with open(f"/proc/self/task/{tid}/schedstat") as f:
        return int(f.read().split()[0])


def new_thread_id(before: set[str]) -> int:
    after = set(os.listdir("/proc/self/task"))
    (tid,) = after - before
    return int(tid)


def codedag_thread_cpu(seconds: float) -> tuple[float, int]:
    before = set(os.listdir("/proc/self/task"))
    sampler = _core.ResourceSampler(0.1, 0, "/", True)
    sampler.start()
    tid = new_thread_id(before)
    time.sleep(0.3)
    a, t0 = thread_run_ns(tid), time.monotonic()
    time.sleep(seconds)
    b, t1 = thread_run_ns(tid), time.monotonic()
    sampler.stop()
    return (b - a) / ((t1 - t0) * 1e9) * 100, sampler.sample_count


def psutil_thread_cpu(seconds: float) -> tuple[float, int]:
    stop = threading.Event()
    count = [0]

    def loop():
        root = psutil.Process()
        while not stop.wait(0.1):
            psutil_full_sample(root)
            count[0] += 1

    before = set(os.listdir("/proc/self/task"))
    th = threading.Thread(target=loop, daemon=True)
    th.start()
    tid = new_thread_id(before)
    time.sleep(0.3)
    a, t0 = thread_run_ns(tid), time.monotonic()
    time.sleep(seconds)
    b, t1 = thread_run_ns(tid), time.monotonic()
    stop.set()
    th.join()
    return (b - a) / ((t1 - t0) * 1e9) * 100, count[0]


def summary(ns: list[float]) -> dict:
    us = sorted(x / 1000 for x in ns)
    return {
        "median_us": statistics.median(us),
        "p10_us": us[len(us) // 10],
        "p90_us": us[len(us) * 9 // 10],
        "samples": len(us),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=5.0, help="window of the 10 Hz CPU measurement")
    args = parser.parse_args()
    term = Terminal()

    workers = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]) for _ in range(2)]
    try:
        reader = _core.ResourceReader(0, "/", True)
        info = reader.describe()
        term.header(
            "monitor benchmark",
            {
                "codedag": codedag.__version__,
                "psutil": psutil.__version__,
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "cgroup": info["cgroup"]["version"],
                "cpu capacity": info["cpu_capacity"],
                "gpus": len(info["gpus"]),
                "process tree": 1 + len(workers),
                "samples": args.samples,
            },
        )
        # Interleaved rounds so drift in machine load hits both sides alike.
        ours, theirs, cached = [], [], []
        rounds = 5
        for _ in range(rounds):
            ours += reader.time_samples(args.samples // rounds)
            theirs += time_psutil(max(1, args.samples // rounds // 10))  # milliseconds each: fewer
            cached += time_psutil_cached(args.samples // rounds)
        c, p, pc = summary(ours), summary(theirs), summary(cached)
        floor = kernel_floor(1000, [os.getpid()] + [w.pid for w in workers])
        term.ok(
            f"per full sample: CodeDAG {c['median_us']:.1f} µs, psutil {p['median_us']:.1f} µs "
            f"({p['median_us'] / c['median_us']:.1f}x), psutil with the tree cached {pc['median_us']:.1f} µs "
            f"({pc['median_us'] / c['median_us']:.1f}x)"
        )
        term.info(f"kernel floor (producing the same files): {floor['total_us']:.1f} µs")
        cd_cpu, cd_n = codedag_thread_cpu(args.seconds)
        ps_cpu, ps_n = psutil_thread_cpu(args.seconds)
        term.ok(f"sampler at 10 Hz: CodeDAG thread {cd_cpu:.3f} % of a core, psutil thread {ps_cpu:.3f} %")
    finally:
        for w in workers:
            w.kill()
            w.wait()

    result = {
        "benchmark": "monitor",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "cgroup": info["cgroup"]["version"],
            "gpus": info["gpus"],
        },
        "process_tree_size": 1 + len(workers),
        "per_sample": {
            "codedag": c,
            "psutil": p,
            "psutil_over_codedag": p["median_us"] / c["median_us"],
            "psutil_tree_cached": pc,
            "psutil_tree_cached_over_codedag": pc["median_us"] / c["median_us"],
            "kernel_floor": floor,
            "load_average": os.getloadavg(),
        },
        "cpu_at_10hz_pct_of_core": {
            "codedag_thread": cd_cpu,
            "psutil_thread": ps_cpu,
            "psutil_over_codedag": ps_cpu / cd_cpu if cd_cpu > 0 else None,
            "samples_taken": {"codedag": cd_n, "psutil": ps_n},
            "window_s": args.seconds,
        },
        "targets": {"per_sample_us": TARGET_US, "cpu_pct_at_10hz": TARGET_CPU_PCT},
        "met": {"per_sample_us": c["median_us"] <= TARGET_US, "cpu_pct_at_10hz": cd_cpu < TARGET_CPU_PCT},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    for name, met in result["met"].items():
        (term.ok if met else term.warn)(f"target {name}: {'met' if met else 'missed'}")
    term.ok(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
