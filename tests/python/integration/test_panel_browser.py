"""The panel page in a real browser (Debian's chromium, headless, driven by Selenium through
Debian's chromedriver): the table loads, filters, a run's charts draw, the diff and the DAG pages
render, nothing logs an error to the console, and the page refuses a request without the token or
from a foreign host name. Screenshots land in $CODEDAG_SCREENSHOTS (default: the test's tmp dir)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from panel_fixtures import make_run, start_panel, stop_panel

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is installed by `make setup` (requirements-dev.txt)")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="Debian's chromium and chromium-driver are installed by scripts/setup_system.sh",
)


def browser(*extra_args: str):
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1500,1000",
              "--disable-extensions", "--no-first-run", *extra_args):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)
    d.set_page_load_timeout(120)
    return d


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("panel_browser")
    home, work = root / "home", root / "work"
    work.mkdir()
    old = os.environ.get("CODEDAG_HOME")
    os.environ["CODEDAG_HOME"] = str(home)
    try:
        ids = [make_run(work, f"--lr={lr}", f"--seed={seed}", *(["--plan=cuda:0"] if (lr, seed) == (0.1, 0) else []))
               for lr in (0.1, 0.01, 0.001) for seed in (0, 1)]
    finally:
        if old is None:
            del os.environ["CODEDAG_HOME"]
        else:
            os.environ["CODEDAG_HOME"] = old
    panel = start_panel(home)
    shots = Path(os.environ.get("CODEDAG_SCREENSHOTS") or root / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    d = browser()
    try:
        d.get(panel.link)  # the printed link: sets the cookie, then the page drops the token from the URL
        yield {"driver": d, "panel": panel, "ids": ids, "shots": shots}
    finally:
        d.quit()
        stop_panel(panel)


def wait(d, condition, timeout=60):
    return WebDriverWait(d, timeout).until(condition)


def severe_logs(d):
    return [e for e in d.get_log("browser") if e["level"] == "SEVERE"]


def rows(d):
    return d.find_elements(By.CSS_SELECTOR, "#runs tbody tr")


def test_table_loads_without_the_token_in_the_url(site):
    d = site["driver"]
    assert "token" not in d.current_url
    wait(d, lambda d: len(rows(d)) == 6)
    headers = [th.text for th in d.find_elements(By.CSS_SELECTOR, "#runs thead th")]
    assert any("params.lr" in h for h in headers) and not any("params.model" in h for h in headers)
    assert "params.model=mlp" in d.find_element(By.CSS_SELECTOR, ".same").text
    d.save_screenshot(str(site["shots"] / "runs.png"))
    assert severe_logs(d) == []


def test_filter_and_sort(site):
    d = site["driver"]
    box = d.find_element(By.CSS_SELECTOR, "input.filter")
    box.clear()
    box.send_keys("params.lr>0.005", Keys.ENTER)
    wait(d, lambda d: len(rows(d)) == 4)
    assert "q=params.lr" in d.current_url
    header = next(th for th in d.find_elements(By.CSS_SELECTOR, "#runs thead th") if th.text.startswith("best.acc"))
    header.click()
    wait(d, lambda d: "▼" in d.find_element(By.XPATH, "//th[starts-with(., 'best.acc')]").text)
    first = rows(d)[0].get_attribute("data-run")
    assert first == site["ids"][1]  # lr 0.1, seed 1: the best acc
    d.save_screenshot(str(site["shots"] / "filtered.png"))
    assert severe_logs(d) == []


def test_run_page_draws_its_charts(site):
    d = site["driver"]
    d.get(site["panel"].base + "/#/run/" + site["ids"][0])
    loss = "//div[@class='chart'][.//div[@class='title']/span[1][.='loss']]"
    wait(d, lambda d: "points" in d.find_element(By.XPATH, loss + "//span[@class='note']").text)
    note = d.find_element(By.XPATH, loss + "//span[@class='note']").text
    assert "of 3000 points" in note and "buckets" in note
    # The loss chart's canvas has been drawn on: many pixels are not white.
    painted = d.execute_script(
        "const c = arguments[0]; const g = c.getContext('2d');"
        "const p = g.getImageData(0, 0, c.width, c.height).data; let n = 0;"
        "for (let i = 0; i < p.length; i += 4) if (p[i+3] && (p[i] < 200 || p[i+1] < 200)) n++; return n;",
        d.find_element(By.XPATH, loss + "//canvas"))
    assert painted > 500
    assert "Pipeline DAG" in d.find_element(By.TAG_NAME, "main").text
    time.sleep(0.5)
    d.save_screenshot(str(site["shots"] / "run.png"))
    assert severe_logs(d) == []


def test_compare_overlays_runs(site):
    d = site["driver"]
    d.get(site["panel"].base + "/#/compare?runs=" + ",".join(site["ids"][:4]) + "&key=loss")
    wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".chart .legend span")) == 4)
    time.sleep(0.5)
    d.save_screenshot(str(site["shots"] / "compare.png"))
    assert severe_logs(d) == []


def test_diff_page(site):
    d = site["driver"]
    a, b = site["ids"][0], site["ids"][2]
    d.get(site["panel"].base + f"/#/diff?a={a}&b={b}")
    table = wait(d, EC.presence_of_element_located((By.ID, "diff-params")))
    assert "params.lr" in table.text and "0.1" in table.text and "0.01" in table.text
    assert "only run A recorded a plan" in d.find_element(By.TAG_NAME, "main").text
    d.save_screenshot(str(site["shots"] / "diff.png"))
    assert severe_logs(d) == []


def test_dag_page_with_placement(site):
    d = site["driver"]
    d.get(site["panel"].base + "/#/dag/" + site["ids"][0])
    nodes = wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#dag svg .node") or None)
    assert len(nodes) == 3
    assert {n.get_attribute("data-executor") for n in nodes} == {"cpu", "cuda:0"}
    assert "pkg.MelSpec.__call__" in d.find_element(By.ID, "moved").text
    moved = next(n for n in nodes if n.get_attribute("data-executor") == "cuda:0")
    webdriver.ActionChains(d).move_to_element(moved).click().perform()
    wait(d, lambda d: "MelSpec.__call__" in d.find_element(By.CSS_SELECTOR, ".split .card").text)
    d.save_screenshot(str(site["shots"] / "dag.png"))
    assert severe_logs(d) == []


def test_refused_without_token_and_from_a_foreign_host(site):
    port = site["panel"].base.rsplit(":", 1)[1]
    # A fresh browser has no cookie: 401. One that reaches the panel under another name (as a DNS
    # rebinding page would) is refused with 403 even with the token.
    d = browser("--host-resolver-rules=MAP rebind.example 127.0.0.1")
    try:
        d.get(site["panel"].base + "/")
        assert "token" in d.find_element(By.TAG_NAME, "body").text
        assert any("401" in e["message"] for e in d.get_log("browser"))
        d.get(f"http://rebind.example:{port}/?token=" + site["panel"].link.split("token=")[1])
        assert "is not this panel" in d.find_element(By.TAG_NAME, "body").text
        assert any("403" in e["message"] for e in d.get_log("browser"))
    finally:
        d.quit()
