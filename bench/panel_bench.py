"""The panel's API at 1k, 10k and 100k runs, against MLflow's tracking server on the same runs.

    python bench/panel_bench.py --out bench/results/panel.json [--sizes 1000,10000,100000] [--repeats 30]

Runs: real run.json and metrics.jsonl files in the store's documented layout (info/<name>/<id>/),
shaped like a real run's record (a template run is made through codedag.Experiment first), indexed
by `codedag index rebuild` — the store's own path, not SQL inserts. One run per size carries a
100,000-point loss series. MLflow (SQLite backend) gets the same runs, params, metrics and tags
(seeded into its schema in bulk, since creating 100k runs through its client takes hours), and is
queried through the REST API its UI uses, from the same client, interleaved with CodeDAG's requests:

  page         GET /api/runs?limit=50&offset=R            POST /api/2.0/mlflow/runs/search max_results=50, page_token=R
  filter       q=params.lr=V best.acc>T                   filter "params.lr = 'V' and metrics.acc > T"
  sorted page  sort=-best.acc&offset=R                    order_by ["metrics.acc DESC"], page_token=R
  chart        /api/runs/ID/metrics/loss?points=1000      /ajax-api/2.0/mlflow/metrics/get-history-bulk-interval (max_results=320, the UI's)

R and T vary per request (no answer is served twice from a cache unless both do it). Cold numbers
(the first request after start) are reported apart. Budget at 100k runs (issue 15): page p95 < 100
ms, filter p95 < 300 ms, chart < 50 ms. Machine load is recorded: compare the ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-0123456789abcdef0123"
LRS = [0.1, 0.03, 0.01, 0.003, 0.001]
SERIES_POINTS = 100_000
MLFLOW_BUDGET_S = 90  # per query kind and size: later MLflow repeats are left out once it took this long


def cli() -> str:
    return os.environ.get("CODEDAG_CLI") or shutil.which("codedag") or str(Path(sys.executable).parent / "codedag")


def template_run(tmp: Path) -> dict:
    """The record of one real run, as codedag.Experiment writes it (fields, nesting, sizes)."""
    if importlib.util.find_spec("codedag") is None:  # not installed: the source tree's package
        sys.path.insert(0, str(REPO / "python"))
    import codedag

    home = tmp / "template"
    with codedag.Experiment("template", root=home, snapshot=False) as exp:
        exp.dump_info("params", {"lr": 0.01, "seed": 0, "model": "resnet18", "batch_size": 64, "epochs": 10,
                                 "optimizer": {"name": "adamw", "weight_decay": 0.05}, "augment": True})
        exp.log_metric("loss", 0.5, step=0)
        exp.dump_metric("acc", 0.9, "max")
        name, test_name = exp.name, exp.test_name
    return json.loads((home / "info" / name / test_name / "run.json").read_text())


def write_runs(home: Path, count: int, template: dict, rng: random.Random) -> list[dict]:
    """`count` runs in 50 experiments: params vary (lr, seed, batch), the rest is the template's.

    The record is the template's JSON text with the varying fields appended (serialised once, not per
    run): writing 100k runs is then bound by creating 200k files, not by json.dumps.
    """
    runs = []
    t0 = time.time() - count * 60
    varying = {"name", "test_name", "status", "started_at", "ended_at", "duration", "argv", "info", "metrics", "last",
               "tags"}
    fixed = json.dumps({k: v for k, v in template.items() if k not in varying})
    prefix = fixed[:-1] + ", " if fixed != "{}" else "{"
    python = template["argv"][0] if template.get("argv") else "python"
    for i in range(count):
        name = f"exp{i % 50:02d}"
        test_name = f"{240101 + (i // 100000):06d}.{(i // 50) % 100000 + 1:03d}.{i % 1296:02x}{i % 50:02d}"
        lr, seed = LRS[i % len(LRS)], (i // len(LRS)) % 5
        acc = round(0.5 + 0.4 * rng.random(), 6)
        loss = round(rng.random(), 6)
        status = "failed" if i % 37 == 0 else "finished"
        started = t0 + i * 60
        tags = ["baseline"] if i % 100 == 0 else []
        own = json.dumps({
            "name": name, "test_name": test_name, "status": status,
            "started_at": started, "ended_at": started + 300, "duration": 300.0,
            "argv": [python, "train.py", f"--lr={lr}", f"--seed={seed}"],
            "info": {"params": {"lr": lr, "seed": seed, "model": "resnet18", "batch_size": 32 * (1 + i % 3), "epochs": 10,
                                "optimizer": {"name": "adamw", "weight_decay": 0.05}, "augment": True}},
            "metrics": {"acc": {"value": acc, "cmp": "max", "at": started + 250}},
            "last": {"loss": {"value": loss, "step": 49}},
            "tags": tags,
        })
        d = home / "info" / name / test_name
        d.mkdir(parents=True, exist_ok=True)
        (d / "run.json").write_text(prefix + own[1:])
        (d / "metrics.jsonl").write_text("".join(
            f'{{"key": "loss", "step": {s}, "value": {round(loss + (49 - s) / 50, 6)}, "t": {started + s}}}\n'
            for s in range(50)))
        runs.append({"name": name, "test_name": test_name, "lr": lr, "seed": seed, "acc": acc, "loss": loss,
                     "status": status, "batch": 32 * (1 + i % 3), "started": started, "tags": tags})
    # One run with a long series, for the chart query.
    long = runs[count // 2]
    with open(home / "info" / long["name"] / long["test_name"] / "metrics.jsonl", "w") as f:
        for s in range(SERIES_POINTS):
            f.write(json.dumps({"key": "loss", "step": s, "value": 1.0 / (1 + s) + (5.0 if s == 77777 else 0.0),
                                "t": long["started"] + s * 0.01}) + "\n")
    return runs


def stored_runs(tmp: Path, size: int, template: dict, rng: random.Random) -> tuple[Path, list[dict], float]:
    """The store of `size` runs: made in `tmp`, or taken from there when --reuse made it before."""
    home, listing = tmp / f"home_{size}", tmp / f"runs_{size}.json"
    if listing.exists():
        return home, json.loads(listing.read_text()), 0.0
    shutil.rmtree(home, ignore_errors=True)
    t0 = time.perf_counter()
    runs = write_runs(home, size, template, rng)
    took = time.perf_counter() - t0
    listing.write_text(json.dumps(runs))
    return home, runs, took


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, headers: dict | None = None) -> tuple[float, dict]:
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=300) as r:
        data = r.read()
    dt = time.perf_counter() - t0
    return dt, json.loads(data)


# ---- MLflow: the same runs in its SQLite schema, served by `mlflow server` -------------------------

def seed_mlflow(db: Path, runs: list[dict], artifact_root: Path, series_run: str) -> dict:
    """Creates the schema with MLflow itself, then inserts the runs in bulk."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri)
    exp_ids = {}
    for name in sorted({r["name"] for r in runs}):
        exp_ids[name] = client.create_experiment(name, artifact_location=str(artifact_root / name))
    con = sqlite3.connect(db)
    run_rows, params, metrics, latest, tags = [], [], [], [], []
    ids = {}
    for r in runs:
        rid = uuid.uuid5(uuid.NAMESPACE_URL, r["test_name"] + r["name"]).hex
        ids[r["test_name"]] = rid
        start_ms = int(r["started"] * 1000)
        run_rows.append((rid, r["test_name"], "LOCAL", "train.py", "", "bench", r["status"].upper(),
                         start_ms, start_ms + 300000, "", str(artifact_root / r["name"] / rid), int(exp_ids[r["name"]])))
        for k, v in (("lr", r["lr"]), ("seed", r["seed"]), ("model", "resnet18"), ("batch_size", r["batch"]),
                     ("epochs", 10), ("optimizer.name", "adamw"), ("optimizer.weight_decay", 0.05), ("augment", True)):
            params.append((k, str(v), rid))
        for k, v, step in (("acc", r["acc"], 0), ("loss", r["loss"], 49)):
            metrics.append((k, v, start_ms, rid, step, 0))
            latest.append((k, v, start_ms, step, 0, rid))
        for t in r["tags"]:
            tags.append((t, "", rid))
    con.executemany("INSERT INTO runs(run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
                    "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
                    "VALUES(?,?,?,?,?,?,?,?,?,?,'active',?,?)", run_rows)
    con.executemany("INSERT INTO params(key, value, run_uuid) VALUES(?,?,?)", params)
    con.executemany("INSERT INTO metrics(key, value, timestamp, run_uuid, step, is_nan) VALUES(?,?,?,?,?,?)", metrics)
    con.executemany("INSERT INTO latest_metrics(key, value, timestamp, step, is_nan, run_uuid) VALUES(?,?,?,?,?,?)", latest)
    con.executemany("INSERT INTO tags(key, value, run_uuid) VALUES(?,?,?)", tags)
    # The long series, as mlflow.log_metric would have stored it.
    rid = ids[series_run]
    con.execute("DELETE FROM metrics WHERE run_uuid=? AND key='loss'", (rid,))
    con.executemany("INSERT INTO metrics(key, value, timestamp, run_uuid, step, is_nan) VALUES(?,?,?,?,?,?)",
                    [("loss", 1.0 / (1 + s) + (5.0 if s == 77777 else 0.0), s, rid, s, 0) for s in range(SERIES_POINTS)])
    con.commit()
    con.close()
    return {"experiments": exp_ids, "run_ids": ids, "version": mlflow.__version__}


