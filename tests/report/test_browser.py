"""The HTML report in a real headless Chromium: loads cleanly, rows, regressions marked, not blank.

Needs the ``playwright`` package and a Chromium binary (Debian's at /usr/bin/chromium, or
$CAUSAL_EVAL_CHROMIUM); no browser download. Missing: skipped with the reason, or failed when CI=true.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_causal_eval.history.records import run_record
from pytest_causal_eval.history.store import HistoryStore
from pytest_causal_eval.report.output import write_html_report

from .fakes import EVIL, decode_png, make_results

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]  # playwright's launch() gives every browser a fresh temporary profile (--user-data-dir)
COUNT = 12


def _chromium() -> str | None:
    for candidate in (os.environ.get("CAUSAL_EVAL_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser test cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    executable = _chromium()
    if executable is None:
        _unavailable("no chromium binary (scripts/test-services.sh installs it; or set CAUSAL_EVAL_CHROMIUM)")
    with sync_playwright() as p:
        try:
            instance = p.chromium.launch(executable_path=executable, args=FLAGS, timeout=30_000)
        except Exception as exc:  # playwright raises its own Error type
            _unavailable(f"chromium at {executable} did not start: {exc}")
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("report")
    history = base / "history.sqlite"
    store = HistoryStore(history)
    for scale in (1.0, 1.0, 1.0, 1.3, 1.3):  # a step for the trend plots
        earlier = make_results(COUNT)
        for m in earlier.measurements:
            m.samples = [v * scale for v in m.samples]
        store.append(run_record(earlier))
    results = make_results(COUNT)
    out = base / "site"
    (out / "profiles").mkdir(parents=True)
    (out / "profiles" / "r.cpu.html").write_text("<html><body>profile</body></html>")
    results.measurements[0].extra["profile_artifacts"] = {"cpu_html": str(out / "profiles" / "r.cpu.html")}
    entries = {
        m.id: {"time": {"summary": m.stats.to_dict(), "samples": m.samples}}
        for m in results.measurements
        if m.stats
    }
    return write_html_report(results, out, baseline_entries=entries, history_path=history)


def open_page(browser: Any, path: Path, width: int) -> tuple[Any, list[str], list[str]]:
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: requests.append(req.url))
    page.goto(path.as_uri(), wait_until="load")
    return page, errors, requests


def test_report_loads_clean_with_one_row_per_benchmark(browser: Any, report: Path) -> None:
    page, errors, requests = open_page(browser, report, 1280)
    try:
        assert errors == []
        assert all(url.startswith("file://") for url in requests), requests  # works offline
        assert page.locator("#benchmarks tbody tr").count() == COUNT
        regressed = page.locator("#benchmarks tbody tr.row-regressed")
        assert regressed.count() == 3  # rows 0, 5, 10
        label = regressed.first.locator(".badge.v-regressed")
        assert label.is_visible() and label.inner_text() == "regressed"
        assert page.evaluate("window.__pwned") is None  # the <script> in a test id stayed text
        assert page.locator("script").count() == 0
        assert page.get_by_text(EVIL, exact=False).first.is_visible()
        assert page.locator("svg.plot").count() >= 2 * COUNT  # box plots and trends
        assert page.locator("details.bench .step").count() == COUNT  # the step, marked in every trend
        href = page.locator("#benchmarks tbody tr").first.locator("a", has_text="cpu").get_attribute("href")
        assert href == "profiles/r.cpu.html"
        png = page.screenshot(full_page=False)
    finally:
        page.close()
    width, height, rows = decode_png(png)
    assert (width, height) == (1280, 900)
    colours = {row[x : x + 3] for row in rows[::7] for x in range(0, len(row), 3 * 5)}
    assert len(colours) > 30, f"the screenshot looks blank ({len(colours)} colours)"


def test_report_fits_a_phone_and_the_table_scrolls(browser: Any, report: Path) -> None:
    page, errors, _ = open_page(browser, report, 375)
    try:
        assert errors == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        scroll = page.evaluate(
            "(() => { const s = document.querySelector('.scroll');"
            " return [s.scrollWidth, s.clientWidth]; })()"
        )
        assert scroll[0] > scroll[1]  # the table scrolls inside its box instead of widening the page
    finally:
        page.close()
