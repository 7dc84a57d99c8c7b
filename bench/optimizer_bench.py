"""Optimizer benchmark: random layered pipeline DAGs of 1.5k, 10k and 100k contexts, k = 2 and 4.

For each size and k: CodeDAG's time (median of repeats), peak memory (fresh process), cost, lower
bound and gap; the greedy HEFT-like baseline's cost and time in the same run; and on the 1.5k graph
(k = 2, cpu + batch:cpu, no shared functions so every context is its own decision) an exact MILP of
the same problem solved by HiGHS (highspy) — the true optimum, and its time.

    .venv/bin/python bench/optimizer_bench.py --out bench/results/optimizer.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

SIZES = [1500, 10_000, 100_000]
KS = [(2, 1), (4, 2)]  # (k, GPUs): k=2 chooses one of batch:cpu / cuda:0; k=4 uses batch:cpu, cuda:0, cuda:1


def _run_config(args, queue):
    import resource

    import codedag

    n, k, gpus, repeats, seed = args
    dag = codedag.random_layered_dag(n, seed=seed)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, greedy_times = [], []
    res = greedy = None
    for _ in range(repeats):
        opt = codedag.OptimizerManager(k=k, gpu_count=gpus, seed=0)
        t = time.perf_counter()
        res = opt.optimize(dag)
        times.append(time.perf_counter() - t)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    for _ in range(repeats):
        opt = codedag.OptimizerManager(k=k, gpu_count=gpus, algorithm="greedy")
        t = time.perf_counter()
        greedy = opt.optimize(dag)
        greedy_times.append(time.perf_counter() - t)
    queue.put(
        {
            "nodes": n,
            "k": k,
            "gpus": gpus,
            "repeats": repeats,
            "codedag": {
                "median_s": statistics.median(times),
                "engine_median_s": res["seconds"],
                "phase_seconds": res["phase_seconds"],
                "peak_rss_delta_mib": peak_kib / 1024,
                "cost_ns": res["cost"],
                "baseline_cost_ns": res["baseline_cost"],
                "predicted_speedup": res["predicted_speedup"],
                "lower_bound_ns": res["lower_bound"],
                "gap": res["gap"],
                "method": res["method"],
                "cuts": res["cuts"],
                "groups": res["groups"],
                "merged_chains": res["merged_chains"],
            },
            "greedy": {"median_s": statistics.median(greedy_times), "cost_ns": greedy["cost"]},
            "ratios": {
                "greedy_cost_over_codedag_cost": greedy["cost"] / res["cost"],
                "codedag_time_over_greedy_time": statistics.median(times) / statistics.median(greedy_times),
            },
        }
    )


def run_isolated(args):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run_config, args=(args, queue))
    proc.start()
    out = queue.get(timeout=1800)
    proc.join()
    return out


def milp_peer(n: int, seed: int) -> dict:
    """The k=2 problem (cpu vs batch:cpu) as a MILP for HiGHS: min z, z >= S_cpu(x), z >= S_batch(x),
    x_u <= x_v on data edges (moved set closed under consumers), x = 0 where not eligible."""
    import highspy
    import numpy as np

    import codedag

    dag = codedag.random_layered_dag(n, seed=seed, shared_function_rate=0.0)
    model = codedag.DeviceModel.defaults(workers=dag.meta["workers"])
    ours = codedag.OptimizerManager(k=2, gpu_count=0, device_model=model)
    t = time.perf_counter()
    res = ours.optimize(dag)
    ours_s = time.perf_counter() - t

    nodes = dag.nodes
    index = {node.id: i for i, node in enumerate(nodes)}
    W = model.workers
    a = np.array([node.cpu_ns / W for node in nodes])
    b = np.array(
        [node.batch_ns if node.batch_ns is not None else node.cpu_ns / model.batch_speedup for node in nodes]
    )
    # cpu -> batch:cpu transfers are free in the default model, so S_batch needs no edge terms.
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("time_limit", 180.0)
    inf = highspy.kHighsInf
    for node in nodes:  # x_i
        h.addVar(0.0, 1.0 if node.gpu_eligible else 0.0)
    h.addVar(0.0, inf)  # z
    z = len(nodes)
    h.changeColsIntegrality(
        len(nodes), np.arange(len(nodes), dtype=np.int32), np.full(len(nodes), highspy.HighsVarType.kInteger)
    )
    h.changeColCost(z, 1.0)
    total = float(a.sum())
    # z + sum a x >= C ;  z - sum b x >= 0
    idx = np.arange(len(nodes) + 1, dtype=np.int32)
    h.addRow(total, inf, len(idx), idx, np.append(a, 1.0))
    h.addRow(0.0, inf, len(idx), idx, np.append(-b, 1.0))
    for e in dag.edges:
        if e.kind == codedag.EdgeKind.data:
            u, v = index[e.src], index[e.dst]
            h.addRow(0.0, inf, 2, np.array([v, u], dtype=np.int32), np.array([1.0, -1.0]))  # x_v - x_u >= 0
    t = time.perf_counter()
    h.run()
    milp_s = time.perf_counter() - t
    optimum = h.getInfo().objective_function_value
    return {
        "nodes": n,
        "problem": "k=2, executors cpu + batch:cpu, default device model",
        "highs_milp": {
            "seconds": milp_s,
            "optimum_ns": optimum,
            "status": h.modelStatusToString(h.getModelStatus()),
        },
        "codedag": {"seconds": ours_s, "cost_ns": res["cost"], "lower_bound_ns": res["lower_bound"]},
        "ratios": {
            "codedag_cost_over_optimum": res["cost"] / optimum if optimum else None,
            "highs_time_over_codedag_time": milp_s / ours_s,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated node counts")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    results = {"benchmark": "optimizer", "python": sys.version.split()[0], "configs": [], "peers": []}
    for n in sizes:
        for k, gpus in KS:
            repeats = 3 if n >= 100_000 else 5
            row = run_isolated((n, k, gpus, repeats, args.seed))
            results["configs"].append(row)
            c = row["codedag"]
            print(
                f"n={n:>6} k={k}  codedag {c['median_s'] * 1000:9.1f} ms  cost {c['cost_ns'] / 1e6:10.2f} ms"
                f"  bound {c['lower_bound_ns'] / 1e6:10.2f} ms  gap {c['gap'] * 100:6.3f} %"
                f"  greedy {row['greedy']['cost_ns'] / 1e6:10.2f} ms in {row['greedy']['median_s'] * 1000:8.1f} ms"
                f"  peak +{c['peak_rss_delta_mib']:.0f} MiB",
                flush=True,
            )
    try:
        peer = milp_peer(1500, args.seed)
        results["peers"].append(peer)
        print(
            f"HiGHS MILP (1.5k, k=2): optimum {peer['highs_milp']['optimum_ns'] / 1e6:.3f} ms in "
            f"{peer['highs_milp']['seconds'] * 1000:.0f} ms; CodeDAG {peer['codedag']['cost_ns'] / 1e6:.3f} ms in "
            f"{peer['codedag']['seconds'] * 1000:.1f} ms",
            flush=True,
        )
    except ImportError as exc:
        results["peers"].append({"highs_milp": f"skipped: {exc} (pip install highspy)"})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"✓ wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
