"""ExperimentMonitor and its parts as the seed's scripts use them: the exact JSON structure
(checked with the JSON Schema), summary statistics, auto-save, errors, and the store hand-off."""

import json
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

import codedag
from codedag.experiments import monitoring_tools

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "docs/schemas/monitor_result.schema.json").read_text()
)


def validate(doc):
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)


def run_mode(monitor, mode, losses, accs, batch_sleep=0.002, interval=0.05):
    monitor.start_mode(mode, config={"epochs": 1, "batch_size": 8}, resource_interval=interval)
    for i, (loss, acc) in enumerate(zip(losses, accs, strict=True)):
        monitor.start_batch()
        time.sleep(batch_sleep)
        monitor.end_batch()
        monitor.log_loss(0, i, loss)
        monitor.log_accuracy(0, i, acc)
    time.sleep(0.12)
    monitor.stop_mode()


def test_seed_alias_exports_all_four():
    for name in ("Timer", "ResourceMonitor", "MetricsLogger", "ExperimentMonitor"):
        assert getattr(monitoring_tools, name) is getattr(codedag, name)


def test_save_json_writes_the_seed_structure(tmp_path):
    monitor = codedag.ExperimentMonitor("BirdCLEF_2023", save_dir=tmp_path / "results")
    run_mode(monitor, "baseline", [2.5, 2.3, 2.0, 1.9], [0.6, 0.7, 0.65, 0.8], batch_sleep=0.01)
    run_mode(monitor, "optimization", [2.4, 2.0, 1.5], [0.6, 0.75, 0.9], batch_sleep=0.004)
    path = monitor.save_json()
    assert Path(path).parent == tmp_path / "results" and path.endswith(".json")
    doc = json.loads(Path(path).read_text())
    validate(doc)
    assert list(doc)[:4] == ["experiment_name", "timestamp", "datetime", "modes"]
    assert doc["experiment_name"] == "BirdCLEF_2023" and isinstance(doc["timestamp"], int)
    assert list(doc["modes"]) == ["baseline", "optimization"]
    base = doc["modes"]["baseline"]
    assert base["config"] == {"epochs": 1, "batch_size": 8}
    assert [b[0] for b in base["batch_times"]] == [0, 1, 2, 3]
    assert all(b[1] >= 0.009 for b in base["batch_times"])
    assert set(base["resource_usage"]) >= {"cpu_usage", "memory_usage", "gpu_usage", "gpu_memory"}
    assert len(base["resource_usage"]["cpu_usage"]) >= 2
    t, cpu = base["resource_usage"]["cpu_usage"][0]
    assert abs(t - time.time()) < 120 and 0 <= cpu <= 100.5
    assert base["metrics"]["losses"] == [[0, 0, 2.5], [0, 1, 2.3], [0, 2, 2.0], [0, 3, 1.9]]
    s = base["summary"]
    assert s["loss"] == {"initial": 2.5, "final": 1.9, "min": 1.9, "max": 2.5}
    assert s["accuracy"] == {"initial": 0.6, "final": 0.8, "best": 0.8}
    times = [b[1] for b in base["batch_times"]]
    mean = sum(times) / len(times)
    assert s["batch_time"]["mean"] == pytest.approx(mean)
    assert s["batch_time"]["std"] == pytest.approx((sum((x - mean) ** 2 for x in times) / len(times)) ** 0.5)
    assert s["batch_time"]["min"] == min(times) and s["batch_time"]["max"] == max(times)
    assert s["total_time"] >= sum(times)
    # an explicit path too
    other = monitor.save_json(tmp_path / "elsewhere" / "r.json")
    validate(json.loads(Path(other).read_text()))


def test_plot_metrics_writes_html_and_svg(tmp_path):
    monitor = codedag.ExperimentMonitor("plots", save_dir=tmp_path)
    run_mode(monitor, "baseline", [1.0, 0.9], [0.1, 0.2])
    run_mode(monitor, "optimization", [1.0, 0.8], [0.1, 0.3])
    files = monitor.plot_metrics()
    html = Path(files["html"]).read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert "baseline" in html and "optimization" in html
    assert Path(files["svg"]).read_text().startswith("<?xml")
    cmp = codedag.compare_results(monitor.results)
    assert cmp["baseline"] == "baseline" and cmp["candidate"] == "optimization" and cmp["speedup"] > 0


def test_autosave_while_running_is_valid_and_current(tmp_path):
    monitor = codedag.ExperimentMonitor("auto", save_dir=tmp_path)
    monitor.start_mode("baseline", resource_interval=0.1)
    for i in range(3):
        monitor.start_batch()
        monitor.end_batch()
        monitor.log_loss(0, i, 1.0 / (i + 1))
    time.sleep(1.2)
    files = list(tmp_path.glob("auto_*.json"))
    assert len(files) == 1, "the sampler thread saved without save_json()"
    doc = json.loads(files[0].read_text())
    validate(doc)
    assert doc["modes"]["baseline"]["end_time"] is None
    assert len(doc["modes"]["baseline"]["metrics"]["losses"]) == 3
    monitor.stop_mode()


def test_tensors_and_numpy_scalars_are_accepted(tmp_path):
    torch = pytest.importorskip("torch")
    import numpy as np

    monitor = codedag.ExperimentMonitor("types", save_dir=tmp_path)
    monitor.start_mode("baseline", resource_interval=1.0)
    monitor.log_loss(np.int64(0), 0, torch.tensor(0.5))
    monitor.log_accuracy(0, np.int32(1), np.float32(0.25))
    monitor.stop_mode()
    metrics = monitor.results["modes"]["baseline"]["metrics"]
    assert metrics["losses"] == [[0, 0, 0.5]] and metrics["accuracies"] == [[0, 1, 0.25]]


