"""A real `codedag panel` process over a real store, for the panel's API and browser tests."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from conftest import cli_path, python_env

REPO = Path(__file__).resolve().parents[3]
TOKEN = "panel-test-token-0123456789abcdef"

# One run of a small "training" script: params, a best metric, a long loss series with a spike and
# a NaN, and (for --plan) the pipeline DAG and a plan as the closed loop attaches them.
TRAIN = textwrap.dedent(
    """
    import json, math, os, sys, tempfile
    import codedag

    args = dict(a.lstrip("-").split("=", 1) for a in sys.argv[1:])
    lr, seed = float(args.get("lr", "0.1")), int(args.get("seed", "0"))
    with codedag.Experiment(args.get("name", "mnist"), snapshot=False) as exp:
        exp.dump_info("params", {"lr": lr, "seed": seed, "model": "mlp", "batch": 64})
        for step in range(int(args.get("steps", "3000"))):
            loss = 1.0 / (1 + step * lr) + (25.0 if step == 1777 else 0.0)
            exp.log_metric("loss", float("nan") if step == 2222 else loss, step=step)
        exp.log_metric("acc", 0.5 + lr + seed / 100, step=0)
        exp.dump_metric("acc", 0.5 + lr + seed / 100, "max")
        if "plan" in args:
            with tempfile.TemporaryDirectory() as tmp:
                dag, plan, loop = (os.path.join(tmp, f) for f in ("dag.json", "plan.json", "closed_loop.json"))
                with open(dag, "w") as f:
                    json.dump({"schema": "codedag.dag/1", "meta": {"batches": 1},
                               "nodes": [{"id": 1, "name": "Dataset.__getitem__", "qualname": "pkg.Dataset.__getitem__",
                                          "calls": 32, "cpu_ns": 2e6, "total_ns": 9e6},
                                         {"id": 2, "name": "load", "qualname": "pkg.load", "parent": 1, "depth": 1,
                                          "calls": 32, "cpu_ns": 3e6, "total_ns": 3e6, "out_bytes": 4096},
                                         {"id": 3, "name": "MelSpec.__call__", "qualname": "pkg.MelSpec.__call__",
                                          "parent": 1, "depth": 1, "calls": 32, "cpu_ns": 4e6, "total_ns": 4e6,
                                          "gpu_eligible": True}],
                               "edges": [{"src": 1, "dst": 2, "kind": "call", "bytes": 0, "count": 32},
                                         {"src": 1, "dst": 3, "kind": "call", "bytes": 0, "count": 32},
                                         {"src": 2, "dst": 3, "kind": "data", "bytes": 524288, "count": 32}]}, f)
                with open(plan, "w") as f:
                    json.dump({"schema": "codedag.plan/1", "default_device": args["plan"],
                               "context_device_map": {"pkg.MelSpec.__call__": args["plan"]},
                               "cost": 5e6, "baseline_cost": 9e6, "predicted_speedup": 1.8}, f)
                with open(loop, "w") as f:
                    json.dump({"kept": True, "reason": "verified and faster", "predicted_speedup": 1.8,
                               "measured_speedup": 1.5, "baseline_batches_per_s": 10.0,
                               "migrated_batches_per_s": 15.0}, f)
                exp.attach("dag", dag)
                exp.attach("plan", plan)
                exp.attach("closed_loop", loop)
        print(exp.test_name)
    """
)


def make_run(workdir: Path, *args: str) -> str:
    """Runs TRAIN with `--key=value` args in `workdir`; returns the run's test_name."""
    script = workdir / "train.py"
    if not script.exists():
        script.write_text(TRAIN)
    proc = subprocess.run([sys.executable, str(script), *args], cwd=workdir, capture_output=True, text=True,
                          env=python_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


@dataclass
class Panel:
    proc: subprocess.Popen
    base: str   # http://127.0.0.1:PORT
    link: str   # the printed link, with ?token=
    header: str  # what the panel printed around the link

    def request(self, path: str, *, token: str | None = TOKEN, host: str | None = None, method: str = "GET",
                body: dict | None = None, headers: dict | None = None) -> tuple[int, dict | str]:
        req = urllib.request.Request(self.base + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if host:
            req.add_header("Host", host)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, text, ctype = r.status, r.read().decode(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, text, ctype = e.code, e.read().decode(), e.headers.get("Content-Type", "")
        return status, json.loads(text) if ctype.startswith("application/json") else text

    def get(self, path: str, expect: int = 200) -> dict:
        status, body = self.request(path)
        assert status == expect, (path, status, body)
        return body

    def post(self, path: str, body: dict, expect: int = 200) -> dict:
        status, answer = self.request(path, method="POST", body=body, headers={"X-CodeDAG-Request": "1"})
        assert status == expect, (path, status, answer)
        return answer


def start_panel(home: Path, *extra: str) -> Panel:
    env = dict(python_env(), CODEDAG_HOME=str(home), CODEDAG_PANEL_TOKEN=TOKEN)
    proc = subprocess.Popen([cli_path(), "panel", "--port", "0", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    header = []
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError("codedag panel exited before printing its link:\n" + "".join(header))
        m = re.match(r"codedag panel: (http://[^/]+)(/\?token=\S+)$", line.strip())
        if m:
            header.append(proc.stdout.readline())  # the ssh -L hint
            return Panel(proc, m.group(1), m.group(1) + m.group(2), "".join(header))
        header.append(line)
    proc.kill()
    raise AssertionError("codedag panel printed no link in 120 s:\n" + "".join(header))


def stop_panel(panel: Panel) -> str:
    panel.proc.send_signal(signal.SIGTERM)
    out, _ = panel.proc.communicate(timeout=60)
    assert panel.proc.returncode == 0, out
    return out
