"""The HTML page, its plots and escaping, the ``causal-eval report`` CLI, Markdown and Prometheus."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytest_causal_eval.cli import main
from pytest_causal_eval.history.records import SeriesPoint, run_record
from pytest_causal_eval.history.store import HistoryStore
from pytest_causal_eval.report.html import ReportDoc, render_page
from pytest_causal_eval.report.markdown import MARKER, MAX_CHARS, render_markdown
from pytest_causal_eval.report.model import bench_views, box_from_samples, detail_for, thin
from pytest_causal_eval.report.output import github_run_url, profile_links, write_html_report
from pytest_causal_eval.report.prometheus import render_prometheus
from pytest_causal_eval.report.svg import Box, box_plot, trend_plot
from pytest_causal_eval.report.units import format_seconds
from pytest_causal_eval.report.verdicts import verdict_rows

from .fakes import EVIL, make_results


class Collect(HTMLParser):
    """Elements, attributes and text as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(text: str) -> Collect:
    parser = Collect()
    parser.feed(text)
    parser.close()
    return parser


def test_a_script_in_a_test_id_is_text_everywhere() -> None:
    results = make_results(5)
    evil_id = results.measurements[1].id
    trend = [SeriesPoint(i, "2024-05-01", "c0ffee", "main", "k", 1e-3, None, 5) for i in range(3)]
    page = render_page(
        ReportDoc(
            views=bench_views(results.measurements, {}, {evil_id: trend}, {}),
            environment=results.environment,
            fingerprint=results.extra["machine"],
            health=results.environment["health"],
        )
    )
    doc = parse(page)
    assert [tag for tag, _ in doc.tags if tag == "script"] == []
    assert "<script>" not in page
    # shown as text: table cell, section header, the box plot's SVG <title>, fingerprint and health
    # (ids carry <wbr> break opportunities after their separators)
    assert sum(EVIL in t for t in parse(page.replace("<wbr>", "")).text) == 5
    assert "<title>tests/test_eval.py::test_case[&lt;script&gt;window.__pwned=1&lt;/script&gt;]: time" in page
    # in attributes (the trend plot's aria-label), escaped and intact after parsing
    labels = [attrs.get("aria-label") or "" for tag, attrs in doc.tags if tag == "svg"]
    assert f"{evil_id}: median time per run" in labels
    assert (
        'aria-label="tests/test_eval.py::test_case[&lt;script&gt;window.__pwned=1&lt;/script&gt;]: median'
        in page
    )


def test_svg_titles_and_attributes_escape_quotes_too() -> None:
    nasty = 'x" onload="alert(1)'
    box = Box(nasty, 1.0, 2.0, 3.0, 0.5, 3.5, 5, (1.0, 2.0), css='cur" onclick="x')
    svg = box_plot([box], str, nasty) + trend_plot([1.0, 2.0], [nasty, nasty], [], str, nasty)
    for tag, attrs in parse(svg).tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    assert svg.count("&quot; onload=&quot;alert(1)") >= 3


def test_page_structure_rows_labels_and_no_external_resources() -> None:
    results = make_results(10)
    html = render_page(ReportDoc(views=bench_views(results.measurements, {}, {}, {})))
    doc = parse(html)
    rows = re.findall(r"<tr( class=\"[^\"]*\")?><td>", html)
    assert len(rows) == 10
    assert html.count('<tr class="row-regressed">') == 2  # ids 0 and 5
    assert '<span class="badge v-regressed">regressed</span>' in html
    assert '<span class="badge v-regressed">2 regressed</span>' in html
    for tag, attrs in doc.tags:
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not value.startswith(("http:", "https:", "//")), (tag, attrs)
    assert '<meta name="viewport"' in html and "overflow-x:auto" in html


