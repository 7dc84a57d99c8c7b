"""`codedag panel` as a user starts it: the printed link, the access rules, and every JSON API
route against runs made by a real script (real files, real SQLite, real git for the code diff)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import python_env
from panel_fixtures import TOKEN, make_run, start_panel, stop_panel


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Four runs of a grid (lr x seed), one with a plan on batch:cpu and one on cuda:0, in a git repo."""
    root = tmp_path_factory.mktemp("panel")
    home, work = root / "home", root / "work"
    work.mkdir()
    env = dict(python_env(), CODEDAG_HOME=str(home))
    git = lambda *a: subprocess.run(["git", *a], cwd=work, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "start")
    import os

    old = os.environ.get("CODEDAG_HOME")
    os.environ["CODEDAG_HOME"] = str(home)
    try:
        ids = [
            make_run(work, "--lr=0.1", "--seed=0", "--plan=batch:cpu"),
            make_run(work, "--lr=0.1", "--seed=1"),
            make_run(work, "--lr=0.01", "--seed=0", "--plan=cuda:0"),
            make_run(work, "--lr=0.01", "--seed=1", "--steps=10"),
        ]
    finally:
        if old is None:
            del os.environ["CODEDAG_HOME"]
        else:
            os.environ["CODEDAG_HOME"] = old
    return {"home": home, "work": work, "ids": ids, "env": env}


@pytest.fixture(scope="module")
def panel(store):
    p = start_panel(store["home"])
    yield p
    stop_panel(p)


def test_prints_the_link_on_one_line_and_the_ssh_hint(panel, store):
    assert panel.link.startswith("http://127.0.0.1:") and panel.link.endswith("/?token=" + TOKEN)
    assert "ssh -N -L" in panel.header and str(store["home"]) in panel.header


def test_every_request_needs_the_token_and_a_loopback_host(panel):
    status, body = panel.request("/api/runs", token=None)
    assert status == 401 and "token" in body["error"]
    status, _ = panel.request("/", token=None)
    assert status == 401
    status, body = panel.request("/api/runs", token="wrong-token-wrong-token")
    assert status == 401
    status, body = panel.request("/api/runs", host="attacker.example:80")
    assert status == 403 and "attacker.example" in body["error"]
    for host in ("localhost:1", "[::1]:8080", "127.0.0.1"):
        assert panel.request("/api/runs", host=host)[0] == 200
    # Changes: POST with the custom header only.
    status, body = panel.request("/api/runs/x/tag", method="POST", body={"tag": "a"})
    assert status == 403 and "X-CodeDAG-Request" in body["error"]


def test_the_runs_table_filters_sorts_pages_and_shows_what_varies(panel, store):
    a, b, c, d = store["ids"]
    page = panel.get("/api/runs")
    assert page["total"] == 4 and [r["test_name"] for r in page["runs"]] == [d, c, b, a]
    shown = [col["key"] for col in page["columns"]]
    assert "params.lr" in shown and "params.seed" in shown and "best.acc" in shown
    assert page["constant"]["params.model"] == "mlp" and page["constant"]["params.batch"] == 64
    assert panel.get("/api/runs?q=params.lr%3E0.05")["total"] == 2
    assert panel.get("/api/runs?q=params.lr%3D0.01%20params.seed%3D1")["runs"][0]["test_name"] == d
    ordered = panel.get("/api/runs?sort=-best.acc&limit=2")
    assert [r["test_name"] for r in ordered["runs"]] == [b, a] and ordered["total"] == 4
    second = panel.get("/api/runs?sort=-best.acc&limit=2&offset=2")
    assert [r["test_name"] for r in second["runs"]] == [d, c]
    warned = panel.get("/api/runs?q=params.nope%3D1")
    assert warned["total"] == 0 and "params.nope" in warned["warnings"][0]
    status, body = panel.request("/api/runs?q=%3D1")
    assert status == 400 and "no key" in body["error"]
    grouped = panel.get("/api/runs?group=params.lr")
    assert grouped["total_groups"] == 2
    assert {g["values"]["params.lr"]: g["runs"] for g in grouped["groups"]} == {0.01: 2, 0.1: 2}
    assert grouped["groups"][1]["metrics"]["best.acc"]["std"] > 0