def test_errors_say_what_to_do(tmp_path):
    monitor = codedag.ExperimentMonitor("errors", save_dir=tmp_path)
    with pytest.raises(codedag.StateError, match="start_mode"):
        monitor.start_batch()
    with pytest.raises(codedag.StateError, match="start_mode"):
        monitor.stop_mode()
    with pytest.raises(ValueError, match="0.01"):  # InputError is a ValueError
        monitor.start_mode("baseline", resource_interval=0.001)
    monitor.start_mode("baseline", resource_interval=0.5)
    with pytest.raises(codedag.StateError, match="stop_mode"):
        monitor.start_mode("optimization")
    with pytest.raises(codedag.StateError, match="start_batch"):
        monitor.end_batch()
    monitor.stop_mode()
    with pytest.raises(codedag.InputError):
        codedag.ExperimentMonitor("")
    with pytest.raises(codedag.NotFoundError):
        codedag.compare_results(monitor.results, baseline="nope")
    with pytest.raises(codedag.FormatError, match="modes.b.batch_times"):
        codedag.compare_results({"modes": {"b": {"batch_times": [[0]]}}})


def test_unwritable_save_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monitor = codedag.ExperimentMonitor("blocked", save_dir=blocker / "sub")
    monitor.start_mode("baseline", resource_interval=1.0)
    monitor.stop_mode()
    with pytest.raises(codedag.SystemCallError, match="sub"):
        monitor.save_json()


def test_timer_metrics_logger_resource_monitor_alone():
    timer = codedag.Timer()
    timer.start()
    for _ in range(3):
        timer.start_batch()
        time.sleep(0.002)
        assert timer.end_batch() >= 0.0019
    timer.stop()
    stats = timer.get_stats()
    assert stats["batch_time"]["count"] == 3 and stats["total_time"] >= 0.006
    assert [i for i, _ in timer.batch_times] == [0, 1, 2]

    log = codedag.MetricsLogger()
    log.log_loss(0, 0, 3.0)
    log.log_loss(0, 1, 1.0)
    log.log_accuracy(0, 0, 0.5)
    assert log.losses == [[0, 0, 3.0], [0, 1, 1.0]]
    assert log.get_summary()["loss"] == {"initial": 3.0, "final": 1.0, "min": 1.0, "max": 3.0}

    with codedag.ResourceMonitor(interval=0.02) as rm:
        time.sleep(0.2)
    data = rm.get_data()
    assert set(data) >= {"cpu_usage", "memory_usage", "gpu_usage", "gpu_memory"}
    assert 5 <= len(data["cpu_usage"]) <= 13
    assert rm.info["cpu_capacity"] > 0
    assert isinstance(rm.is_docker, bool)


def test_no_gpu_means_empty_gpu_series_and_one_info_line(tmp_path, capsys):
    if codedag.ResourceMonitor().info["gpus"]:
        pytest.skip("this machine has an NVIDIA GPU")
    monitor = codedag.ExperimentMonitor("nogpu", save_dir=tmp_path)
    run_mode(monitor, "baseline", [1.0], [0.5])
    run_mode(monitor, "optimization", [1.0], [0.5])
    out = capsys.readouterr().out
    assert out.count("GPU series stay empty") == 1
    usage = monitor.results["modes"]["baseline"]["resource_usage"]
    assert usage["gpu_usage"] == {} and usage["gpu_memory"] == {}


LEAK_CHECK = """
import os, time, codedag
fds = lambda: len(os.listdir("/proc/self/fd"))
threads = lambda: len(os.listdir("/proc/self/task"))
rm = codedag.ResourceMonitor(interval=0.01)
rm.start(); rm.stop()
before = (fds(), threads())
for _ in range(1000):
    rm.start(); rm.stop()
# pthread_join returns when the kernel clears the thread's id, a moment before its task leaves
# /proc/self/task: a leak stays, a thread on its way out is gone within 2 s.
deadline = time.monotonic() + 2
while (fds(), threads()) != before and time.monotonic() < deadline:
    time.sleep(0.01)
assert (fds(), threads()) == before, (before, (fds(), threads()))
"""


def test_resource_monitor_started_and_stopped_1000_times_without_leaks():
    # A fresh process: pytest's own process gains threads from other tests (torch pools,
    # lingering watchers), which made a process-wide count flaky without any sampler leak.
    done = subprocess.run([sys.executable, "-c", LEAK_CHECK], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_files_attach_to_a_running_experiment(tmp_path, monkeypatch):
    store = pytest.importorskip("codedag.store")
    if not hasattr(store, "active_experiment"):
        pytest.skip("the experiment store has no active_experiment() yet")
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    with codedag.Experiment("monitored", snapshot=False) as exp:
        monitor = codedag.ExperimentMonitor("attached", save_dir=tmp_path / "results")
        run_mode(monitor, "baseline", [1.0], [0.5])
        monitor.save_json()
        monitor.plot_metrics()
        info_dir = Path(exp.info_dir)
    attached = {p.parent.name for p in (info_dir / "attachments").rglob("*") if p.is_file()}
    assert {"monitor_result", "monitor_report", "monitor_report_image"} <= attached
