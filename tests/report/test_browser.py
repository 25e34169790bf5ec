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


# -- layout at desktop widths, and a report folder that works offline --------------------------------
PEER_NAME = (
    "tests/peer_suite/test_evaluation_of_the_reference_oracle.py::test_evaluate_reference_oracle_on_cladder"
)
CASES = ("association-1", "association-2", "intervention-1", "counterfactual-1", "counterfactual-2")


@pytest.fixture(scope="module")
def wide_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A peer-suite-like report: long shared prefixes, a regression with a second failing metric, a
    noisy machine, real pyinstrument and memory pages linked for this run and the baseline."""
    from pytest_causal_eval.profiling.cpu import profile_cpu
    from pytest_causal_eval.profiling.memory import sites_html
    from pytest_causal_eval.profiling.sites import AllocationSite
    from pytest_causal_eval.results import Metric

    base = tmp_path_factory.mktemp("wide")
    history = base / "history.sqlite"
    store = HistoryStore(history)
    results = make_results(len(CASES), evil=False)
    for i, m in enumerate(results.measurements):
        m.id = f"{PEER_NAME}[{CASES[i]}]"
    for _ in range(3):
        store.append(run_record(results))
    run_id, _ = store.append(run_record(results))
    results.extra["history"] = {"database": str(history), "run_id": run_id}
    out = base / "site"
    profiles = out / "profiles"
    profiles.mkdir(parents=True)
    cpu = profile_cpu(lambda: sum(i * i for i in range(2000)), [str(base)], ())
    (profiles / "r.cpu.html").write_text(cpu.html)
    site = AllocationSite("build_tables", "engine/causal/tables.py", 88, 9_800_000, 960)
    (profiles / "r.memory.html").write_text(sites_html([site], 12_000_000, "memray, at the peak"))
    first = results.measurements[0]
    first.extra["profile_artifacts"] = {
        "cpu_html": str(profiles / "r.cpu.html"),
        "memory_flamegraph": str(profiles / "r.memory.html"),
    }
    first.metrics["alloc_count"] = Metric("alloc_count", 295525.0, "", "lower")
    first.extra["verdict"]["all"] = [
        {
            "metric": "alloc_count",
            "verdict": "regressed",
            "change": 0.57,
            "ci_low": 0.5,
            "ci_high": 0.6,
            "threshold": "10%",
            "baseline_median": 188289.0,
            "candidate_median": 295525.0,
            "unit": "",
        },
    ]
    first.extra["explanation"] = {"time": ["hotspot changes against the baseline:", "  t.py:1 f  +9.20 ms"]}
    first.extra["health"] = {"noisy": True, "reasons": ["load average 3.85 on 2 CPU(s) (other work: 2.85)"]}
    results.environment["health"] = {
        "noisy": True,
        "load_avg": [3.85400390625, 2.1, 1.07],
        "memory_total": 25275990016,
        "reasons": ["load average 3.85 on 2 CPU(s) (other work: 2.85)"],
    }
    entries = {
        m.id: {"time": {"summary": m.stats.to_dict(), "samples": m.samples}}
        for m in results.measurements
        if m.stats
    }
    return write_html_report(results, out, baseline_entries=entries, history_path=history)


@pytest.mark.parametrize("width", [1280, 1920])
def test_report_layout_at_desktop_widths(browser: Any, wide_report: Path, width: int) -> None:
    page, errors, _ = open_page(browser, wide_report, width)
    try:
        assert errors == []
        assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
        # the whole table, profile column included, is visible without scrolling its box
        fit = page.evaluate(
            "(() => { const s = document.querySelector('.scroll');"
            " return [s.scrollWidth, s.clientWidth]; })()"
        )
        assert fit[0] <= fit[1], fit
        last = page.locator("#benchmarks thead th").last
        assert last.inner_text() == "profiles" and last.is_visible()
        # names break only at separators: no text piece between two break points spans two lines
        broken = page.evaluate(
            """(() => {
              const bad = [];
              for (const a of document.querySelectorAll('#benchmarks a.id')) {
                for (const node of a.childNodes) {
                  if (node.nodeType !== Node.TEXT_NODE || !node.textContent) continue;
                  const r = document.createRange(); r.selectNodeContents(node);
                  const tops = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
                  if (tops.size > 1) bad.push(node.textContent);
                }
              }
              return bad;
            })()"""
        )
        assert broken == []
        names = page.locator("#benchmarks tbody a.id").all_inner_texts()
        assert [n.replace("\n", "") for n in names][:1] == [
            f"{PEER_NAME}[{CASES[0]}]"
        ]  # biggest change first
        # the noisy machine comes before the table, in the first screen
        machine = page.locator("#machine")
        assert machine.is_visible() and "noisy machine" in machine.inner_text()
        assert machine.bounding_box()["y"] < 900
        # the second failing metric has its own line, in the table and in Needs a look
        assert page.locator("#benchmarks tr.sub", has_text="alloc_count").count() == 1
        assert page.get_by_text("alloc_count 295525 vs baseline 188289: +57.0%").first.is_visible()
        # the environment is formatted for people
        env = page.locator(".env").inner_text()
        assert "3.85, 2.10, 1.07" in env and "23.5 GiB" in env and "3.85400390625" not in env
        # trend plots say which point is this run
        assert page.locator("svg.trend circle.now").count() == len(CASES)
        assert page.locator("svg.trend text", has_text="this run").count() == len(CASES)
    finally:
        page.close()


def test_the_report_folder_loads_nothing_from_the_network(browser: Any, wide_report: Path) -> None:
    pages = [wide_report, *sorted((wide_report.parent / "profiles").glob("*.html"))]
    assert len(pages) == 3
    for path in pages:
        page, _, requests = open_page(browser, path, 1280)
        try:
            remote = [url for url in requests if url.startswith(("http://", "https://"))]
            assert remote == [], (path.name, remote)
        finally:
            page.close()
