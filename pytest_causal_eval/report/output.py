"""Writing reports to disk: the HTML page, Markdown files, and the links between them and the
profiles. Used by the plugin at session end and by ``causal-eval report``; no statistics here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pytest_causal_eval.atomicio import write_text_atomic
from pytest_causal_eval.extra_keys import EXPLANATION, PROFILE_ARTIFACTS
from pytest_causal_eval.history.records import SeriesPoint, machine_key_of
from pytest_causal_eval.report.html import ReportDoc, render_page
from pytest_causal_eval.report.model import bench_views, detail_for
from pytest_causal_eval.results import RunResults

__all__ = [
    "HTML_NAME",
    "explanations",
    "github_run_url",
    "history_for_report",
    "markdown_links",
    "profile_links",
    "relative_href",
    "write_html_report",
    "write_markdown",
]

HTML_NAME = "index.html"


def relative_href(target: Path, start_dir: Path) -> str:
    """A URL path from ``start_dir`` to ``target`` (both taken from the current directory)."""
    rel = os.path.relpath(os.path.abspath(target), os.path.abspath(start_dir))
    return quote(Path(rel).as_posix(), safe="/._-~")


def profile_links(results: RunResults, report_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """``{measurement id: [(kind, href)]}``: hrefs relative to ``report_dir``.

    Profiles are recorded as paths as the user would type them; a file that sits in
    ``report_dir/profiles`` is linked there (the usual case), anything else relative to the report.
    """
    out: dict[str, list[tuple[str, str]]] = {}
    for m in results.measurements:
        artifacts = PROFILE_ARTIFACTS.get(m)
        if artifacts is None:
            continue
        links = []
        for kind, path in sorted(artifacts.items()):
            name = Path(str(path)).name
            if (report_dir / "profiles" / name).is_file():
                links.append((str(kind), "profiles/" + quote(name, safe="._-~")))
            else:
                links.append((str(kind), relative_href(Path(str(path)), report_dir)))
        if links:
            out[m.id] = links
    return out


def history_for_report(
    history_path: Path | None, results: RunResults, runs: int
) -> tuple[dict[str, list[SeriesPoint]], str]:
    """This machine's recent series of the run's benchmarks, and a one-line note for the page."""
    if history_path is None:
        return {}, ""
    if not history_path.is_file():
        return {}, f"no history yet ({history_path})"
    from pytest_causal_eval.history.store import HistoryError, HistoryStore

    key, _ = machine_key_of(results)
    store = HistoryStore(history_path)
    try:
        series = store.series(benchmarks=[m.id for m in results.measurements], machine_key=key, limit=runs)
        count = store.run_count(key)
    except HistoryError as exc:
        return {}, f"history not shown: {exc}"
    return {bench: points for (_, bench), points in series.items()}, (
        f"history: {count} run(s) on this machine in {history_path}"
    )


def write_html_report(
    results: RunResults,
    report_dir: Path,
    baseline_entries: Mapping[str, Mapping[str, Any]] | None = None,
    baseline_file: str = "",
    history_path: Path | None = None,
    notes: Sequence[str] = (),
    errors: Sequence[str] = (),
) -> Path:
    """Render the run and replace ``report_dir/index.html`` atomically (other files stay)."""
    from pytest_causal_eval.profiling.artifacts import kept_baseline_profiles
    from pytest_causal_eval.report.attention import machine_note

    detail = detail_for(len(results.measurements))
    history, history_note = history_for_report(history_path, results, detail.trend_runs)
    key, fingerprint = machine_key_of(results)
    kept = kept_baseline_profiles(report_dir, key, baseline_entries or {}) if key else {}
    baseline_links = {
        mid: [(kind, relative_href(path, report_dir)) for kind, path in sorted(kinds.items())]
        for mid, kinds in kept.items()
    }
    recorded = results.extra.get("history")
    this_run = recorded.get("run_id") if isinstance(recorded, Mapping) else None
    views = bench_views(
        results.measurements,
        baseline_entries or {},
        history,
        profile_links(results, report_dir),
        detail,
        baseline_profiles=baseline_links,
        this_run=this_run if isinstance(this_run, int) else None,
    )
    health = results.environment.get("health")
    doc = ReportDoc(
        views=views,
        created=results.created,
        tool_version=results.tool_version,
        machine_key=key,
        fingerprint=fingerprint,
        environment=results.environment,
        health=health if isinstance(health, Mapping) else None,
        notes=list(notes),
        errors=list(errors),
        baseline_file=baseline_file,
        history_note=history_note,
        detail=detail,
        machine=machine_note(results.measurements, health if isinstance(health, Mapping) else None),
    )
    path = report_dir / HTML_NAME
    write_text_atomic(path, render_page(doc))
    return path


def github_run_url(environ: Mapping[str, str]) -> str | None:
    """The GitHub Actions run page (where uploaded artifacts are listed), when running there."""
    server, repo, run_id = (
        environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if server and repo and run_id:
        return f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}"
    return None


def markdown_links(
    results: RunResults, run_url: str | None
) -> tuple[dict[str, list[tuple[str, str]]], list[tuple[str, str]]]:
    """Links for the Markdown: absolute URLs only (a PR comment resolves no relative path).

    On GitHub Actions each profiled measurement links to the run's artifacts (where the report folder,
    profiles included, is uploaded), and the end links the run and its artifacts; elsewhere none."""
    if not run_url:
        return {}, []
    artifacts_url = run_url + "#artifacts"
    links: dict[str, list[tuple[str, str]]] = {}
    for m in results.measurements:
        kinds = PROFILE_ARTIFACTS.get(m)
        if kinds:
            names = sorted({str(kind).split("_")[0] for kind in kinds})
            links[m.id] = [(f"profiles ({', '.join(names)}) in the artifacts", artifacts_url)]
    return links, [("workflow run", run_url), ("its artifacts (HTML report, profiles)", artifacts_url)]


def explanations(results: RunResults) -> dict[str, list[str]]:
    """``{measurement id: lines}``: why each regressed metric regressed (the hotspot and allocation-site
    diffs the gate's explainers wrote into ``extra['explanation']``), metric by metric."""
    out: dict[str, list[str]] = {}
    for m in results.measurements:
        block = EXPLANATION.get(m)
        if block is None:
            continue
        lines: list[str] = []
        for metric, text in block.items():
            if isinstance(text, list) and text:
                lines.append(f"{metric}:")
                lines.extend("  " + str(line) for line in text)
        if lines:
            out[m.id] = lines
    return out


def write_markdown(path: Path, text: str, append: bool) -> None:
    """Replace ``path`` atomically, or append (``$GITHUB_STEP_SUMMARY`` belongs to the runner)."""
    if append:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    else:
        write_text_atomic(path, text)