def test_a_run_and_its_series_bucketed_with_the_spike_and_the_nan(panel, store):
    a = store["ids"][0]
    run = panel.get(f"/api/runs/{a}")
    assert run["values"]["params.lr"] == 0.1 and run["artifacts"]["dag"] and run["artifacts"]["plan"]
    keys = {k["key"]: k["points"] for k in run["metric_series"]["keys"]}
    assert keys == {"loss": 3000, "acc": 1}
    m = panel.get(f"/api/runs/{a}/metrics/loss?points=200")
    assert m["raw_points"] == 3000 and len(m["buckets"]) <= 200
    assert max(b[3] for b in m["buckets"] if b[3] is not None) > 25  # the spike at step 1777
    assert sum(b[6] for b in m["buckets"]) == 1  # the NaN at step 2222
    zoom = panel.get(f"/api/runs/{a}/metrics/loss?points=200&from=1770&to=1780")
    assert zoom["points_in_range"] == 11 and len(zoom["buckets"]) == 11
    overlay = panel.get(f"/api/metrics?key=loss&points=100&runs={','.join(store['ids'])}")
    assert [s["raw_points"] for s in overlay["series"]] == [3000, 3000, 3000, 10]
    assert panel.request("/api/runs/999999.999.zzz")[0] == 404


def test_the_dag_with_its_placement(panel, store):
    a, b, c, _ = store["ids"]
    dag = panel.get(f"/api/runs/{c}/dag")
    assert dag["present"] and dag["executors"] == {"cpu": 2, "cuda:0": 1}
    assert dag["moved"] == [{"qualname": "pkg.MelSpec.__call__", "executor": "cuda:0"}]
    assert dag["plan"]["predicted_speedup"] == 1.8 and dag["closed_loop"]["measured_speedup"] == 1.5
    status, svg = panel.request(f"/api/runs/{c}/dag.svg")
    assert status == 200 and svg.startswith("<svg") and 'data-executor="cuda:0"' in svg
    none = panel.get(f"/api/runs/{b}/dag")
    assert not none["present"] and "no pipeline DAG" in none["reason"]


def test_diff_of_two_runs_names_params_metrics_and_the_plan(panel, store):
    a, b, c, _ = store["ids"]
    d = panel.get(f"/api/diff?a={a}&b={c}")
    assert d["params"]["params.lr"] == [0.1, 0.01]
    assert "best.acc" in d["metrics"]
    assert d["plan"]["moved"] == [{"context": "pkg.MelSpec.__call__", "a": "batch:cpu", "b": "cuda:0"}]
    assert d["plan"]["a"]["measured"] == 1.5 and d["plan"]["b"]["predicted"] == 1.8
    d2 = panel.get(f"/api/diff?a={a}&b={b}")
    assert d2["plan"]["note"] == "only run A recorded a plan"
    assert panel.request(f"/api/diff?a={a}")[0] == 400


def test_tag_and_delete_through_post_like_the_cli(panel, store):
    b = store["ids"][1]
    assert panel.post(f"/api/runs/{b}/tag", {"tag": "keep"})["ok"]
    assert panel.get("/api/runs?q=tag%3Dkeep")["runs"][0]["test_name"] == b
    assert panel.post(f"/api/runs/{b}/tag", {"tag": "keep", "remove": True})["ok"]
    assert panel.get("/api/runs?q=tag%3Dkeep")["total"] == 0
    assert panel.post(f"/api/runs/{b}/rm", {})["ok"]
    assert panel.get("/api/runs")["total"] == 3
    assert panel.get("/api/runs?deleted=1")["total"] == 4
    assert panel.post(f"/api/runs/{b}/rm", {"undo": True})["ok"]
    assert panel.get("/api/runs")["total"] == 4
    answer = panel.post("/api/runs/nope/tag", {"tag": "x"}, expect=400)
    assert not answer["ok"] and "nope" in answer["output"]


