"""The docs site: ``mkdocs build --strict`` passes (broken links and missing pages fail it),
every lab experiment and benchmark result has its generated page, and a real headless
Chromium (Debian's, driven by selenium through chromedriver) renders the lab index and an
experiment page with every image loaded and no console errors."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pucklab.runs import registry

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "DISABLE_MKDOCS_2_WARNING": "true", "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d",
                           str(out)], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_every_experiment_and_benchmark_has_its_generated_page(site):
    index = (site / "lab" / "index.html").read_text()
    for name in registry.EXPERIMENTS:
        page = site / "lab" / name / "index.html"
        assert page.is_file() and (site / "lab" / name / "figure.png").is_file(), name
        assert f'href="{name}/"' in index, name
        assert "Provenance" in page.read_text() or "Unstamped" in page.read_text(), name
    for md in RESULTS.glob("*.md"):
        assert (site / "benchmarks" / md.stem.replace(".", "-") / "index.html").is_file(), md.name
    api = (site / "api" / "runs" / "index.html").read_text()
    assert "decide" in api and "Interval" in api  # generated from runs/stats.py's docstrings


@pytest.fixture(scope="module")
def served(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail("chromium / chromedriver missing: .ci/run installs Debian's packages")
        pytest.skip("Debian's chromium and chromium-driver are not installed on this machine")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER),
                              options=options)
    yield driver
    driver.quit()


@pytest.mark.parametrize("page, title, images", [("lab/", "Lab", 0),
                                                 ("lab/word2vec/", "lab word2vec", 1)])
def test_pages_render_in_a_real_browser(served, browser, page, title, images):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{served}/{page}")
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete")
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)"))
    assert browser.find_element("tag name", "h1").text.startswith(title)
    loaded = browser.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth])")
    figures = [src for src, _ in loaded if src.endswith("figure.png")]
    assert len(figures) == images
    assert all(width > 0 for _, width in loaded), loaded
    if page == "lab/":  # the index's table: one row per experiment
        rows = browser.find_elements("css selector", "article table tbody tr")
        assert len(rows) >= len(registry.EXPERIMENTS)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
