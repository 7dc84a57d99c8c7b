"""Experiment-record benchmark: CodeDAG against MLflow (file and SQLite stores) and lumo, side by side.

    python bench/store_bench.py --out bench/results/store.json [--sizes 1000,10000,100000]

1. Metric logging throughput: Experiment.log_metric vs mlflow.log_metric (file store, SQLite store)
   vs lumo's Experiment.dump_metric (lumo has no series API). Calls per second, medians of repeats.
2. Listing: Watcher.load() and `codedag ls` over 1k/10k/100k runs written straight into the documented
   layout (info/<name>/<test_name>/run.json) and indexed once with `codedag index rebuild`;
   MLflow's search_runs over the smallest size for comparison. Each size also reports the sync path
   taken (journal or full), the same listings with a full sync every time (CODEDAG_FULL_SYNC_SECONDS=0),
   a listing right after one run changed, and rows->dicts through json.loads vs the C++ builder.
Targets (issue 5): logging >= 1000x MLflow's log_metric; 10k runs listed in < 50 ms.
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


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_codedag_logging(tmp, n, repeats):
    import codedag

    os.environ["CODEDAG_HOME"] = str(tmp / "codedag_log")
    exp = codedag.Experiment("bench", snapshot=False).start()
    log = exp.log_metric

    def run():
        for i in range(n):
            log("loss", 0.5, i)

    secs = median_time(run, repeats)
    exp.end()
    return {"calls": n, "median_s": secs, "calls_per_s": n / secs, "us_per_call": secs / n * 1e6}


def bench_mlflow_logging(tmp, uri, n, repeats):
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this flag
    try:
        import logging

        import mlflow

        logging.getLogger("mlflow").setLevel(logging.ERROR)
    except ImportError as e:
        return {"unavailable": f"mlflow not installed: {e}"}
    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment("bench")
    except Exception as e:
        return {"unavailable": f"mlflow {uri.split(':')[0]} store: {type(e).__name__}: {str(e)[:200]}"}
    with mlflow.start_run():
        mlflow.log_metric("loss", 0.5, step=0)  # warm up (creates files / tables)

        def run():
            for i in range(n):
                mlflow.log_metric("loss", 0.5, step=i)

        secs = median_time(run, repeats)
    return {"uri": uri.split(":")[0], "calls": n, "median_s": secs, "calls_per_s": n / secs,
            "us_per_call": secs / n * 1e6, "version": mlflow.__version__}


def bench_lumo_logging(tmp, n, repeats):
    try:
        import lumo
        from lumo import Experiment
    except Exception as e:  # lumo may fail to import with newer dependencies
        return {"unavailable": f"lumo does not import: {type(e).__name__}: {e}"}
    os.environ["LUMO_CACHE_DIR"] = str(tmp / "lumo_cache")
    try:
        exp = Experiment("bench")
        exp.start()

        def run():
            for i in range(n):
                exp.dump_metric("loss", 0.5 - i * 1e-9, "min")

        secs = median_time(run, repeats)
        exp.end()
    except Exception as e:
        return {"unavailable": f"lumo failed: {type(e).__name__}: {e}"}
    return {"api": "Experiment.dump_metric (lumo has no series logging)", "calls": n, "median_s": secs,
            "calls_per_s": n / secs, "us_per_call": secs / n * 1e6, "version": getattr(lumo, "__version__", "?")}


def write_runs(home: Path, count: int) -> None:
    """`count` finished runs in the documented layout, 100 experiment names, realistic record size."""
    t0 = time.time() - count
    for i in range(count):
        name = f"exp{i % 100:02d}"
        test_name = f"240101.{i // 100 + 1:03d}.{i % 46656:03x}"[:17]
        d = home / "info" / name / test_name
        d.mkdir(parents=True, exist_ok=True)
        rec = {
            "schema": "codedag.run/1", "name": name, "test_name": test_name, "status": "finished",
            "started_at": t0 + i, "ended_at": t0 + i + 60, "duration": 60.0,
            "argv": ["python", "train.py", f"--lr={0.001 * (i % 10)}", "--epochs", "10"],
            "executable": "/usr/bin/python3", "cwd": "/work", "host": "bench", "user": "bench", "pid": 1000 + i,
            "info": {"params": {"lr": 0.001 * (i % 10), "epochs": 10, "model": "resnet18", "batch_size": 64}},
            "metrics": {"acc": {"value": (i % 1000) / 1000, "cmp": "max", "epoch": 9}},
            "last": {"loss": {"value": 0.1, "step": 999}}, "tags": [], "notes": [], "properties": {},
            "attachments": {}, "deleted": False,
            "versions": {"python": "3.11.7", "torch": "2.13.0", "numpy": "2.4.6"},
            "git": {"present": False, "reason": "bench"},
        }
        (d / "run.json").write_text(json.dumps(rec))


def cli():
    return os.environ.get("CODEDAG_CLI") or shutil.which("codedag") or str(Path(sys.executable).parent / "codedag")


def bench_listing(tmp, sizes, repeats):
    import codedag

    out = []
    for size in sizes:
        home = tmp / f"list_{size}"
        t0 = time.perf_counter()
        write_runs(home, size)
        gen_s = time.perf_counter() - t0
        env = dict(os.environ, CODEDAG_HOME=str(home), NO_COLOR="1")
        t0 = time.perf_counter()
        subprocess.run([cli(), "index", "rebuild"], env=env, check=True, capture_output=True)
        rebuild_s = time.perf_counter() - t0
        w = codedag.Watcher(home)
        assert len(w.load(as_frame=False)) == size
        load_s = median_time(lambda w=w: w.load(as_frame=False), repeats)
        load_path = dict(w._store.last_sync)
        # The same listing when every sync is full (each run's run.json stat'ed: the path before the
        # change journal, and the one taken every CODEDAG_FULL_SYNC_SECONDS), and the dicts through
        # json.loads of one JSON text (Watcher.load before the C++ builder).
        os.environ["CODEDAG_FULL_SYNC_SECONDS"] = "0"
        load_full_s = median_time(lambda w=w: w.load(as_frame=False), repeats)
        full_path = dict(w._store.last_sync)
        del os.environ["CODEDAG_FULL_SYNC_SECONDS"]
        w.load(as_frame=False)
        loads_s = median_time(lambda w=w: json.loads(w._store.list()[0]), repeats)
        objects_s = median_time(lambda w=w: w._store.list_objects(), repeats)
        # A listing right after one run changed (a tag: one journal line each time).
        ids = iter([r["test_name"] for r in w.load(as_frame=False)[: 4 * repeats + 4]])

        def change_one(ids=ids, env=env):
            subprocess.run([cli(), "tag", next(ids), "bench"], env=env, check=True, capture_output=True)

        def timed_after_change(fn, change_one=change_one):
            times = []
            for _ in range(repeats):
                change_one()
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            return statistics.median(times)

        load_changed_s = timed_after_change(lambda w=w: w.load(as_frame=False))
        changed_path = dict(w._store.last_sync)
        try:
            import pandas  # noqa: F401  (load() returns a DataFrame when it is installed)

            frame_s = median_time(w.load, repeats)
        except ImportError:
            frame_s = None
        def ls(*extra, env=env):
            return median_time(lambda: subprocess.run([cli(), "ls", *extra], env=env, check=True,
                                                      stdout=subprocess.DEVNULL), repeats)
        ls_json_s = ls("--json")
        ls_table_s = ls()
        ls_nosync_s = ls("--json", "--no-sync")
        ls_filter_s = ls("-m", "acc>0.99", "-p", "params.lr=0.005")
        ls_json_full_s = ls("--json", env=dict(env, CODEDAG_FULL_SYNC_SECONDS="0"))
        ls_json_changed_s = timed_after_change(
            lambda env=env: subprocess.run([cli(), "ls", "--json"], env=env, check=True, stdout=subprocess.DEVNULL))
        out.append({"runs": size, "generate_files_s": gen_s, "index_rebuild_s": rebuild_s,
                    "watcher_load_median_s": load_s, "watcher_load_dataframe_median_s": frame_s,
                    "cli_ls_json_median_s": ls_json_s,
                    "cli_ls_table_median_s": ls_table_s,
                    "cli_ls_json_no_sync_median_s": ls_nosync_s, "cli_ls_filtered_median_s": ls_filter_s,
                    "sync_path": load_path, "watcher_load_full_sync_median_s": load_full_s, "full_sync_path": full_path,
                    "cli_ls_json_full_sync_median_s": ls_json_full_s,
                    "watcher_load_after_one_change_median_s": load_changed_s, "after_change_sync_path": changed_path,
                    "cli_ls_json_after_one_change_median_s": ls_json_changed_s,
                    "rows_json_loads_median_s": loads_s, "rows_cpp_builder_median_s": objects_s})
        print(f"  {size:>7} runs: Watcher.load {load_s * 1e3:8.1f} ms   codedag ls --json {ls_json_s * 1e3:8.1f} ms"
              f"   codedag ls {ls_table_s * 1e3:8.1f} ms"
              f"   (--no-sync {ls_nosync_s * 1e3:7.1f} ms, filtered {ls_filter_s * 1e3:7.1f} ms)", flush=True)
        print(f"           sync: {load_path['path']} (full sync every listing: Watcher.load {load_full_s * 1e3:.1f} ms,"
              f" ls --json {ls_json_full_s * 1e3:.1f} ms); after one run changed: Watcher.load"
              f" {load_changed_s * 1e3:.1f} ms ({changed_path['path']}, {changed_path['changed']} re-read),"
              f" ls --json {ls_json_changed_s * 1e3:.1f} ms", flush=True)
        print(f"           rows to dicts: _Store.list + json.loads {loads_s * 1e3:.1f} ms,"
              f" _Store.list_objects {objects_s * 1e3:.1f} ms", flush=True)
        shutil.rmtree(home, ignore_errors=True)
    return out


def bench_mlflow_listing(tmp, count, repeats):
    try:
        import mlflow
    except ImportError as e:
        return {"unavailable": str(e)}
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow_list.db")
    mlflow.set_experiment("list")
    t0 = time.perf_counter()
    for i in range(count):
        with mlflow.start_run():
            mlflow.log_param("lr", 0.001 * (i % 10))
            mlflow.log_metric("acc", (i % 1000) / 1000)
    gen_s = time.perf_counter() - t0
    secs = median_time(lambda: mlflow.search_runs(experiment_names=["list"], max_results=100000), repeats)
    return {"runs": count, "store": "sqlite", "generate_s": gen_s, "search_runs_median_s": secs}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--log-calls", type=int, default=200_000)
    ap.add_argument("--mlflow-calls", type=int, default=300)
    ap.add_argument("--mlflow-list-runs", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    # Listing work is measured often on its own; the logging and MLflow parts take minutes.
    ap.add_argument("--listing-only", action="store_true", help="skip metric logging and MLflow listing")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    tmp = Path(tempfile.mkdtemp(prefix="codedag_store_bench_"))
    try:
        res, ratios = {}, {}
        if not args.listing_only:
            res, ratios = bench_logging(tmp, args)
        print("== listing ==", flush=True)
        listing = bench_listing(tmp, sizes, args.repeats)
        mlflow_list = {"skipped": "--listing-only"} if args.listing_only else bench_mlflow_listing(tmp, args.mlflow_list_runs, 3)
        if "search_runs_median_s" in mlflow_list:
            print(f"  mlflow search_runs over {mlflow_list['runs']} runs: {mlflow_list['search_runs_median_s'] * 1e3:.1f} ms")
        ten_k = next((x for x in listing if x["runs"] == 10000), None)
        result = {
            "benchmark": "store", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "logging": res, "logging_ratios": ratios, "listing": listing, "mlflow_listing": mlflow_list,
            "targets": {
                "logging_1000x_mlflow": {"met": all(v >= 1000 for k, v in ratios.items() if "mlflow" in k) and bool(ratios)},
                "list_10k_under_50ms": None if ten_k is None else {
                    "watcher_load_s": ten_k["watcher_load_median_s"], "cli_ls_s": ten_k["cli_ls_json_median_s"],
                    "cli_ls_table_s": ten_k["cli_ls_table_median_s"],
                    "met": max(ten_k["watcher_load_median_s"], ten_k["cli_ls_json_median_s"],
                               ten_k["cli_ls_table_median_s"]) < 0.05},
            },
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
        print(f"✓ wrote {args.out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_logging(tmp, args):
    """Metric logging against MLflow's stores and lumo: (results, codedag/peer ratios)."""
    print("== metric logging ==", flush=True)
    res = {"codedag": bench_codedag_logging(tmp, args.log_calls, args.repeats)}
    res["mlflow_file"] = bench_mlflow_logging(tmp, f"file:{tmp}/mlruns", args.mlflow_calls, 3)
    res["mlflow_sqlite"] = bench_mlflow_logging(tmp, f"sqlite:///{tmp}/mlflow.db", args.mlflow_calls // 3, 3)
    res["lumo"] = bench_lumo_logging(tmp, min(args.mlflow_calls, 200), 3)
    ratios = {}
    for peer in ("mlflow_file", "mlflow_sqlite", "lumo"):
        if "calls_per_s" in res[peer]:
            ratios[f"codedag_vs_{peer}"] = res["codedag"]["calls_per_s"] / res[peer]["calls_per_s"]
    for k, v in res.items():
        line = f"{v['us_per_call']:10.2f} us/call" if "us_per_call" in v else v.get("unavailable")
        print(f"  {k:14s} {line}", flush=True)
    for k, v in ratios.items():
        print(f"  {k}: {v:,.0f}x", flush=True)
    return res, ratios


if __name__ == "__main__":
    main()