def test_box_plot_of_baseline_and_current_with_thinned_points() -> None:
    results = make_results(1, evil=False)
    m = results.measurements[0]
    entry = {
        "time": {
            "summary": {
                "median": 0.0008,
                "q1": 0.00079,
                "q3": 0.00081,
                "min": 0.00075,
                "max": 0.00085,
                "n": 40,
            },
            "samples": [],
        }
    }
    (view,) = bench_views([m], {m.id: entry}, {}, {}, detail_for(1))
    assert view.baseline is not None and view.baseline.points == ()  # drawn from its summary
    assert view.current is not None and view.current.n == 30 and len(view.current.points) == 30
    big = box_from_samples("current", [float(i) for i in range(1000)], 15, "cur")
    assert big is not None
    assert len(big.points) == 15 and big.points[0] == 0.0 and big.points[-1] == 999.0
    assert (big.q1, big.median, big.q3) == (249.75, 499.5, 749.25)
    assert thin([3.0, 1.0, 2.0], 10) == (1.0, 2.0, 3.0) and thin([1.0], 0) == ()
    svg = box_plot([view.baseline, view.current], format_seconds, "plot")
    assert svg.count('<rect class="bx"') == 2 and svg.count("<circle") == 30


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "samples",
    [[NAN] * 5, [1.0, 2.0, 3.0, INF], [NAN, 1.0, 2.0, 3.0], [1.0, 2.0, NAN, 3.0, 4.0], [-INF, 1.0, 2.0]],
    ids=["all-nan", "inf-last", "nan-first", "nan-middle", "minus-inf"],
)
def test_plots_leave_out_numbers_that_are_not_finite(samples: list[float]) -> None:
    finite = [v for v in samples if v == v and abs(v) != INF]
    box = box_from_samples("baseline", samples, 40, "base")
    if not finite:
        assert box is None
    else:
        assert box is not None and box.n == len(finite) and box.dropped == len(samples) - len(finite)
    current = box_from_samples("current", [1.0, 1.1, 1.2], 40, "cur")
    assert current is not None
    svg = box_plot([b for b in (box, current) if b is not None], format_seconds, "plot")
    assert "nan" not in svg.lower() and "inf" not in svg.lower().replace("info", "")
    if box is not None:
        assert "value(s) that are not finite numbers left out" in svg
    broken = Box("summary", NAN, NAN, NAN, NAN, INF, 3)
    assert box_plot([broken], format_seconds, "plot") == ""  # nothing drawable: no plot, no error
    trend = trend_plot([1.0, NAN, 2.0, INF, 1.5], ["a", "b", "c", "d", "e"], [], format_seconds, "t")
    assert trend.count("<circle") == 3 and "nan" not in trend.lower()
    assert trend_plot([NAN, INF], ["a", "b"], [], format_seconds, "t") == ""


def test_a_baseline_summary_that_is_not_finite_draws_no_box() -> None:
    results = make_results(1, evil=False)
    (m,) = results.measurements
    for summary in ({"median": "NaN"}, {"median": 1e-3, "max": INF}, {"median": 1e-3, "n": NAN}):
        entry = {"time": {"summary": summary, "samples": [NAN, INF, 1e-3]}}
        (view,) = bench_views([m], {m.id: entry}, {}, {}, detail_for(1))
        assert view.baseline is None


def test_trend_and_change_point_are_drawn_and_named() -> None:
    results = make_results(1, evil=False)
    m = results.measurements[0]
    points = [
        SeriesPoint(i, f"2024-05-{i:02d}", f"abcdef{i:02d}99", "main", "k", 1e-3 if i < 6 else 2e-3, None, 9)
        for i in range(1, 11)
    ]
    views = bench_views([m], {}, {m.id: points}, {})
    html = render_page(ReportDoc(views=views))
    assert views[0].trend is not None and [s.index for s in views[0].trend.steps] == [5]
    assert "stepped +100.0% (1.00 ms to 2.00 ms) at commit abcdef06 on main, run 6" in html
    assert '<polyline class="ln"' in html and html.count('class="step"') == 1


def test_profile_links_are_relative_to_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    results = make_results(2, evil=False)
    report = Path("out/report")
    (report / "profiles").mkdir(parents=True)
    (report / "profiles" / "a b.cpu.html").write_text("<html></html>")
    results.measurements[0].extra["profile_artifacts"] = {
        "cpu_html": "out/report/profiles/a b.cpu.html",
        "speedscope": "elsewhere/x.speedscope.json",
    }
    links = profile_links(results, report)
    assert links == {
        results.measurements[0].id: [
            ("cpu_html", "profiles/a%20b.cpu.html"),
            ("speedscope", "../../elsewhere/x.speedscope.json"),
        ]
    }
    path = write_html_report(results, report)
    assert 'href="profiles/a%20b.cpu.html">CPU profile (pyinstrument)</a>' in path.read_text()