def test_rerun_starts_the_recorded_command(panel, store):
    d = store["ids"][3]
    started = panel.post(f"/api/runs/{d}/rerun", {"overrides": ["--steps=5"]}, expect=202)
    assert Path(started["log"]).parent.name == "panel-reruns"
    deadline = time.time() + 180
    while time.time() < deadline:
        runs = panel.get("/api/runs?limit=500")["runs"]
        if len(runs) == 5 and runs[0]["status"] == "finished":
            break
        time.sleep(1)
    else:
        pytest.fail("the rerun did not finish: " + Path(started["log"]).read_text())
    new = panel.get(f"/api/runs/{runs[0]['test_name']}")
    assert new["properties"]["rerun"]["from"] == d
    assert panel.get(f"/api/runs/{runs[0]['test_name']}/metrics/loss")["raw_points"] == 5
    panel.post(f"/api/runs/{runs[0]['test_name']}/rm", {})  # back to four for the other tests
    assert panel.post(f"/api/runs/{d}/rerun", {"overrides": ["rm -rf /"]}, expect=400)


def test_live_events_follow_a_running_run(panel, store):
    first = panel.get("/api/events?since=0&wait=0")
    script = store["work"] / "live.py"
    gate = store["work"] / "go"
    script.write_text(
        "import codedag, os, time\n"
        "with codedag.Experiment('live', snapshot=False) as exp:\n"
        "    print(exp.test_name, flush=True)\n"
        f"    while not os.path.exists({str(gate)!r}): time.sleep(0.05)\n"
        "    for i in range(20): exp.log_metric('loss', 1 / (i + 1), step=i)\n"
        "    exp.flush_metrics() if hasattr(exp, 'flush_metrics') else None\n"
        "    time.sleep(3)\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], cwd=store["work"], stdout=subprocess.PIPE, text=True,
                            env=store["env"])
    try:
        live_id = proc.stdout.readline().strip()
        seen: dict[str, list] = {"run": [], "metrics": []}
        seq = first["seq"]

        def poll_until(pred, what):
            nonlocal seq
            deadline = time.time() + 90
            while time.time() < deadline:
                answer = panel.get(f"/api/events?since={seq}&wait=5")
                seq = answer["seq"]
                for e in answer["events"]:
                    if e.get("test_name") == live_id and e["type"] in seen:
                        seen[e["type"]].append(e)
                if pred():
                    return
            pytest.fail(f"no {what} event for {live_id}: {seen}")

        time.sleep(1.5)  # the feed looks once a second; let it see the run before it logs
        gate.touch()
        poll_until(lambda: sum(e["keys"].get("loss", {}).get("points", 0) for e in seen["metrics"]) >= 20, "metrics")
        poll_until(lambda: any(e["status"] == "finished" for e in seen["run"]), "end-of-run")
    finally:
        proc.wait(timeout=60)
        gate.unlink(missing_ok=True)


def test_long_polls_wait_and_many_do_not_block_the_api(panel):
    seq = panel.get("/api/events?since=0&wait=0")["seq"]
    results = []
    waiters = [threading.Thread(target=lambda: results.append(panel.get(f"/api/events?since={seq}&wait=3")))
               for _ in range(6)]
    started = time.time()
    for t in waiters:
        t.start()
    assert panel.get("/api/runs?limit=1")["total"] >= 4  # answered while six polls wait
    assert time.time() - started < 3
    for t in waiters:
        t.join()
    assert len(results) == 6


def test_stops_cleanly_on_sigterm(store):
    p = start_panel(store["home"])
    assert p.get("/api/info")["runs"] >= 4
    assert "panel stopped" in stop_panel(p)


def test_a_taken_port_is_a_clear_error(panel, run_cli):
    port = panel.base.rsplit(":", 1)[1]
    r = run_cli("panel", "--port", port, env={"CODEDAG_PANEL_TOKEN": TOKEN}, timeout=120)
    assert r.returncode == 1 and f":{port}" in r.stderr and "--port 0" in r.stderr
    r = run_cli("panel", "--token", "short", timeout=120)
    assert r.returncode == 2 and "16 characters" in r.stderr
