"""`codedag report results.json`: re-renders the report, prints the summary table, rejects bad
files with their position; the page opens in headless Chromium without console errors."""

import json
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest


def seed_result(tmp_path: Path) -> Path:
    """A result file as seed 001 §6 shows it (no memory_usage), with two modes."""

    def mode(scale):
        return {
            "config": {"epochs": 2, "batch_size": 32},
            "batch_times": [[i, scale * (0.15 + 0.01 * (i % 3))] for i in range(40)],
            "resource_usage": {
                "cpu_usage": [[1705312200 + i, 40 + i % 10] for i in range(30)],
                "gpu_usage": {"0": [[1705312200 + i, 70 + i % 5] for i in range(30)]},
                "gpu_memory": {"0": [[1705312200 + i, 2048] for i in range(30)]},
            },
            "metrics": {
                "losses": [[0, i, 2.5 / (1 + i / 10)] for i in range(40)],
                "accuracies": [[0, i, 0.5 + i / 100] for i in range(40)],
            },
            "summary": {"total_time": 120.5 * scale},
        }

    doc = {
        "experiment_name": "BirdCLEF_2023",
        "timestamp": 1705312200,
        "datetime": "2024-01-15T10:30:00",
        "modes": {"baseline": mode(1.0), "optimization": mode(0.5)},
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    return path


def test_report_prints_the_table_and_writes_the_files(run_cli, tmp_path):
    seed_result(tmp_path)
    proc = run_cli("report", "results.json", "--out", "out", check=True)
    out = proc.stdout
    assert "experiment" in out and "BirdCLEF_2023" in out
    assert "mean batch time (ms)" in out and "2.00x faster" in out
    assert "GPU utilisation mean (%)" in out
    assert "batch-time speedup 2.00x (optimization vs baseline)" in out
    html = (tmp_path / "out" / "results_report.html").read_text()
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert (tmp_path / "out" / "results_report.svg").exists()


def test_report_rejects_bad_files_with_their_position(run_cli, tmp_path):
    (tmp_path / "broken.json").write_text('{"modes": {\n  "b": [1,, 2]}}')
    proc = run_cli("report", "broken.json")
    assert proc.returncode == 2 and "broken.json:2:" in proc.stderr
    (tmp_path / "wrong.json").write_text('{"modes": {"b": {"batch_times": [[0, "slow"]]}}}')
    proc = run_cli("report", "wrong.json")
    assert proc.returncode == 2 and "modes.b.batch_times[0][1]" in proc.stderr
    proc = run_cli("report", "missing.json")
    assert proc.returncode == 2 and "no such file" in proc.stderr
    seed_result(tmp_path)
    proc = run_cli("report", "results.json", "--baseline", "nope")
    assert proc.returncode == 2 and "baseline, optimization" in proc.stderr


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("headless Chromium is not installed (Debian package `chromium`, see scripts/setup_system.sh)")


def png_rows(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the raw (filtered) scanlines of a PNG: enough to tell a blank page from a drawn one."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def screenshot(browser: str, page: Path, png: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2200",
            f"--screenshot={png}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_report_opens_in_headless_chromium(run_cli, tmp_path):
    browser = chromium()
    seed_result(tmp_path)
    run_cli("report", "results.json", check=True)
    page = tmp_path / "results_report.html"
    proc = screenshot(browser, page, tmp_path / "report.png")
    assert (tmp_path / "report.png").exists(), proc.stderr[-2000:]
    console = [
        line
        for line in proc.stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Refused to" in line or "Failed to load" in line
    ]
    assert console == [], console
    width, height, raw = png_rows((tmp_path / "report.png").read_bytes())
    assert (width, height) == (1280, 2200)
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    screenshot(browser, blank, tmp_path / "blank.png")
    _, _, blank_raw = png_rows((tmp_path / "blank.png").read_bytes())
    # A drawn page has many colours and compresses far worse than a blank one.
    assert len(set(raw)) > 64
    assert len((tmp_path / "report.png").read_bytes()) > 5 * len((tmp_path / "blank.png").read_bytes())
    assert len(set(blank_raw)) < len(set(raw))