def test_cli_report_renders_2000_benchmarks_under_5_mb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = make_results(2000)
    source = tmp_path / "results.json"
    source.write_text(json.dumps(results.to_dict()))
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    doc = {
        "schema_version": 1,
        "tool": "pytest-causal-eval",
        "machine": {"key": "linux-test-key", "hard": {}, "soft": {}},
        "measurements": {
            m.id: {
                "id": m.id,
                "time": {"summary": m.stats.to_dict(), "samples": m.samples[:20]},
                "metrics": {},
            }
            for m in results.measurements[:1500]
            if m.stats is not None
        },
    }
    (baselines / "linux-test-key.json").write_text(json.dumps(doc))
    history = tmp_path / "h.sqlite"
    store = HistoryStore(history)
    for _ in range(12):
        store.append(run_record(results))
    out = tmp_path / "report"
    args = ["report", str(source), "--baselines", str(baselines), "--history", str(history), "-o", str(out)]
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == f"report: {out / 'index.html'} (2000 benchmark(s))"
    html = (out / "index.html").read_text()
    assert len(html.encode()) < 5_000_000
    assert html.count("<tr") == 2001 and html.count('<details class="bench"') == 2000
    assert html.count("baseline: median") == 1500  # baseline boxes drawn for those with a baseline
    assert html.count('<polyline class="ln"') == 2000  # a trend each, from 12 runs of history
    assert "<circle" not in html  # raw points thinned away at this size, no dot per run either
    assert html.endswith("</html>\n")


def test_cli_report_replaces_an_old_index_and_keeps_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "results.json"
    source.write_text(json.dumps(make_results(3).to_dict()))
    out = tmp_path / "report"
    (out / "profiles").mkdir(parents=True)
    (out / "index.html").write_text("old report")
    (out / "profiles" / "index.json").write_text("{}")
    assert main(["report", str(source), "-o", str(out)]) == 0
    assert (out / "index.html").read_text().startswith("<!DOCTYPE html>")
    assert (out / "profiles" / "index.json").read_text() == "{}"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    capsys.readouterr()
    assert main(["report", str(tmp_path / "missing.json"), "-o", str(out)]) == 2
    assert "cannot read results file" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["report", str(source), "-o", str(tmp_path / "file")]) == 2
    assert "-o: " in capsys.readouterr().err


def test_markdown_marker_links_and_limit() -> None:
    results = make_results(6)
    rows = verdict_rows(results.measurements)
    evil_id = results.measurements[1].id
    links = {results.measurements[0].id: [("cpu", "profiles/a (1).cpu.html")]}
    text = render_markdown(rows, links=links, artifacts=[("HTML report", "report/index.html")])
    assert text.startswith(MARKER + "\n## causal-eval")
    assert "[cpu](profiles/a%20%281%29.cpu.html)" in text
    assert text.rstrip().endswith("**Artifacts:** [HTML report](report/index.html)")
    assert f"`{evil_id}`" in text  # a code span shows '<script>' literally and safely
    many = verdict_rows(make_results(3000).measurements)
    big = render_markdown(
        many,
        links={r.id: [("cpu", "p/" + "x" * 80)] for r in many},
        artifacts=links[results.measurements[0].id],
    )
    assert len(big) <= MAX_CHARS and "more not shown" in big and "**Artifacts:**" in big


def test_github_run_url() -> None:
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "7"}
    assert github_run_url(env) == "https://github.com/o/r/actions/runs/7"
    assert github_run_url({}) is None


def test_prometheus_text_format_parses_with_labels() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    results = make_results(3)
    text = render_prometheus(results).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    times = {
        (s.labels["benchmark"], s.labels["stat"]): s.value
        for s in families["causal_eval_time_seconds"].samples
    }
    m = results.measurements[1]
    assert m.stats is not None and times[(m.id, "median")] == pytest.approx(m.stats.median)
    assert times[(m.id, "p95")] == pytest.approx(m.stats.p95)
    metric = {(s.labels["metric"], s.labels["unit"]) for s in families["causal_eval_metric"].samples}
    assert metric == {("accuracy", ""), ("peak_rss", "B")}
    verdicts = {s.labels["verdict"] for s in families["causal_eval_verdict"].samples}
    assert verdicts == {"regressed", "pass", "improved"}
    (stamp,) = families["causal_eval_last_run_timestamp_seconds"].samples
    assert stamp.value == 1714564800.0


def test_extra_info_is_shown_with_its_benchmark_escaped() -> None:
    results = make_results(1)
    results.measurements[0].extra_info = {"version": "1.2.0", "payload": "<b>big</b>", "chars": 4096}
    html = render_page(ReportDoc(views=bench_views(results.measurements, {}, {}, {})))
    assert "<dt>version</dt><dd>1.2.0</dd>" in html
    assert "<dt>chars</dt><dd>4096</dd>" in html
    assert "&lt;b&gt;big&lt;/b&gt;" in html and "<b>big</b>" not in html
