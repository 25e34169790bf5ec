"""The self-contained HTML report: one file, inline CSS and SVG, no script, works from disk (pure).

Every string that comes from a test (ids, parameters, messages, metric names, environment values)
is escaped with ``svg.esc`` before it reaches the markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_causal_eval.report.attention import MetricLine, format_centers, format_metric_change
from pytest_causal_eval.report.model import BenchView, Detail, detail_for
from pytest_causal_eval.report.svg import TrendMark, box_plot, esc, trend_plot
from pytest_causal_eval.report.units import format_bytes, format_rate, format_seconds, format_value
from pytest_causal_eval.report.verdicts import ORDER

__all__ = ["PROFILE_LABELS", "ReportDoc", "render_page"]

PROFILE_LABELS = {
    "cpu_html": "CPU profile (pyinstrument)",
    "speedscope": "CPU flame graph (speedscope JSON)",
    "memory_flamegraph": "memory: allocation sites",
    "torch_trace": "torch trace",
}

_CSS = """
*{box-sizing:border-box}
body{margin:0 auto;max-width:1800px;padding:8px 14px 40px;font:14px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#fff}
h1{font-size:1.35em;margin:.6em 0 .2em}
h2{font-size:1.15em;margin:1.6em 0 .5em;border-bottom:1px solid #dde1e8}
h3{font-size:1em;margin:0}
code,.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
.msg,dd,li{overflow-wrap:anywhere}
.id{overflow-wrap:normal;word-break:normal}
.machine{background:#fff3cd;border:1px solid #f0c36d;border-radius:6px;padding:6px 10px;margin:.6em 0}
pre.why{background:#f5f7fa;border:1px solid #dde1e8;border-radius:6px;padding:8px;overflow-x:auto;
font-size:.85em;white-space:pre}
td small{display:block;color:#5a6272}
tr.sub td{border-bottom-style:dashed}tr.sub td:first-child{padding-left:2em}
.meta{color:#5a6272;margin:0}
.counts{display:flex;flex-wrap:wrap;gap:6px;margin:.6em 0}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.85em;font-weight:600;
white-space:nowrap;background:#e6e9ef;color:#2a3140}
.v-regressed{background:#c62828;color:#fff}.v-inconclusive{background:#f0a500;color:#1d2330}
.v-improved{background:#2e7d32;color:#fff}.v-pass{background:#dcefdc;color:#1f5a22}
.v-new{background:#dde8f8;color:#1f3f73}.v-failed{background:#6d1b1b;color:#fff}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;border:1px solid #dde1e8;border-radius:6px}
table{border-collapse:collapse;width:100%}
th,td{padding:5px 8px;text-align:left;border-bottom:1px solid #eef0f4;vertical-align:top}
th{background:#f5f7fa;font-weight:600;white-space:nowrap;position:sticky;top:0}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
#benchmarks td:first-child{min-width:14em;max-width:40em}
tr.row-regressed{background:#fdecea}tr.row-regressed td:first-child{box-shadow:inset 4px 0 #c62828}
tr.row-improved{background:#edf7ed}tr.row-inconclusive{background:#fff8e1}
.notes li{margin:.2em 0}.err{color:#b71c1c}
details.bench{border:1px solid #dde1e8;border-radius:6px;margin:8px 0;padding:0 10px}
details.bench>summary{cursor:pointer;padding:8px 0;display:flex;gap:8px;align-items:baseline;
flex-wrap:wrap;list-style-position:outside}
details.bench[open]>summary{border-bottom:1px solid #eef0f4;margin-bottom:6px}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:10px}
figure{margin:0 0 8px}figcaption{font-size:.85em;color:#5a6272}
svg.plot{width:100%;height:auto;display:block;font:11px system-ui,sans-serif}
.plot .ax text{fill:#5a6272}.plot .lbl{fill:#2a3140}
.plot .bx{fill-opacity:.25;stroke-width:1.4}.plot .wh,.plot .md{fill:none;stroke-width:1.4}
.plot .md{stroke-width:2.4}
.plot .base .bx{fill:#8a8f98;stroke:#5d626b}.plot .base .wh,.plot .base .md{stroke:#5d626b}
.plot .base .pt{fill:#5d626b}
.plot .cur .bx{fill:#2f6fde;stroke:#1f4fa8}.plot .cur .wh,.plot .cur .md{stroke:#1f4fa8}
.plot .cur .pt{fill:#1f4fa8}
.plot .bad .bx{fill:#d32f2f;stroke:#a31f1f}.plot .bad .wh,.plot .bad .md{stroke:#a31f1f}
.plot .bad .pt{fill:#a31f1f}
.plot .good .bx{fill:#2e7d32;stroke:#1f5a22}.plot .good .wh,.plot .good .md{stroke:#1f5a22}
.plot .pt{fill-opacity:.55}
.trend .ln{fill:none;stroke:#2f6fde;stroke-width:1.6}.trend .pt{fill:#2f6fde}
.trend .step path{stroke:#c62828;stroke-dasharray:4 3;stroke-width:1.4}
.trend .now{fill:none;stroke:#c62828;stroke-width:2}.plot .xa{stroke:#a3abb8;stroke-width:1}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0}
dl.kv dt{color:#5a6272}dl.kv dd{margin:0}
.muted{color:#5a6272}
.env{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:4px 24px}
.env h3{margin:.8em 0 .3em}
@media (max-width:600px){body{padding:6px 8px 30px;font-size:13px}th,td{padding:4px 6px}}
@media (prefers-color-scheme:dark){body{background:#14171c;color:#e3e6eb}th{background:#1e232b}
.machine{background:#3a3218;border-color:#6b5a20}pre.why{background:#1e232b;border-color:#2c333d}
th,td{border-color:#262c35}.scroll,details.bench{border-color:#2c333d}
tr.row-regressed{background:#3a1c1c}tr.row-improved{background:#1b301c}tr.row-inconclusive{background:#3a3218}
.plot .ax text,.meta,.muted,dl.kv dt,figcaption{fill:#a3abb8;color:#a3abb8}.plot .lbl{fill:#e3e6eb}}
"""


@dataclass(frozen=True)
class ReportDoc:
    views: list[BenchView]
    title: str = "causal-eval report"
    created: str = ""
    tool_version: str = ""
    machine_key: str = ""
    fingerprint: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=dict)
    health: Mapping[str, Any] | None = None
    notes: Sequence[str] = ()
    errors: Sequence[str] = ()
    baseline_file: str = ""
    history_note: str = ""
    detail: Detail | None = None
    machine: str = ""  # the noisy-machine sentence (attention.machine_note), shown first


def name_markup(text: str) -> str:
    """An id, escaped, that may wrap only after a separator (``/``, ``::``, ``[``, ``-``, ``_``),
    never inside a word."""
    out = esc(text)
    return re.sub(r"(/|::|\[|-|_)(?=.)", r"\1<wbr>", out)


def _verdict_label(view: BenchView) -> str:
    if not view.passed and view.verdict != "regressed":
        return '<span class="badge v-failed">test failed</span>'
    if not view.verdict:
        return '<span class="badge">not judged</span>'
    return f'<span class="badge v-{esc(view.verdict)}">{esc(view.verdict)}</span>'


def _change(view: BenchView) -> tuple[str, str]:
    if view.change is None:
        return "-", "-"
    if view.points:
        ci = f"{view.ci_low:+.1f} to {view.ci_high:+.1f} pts" if view.ci_low is not None else "-"
        return f"{view.change:+.1f} pts", ci
    ci = (
        f"{view.ci_low:+.1%} to {view.ci_high:+.1%}"
        if view.ci_low is not None and view.ci_high is not None
        else "-"
    )
    return f"{view.change:+.1%}", ci


def _metric_text(metric: Any) -> str:
    return format_value(metric.value, metric.unit) if metric is not None else "-"


def _memory_text(view: BenchView) -> str:
    if view.memory is None:
        return "-"
    return format_value(view.memory.value, view.memory.unit or "B")


def _throughput_text(view: BenchView) -> str:
    if view.throughput is None:
        return "-"
    value, unit = view.throughput
    return format_rate(value, unit if unit.startswith("/") else " " + unit)


def _line_change(line: MetricLine) -> tuple[str, str]:
    if line.change is None:
        return "-", "-"
    if line.points:
        ci = f"{line.ci_low:+.1f} to {line.ci_high:+.1f} pts" if line.ci_low is not None else "-"
        return f"{line.change:+.1f} pts", ci
    ci = (
        f"{line.ci_low:+.1%} to {line.ci_high:+.1%}"
        if line.ci_low is not None and line.ci_high is not None
        else "-"
    )
    return f"{line.change:+.1%}", ci


def _links(items: Sequence[tuple[str, str]], prefix: str = "") -> str:
    return " ".join(f'<a href="{esc(href)}">{esc(prefix + kind.split("_")[0])}</a>' for kind, href in items)


def _row(view: BenchView) -> str:
    change, ci = _change(view)
    verdict_class = f' class="row-{esc(view.verdict)}"' if view.verdict else ""
    median = format_seconds(view.median) if view.median is not None else "-"
    iqr = (
        f"IQR {format_seconds(view.q1)} to {format_seconds(view.q3)}"
        if view.q1 is not None and view.q3 is not None
        else ""
    )
    if view.cv is not None:
        iqr += f"{', ' if iqr else ''}CV {view.cv:.1%}"
    profiles = " ".join(x for x in (_links(view.profiles), _links(view.baseline_profiles, "baseline ")) if x)
    cells = [
        f'<td><a class="id" href="#{esc(view.anchor)}">{name_markup(view.id)}</a></td>',
        f"<td>{_verdict_label(view)}</td>",
        f'<td class="num">{esc(median)}<small>{esc(iqr)}</small></td>',
        f'<td class="num">{esc(change)}<small>{esc(ci)}</small></td>',
        f'<td class="num">{esc(_throughput_text(view))}</td>',
        f'<td class="num">{esc(_metric_text(view.accuracy))}</td>',
        f'<td class="num">{esc(_memory_text(view))}</td>',
        f"<td>{profiles or '-'}</td>",
    ]
    rows = [f"<tr{verdict_class}>{''.join(cells)}</tr>"]
    for line in view.lines:
        if line.metric == view.verdict_metric:
            continue
        l_change, l_ci = _line_change(line)
        rows.append(
            f'<tr class="sub row-{esc(line.verdict)}">'
            f'<td>{esc(line.metric)} <span class="muted">(same)</span></td>'
            f'<td><span class="badge v-{esc(line.verdict)}">{esc(line.verdict)}</span></td>'
            f'<td class="num">{esc(format_centers(line))}</td>'
            f'<td class="num">{esc(l_change)}<small>{esc(l_ci)}</small></td>'
            "<td></td><td></td><td></td><td></td></tr>"
        )
    return "".join(rows)


_HEAD = (
    "<thead><tr><th>benchmark</th><th>verdict</th><th>median</th>"
    "<th>change (95% CI)</th><th>throughput</th><th>accuracy</th>"
    "<th>memory</th><th>profiles</th></tr></thead>"
)


def _trend_figure(view: BenchView, markers: bool) -> str:
    trend = view.trend
    if trend is None or not trend.points:
        return ""
    values = [p.median for p in trend.points]
    titles = [
        f"run {p.run_id} {p.created[:19]} {p.short_commit}{' on ' + p.branch if p.branch else ''}: "
        f"{format_seconds(p.median)}"
        for p in trend.points
    ]
    marks = []
    steps_text = []
    for step in trend.steps:
        point = trend.points[step.index]
        text = (
            f"stepped {step.change:+.1%} ({format_seconds(step.before)} to {format_seconds(step.after)}) "
            f"at {'commit ' + point.short_commit if point.commit else 'an unknown commit'}"
            f"{' on ' + point.branch if point.branch else ''}, "
            f"run {point.run_id}"
        )
        marks.append(TrendMark(step.index, text))
        steps_text.append(text)
    now = len(values) - 1 if view.this_run is not None and trend.points[-1].run_id == view.this_run else None
    first = trend.points[0]
    svg = trend_plot(
        values,
        titles,
        marks,
        format_seconds,
        f"{view.id}: median time per run",
        markers,
        x_labels=(
            f"run {first.run_id} {first.created[:10]}",
            "this run" if now is not None else "latest run",
        ),
        current=now,
    )
    caption = f"median of the last {len(values)} run(s)" + (", ringed: this run" if now is not None else "")
    if steps_text:
        caption += ": " + "; ".join(steps_text)
    return f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>"


def _bench_section(view: BenchView, detail: Detail) -> str:
    is_open = detail.open_all or view.featured or not view.passed
    parts = [
        f'<details class="bench" id="{esc(view.anchor)}"{" open" if is_open else ""}>',
        f'<summary><h3 class="id">{name_markup(view.id)}</h3>{_verdict_label(view)}</summary>',
    ]
    if view.lines:
        parts.append(
            '<ul class="notes">'
            + "".join(
                f'<li class="msg">{esc(format_metric_change(line))} ({esc(line.verdict)})</li>'
                for line in view.lines
            )
            + "</ul>"
        )
    elif view.message and view.verdict not in ("", "new", "pass"):
        parts.append(f'<p class="msg">{esc(view.message)}</p>')
    if view.explanation:
        parts.append(
            '<p class="muted">Why (against the baseline\'s profile; '
            "biggest contribution to the change first):</p>"
            f'<pre class="why">{esc(chr(10).join(view.explanation))}</pre>'
        )
    plots = []
    boxes = [b for b in (view.baseline, view.current) if b is not None]
    if boxes:
        svg = box_plot(boxes, format_seconds, f"{view.id}: time per iteration")
        caption = "time per iteration" if view.baseline is not None else "time per iteration (no baseline)"
        plots.append(f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>")
    trend = _trend_figure(view, detail.trend_markers)
    if trend:
        plots.append(trend)
    if plots:
        parts.append(f'<div class="plots">{"".join(plots)}</div>')
    in_table = {"throughput", "accuracy", view.memory.name if view.memory else ""}
    others = {name: metric for name, metric in view.metrics.items() if name not in in_table}
    if others:
        items = "".join(
            f"<dt>{esc(name)}</dt><dd>{esc(format_value(metric.value, metric.unit))}"
            f" ({esc(metric.better)} is better)</dd>"
            for name, metric in sorted(others.items())
        )
        parts.append(f'<dl class="kv">{items}</dl>')
    if view.extra_info:
        parts.append(_kv(view.extra_info))
    if view.profiles or view.baseline_profiles:
        links = "".join(
            f'<li><a href="{esc(href)}">{esc(PROFILE_LABELS.get(kind, kind))}</a>{esc(who)}</li>'
            for who, items in ((", this run", view.profiles), (", baseline", view.baseline_profiles))
            for kind, href in items
        )
        parts.append(f"<ul>{links}</ul>")
    parts.append("</details>")
    return "".join(parts)


def _env_value(key: str, value: Any) -> str:
    """An environment value for people: memory in GiB, load averages and other fractions rounded."""
    name = str(key).lower()
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if numeric and ("bytes" in name or name.startswith(("memory", "swap"))):
        return format_bytes(float(value))
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        return ", ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "; ".join(value)
    if isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
        return "; ".join(", ".join(f"{k} {_env_value(k, v)}" for k, v in item.items()) for item in value)
    if isinstance(value, Mapping):
        return ", ".join(
            f"{k} {_env_value(k, v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        )
    if isinstance(value, list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _kv(mapping: Mapping[str, Any]) -> str:
    items = []
    for key, value in sorted(mapping.items(), key=lambda kv: str(kv[0])):
        if value in (None, "", {}, []):
            continue
        items.append(f"<dt>{esc(key)}</dt><dd>{esc(_env_value(str(key), value))}</dd>")
    return f'<dl class="kv">{"".join(items)}</dl>' if items else '<p class="muted">not recorded</p>'


def _environment(doc: ReportDoc) -> str:
    env = doc.environment
    parts = ['<h2>Environment</h2><div class="env">']
    if doc.machine_key:
        parts.append(f"<div><h3>Machine key</h3><p><code>{esc(doc.machine_key)}</code></p></div>")
    hard = doc.fingerprint.get("hard") if isinstance(doc.fingerprint, Mapping) else None
    soft = doc.fingerprint.get("soft") if isinstance(doc.fingerprint, Mapping) else None
    if isinstance(hard, Mapping):
        parts.append("<div><h3>Fingerprint (hard keys)</h3>" + _kv(hard) + "</div>")
    if isinstance(soft, Mapping) and soft:
        parts.append("<div><h3>Soft keys</h3>" + _kv(soft) + "</div>")
    health = doc.health
    if isinstance(health, Mapping):
        state = "noisy" if health.get("noisy") else "quiet"
        parts.append(f"<div><h3>Health: {esc(state)}</h3>" + _kv(health) + "</div>")
    for name in ("git", "python", "platform", "cpu", "gpu", "packages"):
        block = env.get(name)
        if isinstance(block, Mapping) and block:
            parts.append(f"<div><h3>{esc(name)}</h3>" + _kv(block) + "</div>")
    parts.append("</div>")
    return "".join(parts)


def render_page(doc: ReportDoc) -> str:
    views = doc.views
    detail = doc.detail or detail_for(len(views))
    counts: dict[str, int] = {}
    for view in views:
        counts[view.verdict or "not judged"] = counts.get(view.verdict or "not judged", 0) + 1
    badges = "".join(
        f'<span class="badge v-{esc(v)}">{counts[v]} {esc(v)}</span>'
        for v in (*ORDER, "not judged")
        if counts.get(v)
    )
    meta = [f"{len(views)} benchmark(s)"]
    if doc.created:
        meta.append(f"run {doc.created}")
    if doc.tool_version:
        meta.append(f"pytest-causal-eval {doc.tool_version}")
    git = doc.environment.get("git")
    if isinstance(git, Mapping) and git.get("commit"):
        meta.append(
            f"commit {str(git['commit'])[:12]}"
            + (f" on {git['branch']}" if git.get("branch") else "")
            + (" (dirty)" if git.get("dirty") else "")
        )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(doc.title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<header><h1>{esc(doc.title)}</h1><p class="meta">{esc(" · ".join(meta))}</p>',
    ]
    if doc.machine:
        out.append(f'<p class="machine" id="machine"><strong>{esc(doc.machine)}</strong></p>')
    out.append(f'<div class="counts" id="summary">{badges}</div>')
    lines = [f'<li class="err">{esc(e)}</li>' for e in doc.errors]
    lines += [f"<li>{esc(n)}</li>" for n in doc.notes]
    if doc.baseline_file:
        lines.append(f"<li>baseline: <code>{esc(doc.baseline_file)}</code></li>")
    if doc.history_note:
        lines.append(f"<li>{esc(doc.history_note)}</li>")
    if lines:
        out.append(f'<ul class="notes">{"".join(lines)}</ul>')
    out.append("</header><main>")
    featured = [v for v in views if v.featured or (not v.passed)]
    if featured:
        out.append('<h2>Needs a look</h2><ul class="notes">')
        for v in featured:
            said = [format_metric_change(line) for line in v.lines] or ([v.message] if v.message else [])
            out.append(
                f'<li>{_verdict_label(v)} <a class="id" href="#{esc(v.anchor)}">{name_markup(v.id)}</a>'
                + "".join(f'<br><span class="msg">{esc(text)}</span>' for text in said)
                + "</li>"
            )
        out.append("</ul>")
    out.append("<h2>Benchmarks</h2>")
    out.append(f'<div class="scroll"><table id="benchmarks">{_HEAD}<tbody>')
    out.extend(_row(v) for v in views)
    out.append("</tbody></table></div>")
    out.append("<h2>Distributions and trends</h2>")
    legend = (
        "Left: time per iteration, box = quartiles, whiskers = 1.5 IQR; grey = baseline, blue = this run "
        "(red: regressed, green: improved). Right: the median of recent runs on this machine from the "
        "history; a dashed red line marks a step (change point)."
    )
    if not detail.open_all:
        legend += " Benchmarks that need a look are expanded; click a name to open one."
    out.append(f'<p class="muted">{legend}</p>')
    out.extend(_bench_section(v, detail) for v in views)
    out.append(_environment(doc))
    out.append("</main></body></html>\n")
    return "\n".join(out)