def start_mlflow(db: Path, artifacts: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
                             "--default-artifact-root", str(artifacts), "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            urllib.request.urlopen(base + "/health", timeout=5)
            return proc, base
        except (urllib.error.URLError, OSError):  # refused, reset or timed out while it starts
            if proc.poll() is not None:
                raise RuntimeError("mlflow server exited: " + proc.stderr.read()) from None
            time.sleep(1)
    proc.kill()
    raise RuntimeError("mlflow server did not answer in 300 s")


def start_panel(home: Path) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, CODEDAG_HOME=str(home), CODEDAG_PANEL_TOKEN=TOKEN, NO_COLOR="1")
    proc = subprocess.Popen([cli(), "panel", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    for line in proc.stdout:
        m = re.match(r"codedag panel: (http://[^/]+)/", line)
        if m:
            return proc, m.group(1)
    raise RuntimeError("codedag panel printed no link")


def token(offset: int) -> str:
    """MLflow's search page token: base64 of {"offset": n}."""
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def summarize(times: list[float]) -> dict:
    s = sorted(times)
    pick = lambda q: s[min(len(s) - 1, int(round(q * (len(s) - 1))))]  # noqa: E731
    return {"n": len(s), "p50_ms": statistics.median(s) * 1e3, "p95_ms": pick(0.95) * 1e3, "max_ms": s[-1] * 1e3}


def bench_size(tmp: Path, size: int, repeats: int, template: dict, rng: random.Random, mlflow_max: int) -> dict:
    home, runs, generate_s = stored_runs(tmp, size, template, rng)
    env = dict(os.environ, CODEDAG_HOME=str(home), NO_COLOR="1")
    t0 = time.perf_counter()
    subprocess.run([cli(), "index", "rebuild"], env=env, check=True, capture_output=True)
    rebuild_s = time.perf_counter() - t0
    series_run = runs[size // 2]["test_name"]

    with_mlflow = size <= mlflow_max
    mlflow, mbase, seeded, exp_ids, mlflow_seed_s = None, "", {}, [], None
    if with_mlflow:
        db = tmp / f"mlflow_{size}.db"
        db.unlink(missing_ok=True)
        t0 = time.perf_counter()
        seeded = seed_mlflow(db, runs, tmp / f"mlflow_artifacts_{size}", series_run)
        mlflow_seed_s = time.perf_counter() - t0
        exp_ids = list(seeded["experiments"].values())

    panel, pbase = start_panel(home)
    if with_mlflow:
        mlflow, mbase = start_mlflow(db, tmp / f"mlflow_artifacts_{size}")
    auth = {"Authorization": "Bearer " + TOKEN}
    try:
        def panel_page():
            return http("GET", f"{pbase}/api/runs?limit=50&offset={rng.randrange(0, max(1, size - 50))}", headers=auth)

        def mlflow_page():
            return http("POST", f"{mbase}/api/2.0/mlflow/runs/search",
                        {"experiment_ids": exp_ids, "max_results": 50, "page_token": token(rng.randrange(0, max(1, size - 50)))})

        def filter_args():
            return rng.choice(LRS), round(rng.uniform(0.6, 0.85), 3)

        def panel_filter():
            lr, t = filter_args()
            return http("GET", f"{pbase}/api/runs?limit=50&q=" + urllib.request.quote(f"params.lr={lr} best.acc>{t}"),
                        headers=auth)

        def mlflow_filter():
            lr, t = filter_args()
            return http("POST", f"{mbase}/api/2.0/mlflow/runs/search",
                        {"experiment_ids": exp_ids, "max_results": 50, "filter": f"params.lr = '{lr}' and metrics.acc > {t}"})

        def panel_sorted():
            return http("GET", f"{pbase}/api/runs?limit=50&sort=-best.acc&offset={rng.randrange(0, max(1, size // 10))}",
                        headers=auth)

        def mlflow_sorted():
            return http("POST", f"{mbase}/api/2.0/mlflow/runs/search",
                        {"experiment_ids": exp_ids, "max_results": 50, "order_by": ["metrics.acc DESC"],
                         "page_token": token(rng.randrange(0, max(1, size // 10)))})

        def panel_chart():
            return http("GET", f"{pbase}/api/runs/{series_run}/metrics/loss?points=1000", headers=auth)

        def mlflow_chart():
            rid = seeded["run_ids"][series_run]
            return http("GET", f"{mbase}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={rid}"
                               f"&metric_key=loss&max_results=320")

        queries = {"page": (panel_page, mlflow_page), "filter": (panel_filter, mlflow_filter),
                   "sorted_page": (panel_sorted, mlflow_sorted), "chart": (panel_chart, mlflow_chart)}
        result = {"runs": size, "generate_files_s": generate_s, "index_rebuild_s": rebuild_s,
                  "mlflow_seed_s": mlflow_seed_s, "queries": {}}
        for name, (pq, mq) in queries.items():
            cold_p, answer_p = pq()
            cold_m, answer_m = mq() if with_mlflow else (float("nan"), {})
            pt, mt = [], []
            for _ in range(repeats):  # interleaved: the same machine state for both
                pt.append(pq()[0])
                if with_mlflow and sum(mt) < MLFLOW_BUDGET_S:  # MLflow at 100k takes seconds a query: n says how many ran
                    mt.append(mq()[0])
            entry = {"codedag": summarize(pt) | {"cold_ms": cold_p * 1e3},
                     "mlflow": summarize(mt) | {"cold_ms": cold_m * 1e3} if mt else {
                         "skipped": f"left out above --mlflow-max-runs {mlflow_max}: at 100k runs one of its sorted"
                                    " searches takes minutes"}}
            if mt:
                entry["p50_ratio_mlflow_over_codedag"] = entry["mlflow"]["p50_ms"] / entry["codedag"]["p50_ms"]
            entry["loadavg"] = os.getloadavg()
            if name == "chart":
                entry["codedag"]["buckets"] = len(answer_p["buckets"])
                entry["codedag"]["raw_points"] = answer_p["raw_points"]
                entry["codedag"]["spike_kept"] = max(b[3] for b in answer_p["buckets"] if b[3] is not None) > 5
                if mt:
                    pts = answer_m.get("metrics", [])
                    entry["mlflow"]["points_returned"] = len(pts)
                    entry["mlflow"]["spike_kept"] = any(p["value"] > 5 for p in pts)
            elif name == "page":
                entry["codedag"]["total"] = answer_p["total"]
            result["queries"][name] = entry
            c, m = entry["codedag"], entry["mlflow"]
            peer = (f"   mlflow p50 {m['p50_ms']:8.1f} ms p95 {m['p95_ms']:8.1f} ms"
                    f"   ({entry['p50_ratio_mlflow_over_codedag']:.1f}x)" if mt else "   mlflow left out")
            print(f"  {size:>7} runs  {name:<12} codedag p50 {c['p50_ms']:7.1f} ms p95 {c['p95_ms']:7.1f} ms"
                  f"{peer}   load {os.getloadavg()[0]:.1f}", flush=True)
        return result
    finally:
        for proc in (panel, mlflow):
            if proc is None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "panel.json"))
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--keep", action="store_true", help="keep the generated stores (printed)")
    ap.add_argument("--mlflow-max-runs", type=int, default=10**9,
                    help="leave MLflow out above this many runs (at 100k one of its sorted searches takes minutes)")
    ap.add_argument("--reuse", metavar="DIR", help="make the stores in DIR and keep them; a later run with the same"
                    " DIR takes them from there (the index is rebuilt by the codedag measured)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = random.Random(15)
    tmp = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="codedag_panel_bench_"))
    tmp.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    try:
        template = template_run(tmp)
        results = []
        for size in sizes:  # written after each size, so a long run leaves what it measured
            results.append(bench_size(tmp, size, args.repeats, template, rng, args.mlflow_max_runs))
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps({"benchmark": "panel", "partial": True, "sizes": results}, indent=1))
    finally:
        if args.keep or args.reuse:
            print("kept:", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    largest = results[-1]["queries"]
    budget = {"runs": results[-1]["runs"],
              "page_p95_ms": largest["page"]["codedag"]["p95_ms"], "page_budget_ms": 100,
              "filter_p95_ms": largest["filter"]["codedag"]["p95_ms"], "filter_budget_ms": 300,
              "chart_p95_ms": largest["chart"]["codedag"]["p95_ms"], "chart_budget_ms": 50}
    budget["met"] = (budget["page_p95_ms"] < 100 and budget["filter_p95_ms"] < 300 and budget["chart_p95_ms"] < 50)
    out = {"benchmark": "panel", "repeats": args.repeats, "machine": {"cpus": os.cpu_count(),
           "loadavg_before": load_before, "loadavg_after": os.getloadavg()}, "sizes": results, "budget_at_largest": budget}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(("✓" if budget["met"] else "✗") + f" budget at {budget['runs']} runs: page p95 {budget['page_p95_ms']:.1f} ms"
          f" (<100), filter p95 {budget['filter_p95_ms']:.1f} ms (<300), chart p95 {budget['chart_p95_ms']:.1f} ms (<50)")
    print(f"wrote {args.out}")
    return 0 if budget["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
