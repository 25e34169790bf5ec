"""The end-of-session table: one row per measurement, fitted to the terminal width (pure)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from pytest_causal_eval.extra_keys import VERDICT
from pytest_causal_eval.report.units import format_rate, format_seconds, format_value
from pytest_causal_eval.results import Measurement

__all__ = ["common_prefix", "render_table", "shorten", "wrap_name"]

# Metrics the plugin records itself; the table's metrics column shows the ones a test recorded.
DERIVED_METRICS = frozenset(
    {
        "throughput",
        "peak_rss",
        "rss_growth",
        "python_peak",
        "io_read_bytes",
        "io_write_bytes",
        "gpu_peak_allocated",
        "gpu_peak_reserved",
        "mem_peak",
        "alloc_count",
        "leak_per_iter",
    }
)


def shorten(text: str, width: int) -> str:
    """Fit ``text`` into ``width`` characters with a middle ellipsis, keeping more of the end
    (the test name and its parameters) than of the start (the path)."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width <= 3:
        return text[-width:]
    head = (width - 1) // 3
    tail = width - 1 - head
    return text[:head] + "…" + text[len(text) - tail :]


def wrap_name(name: str, width: int) -> list[str]:
    """``name`` on as many lines of at most ``width`` characters as it needs, cut after a ``/``,
    ``::``, ``-`` or ``[`` where one is near, never shortened."""
    width = max(10, width)
    out = []
    while len(name) > width:
        cut = max(name.rfind(sep, 0, width) + len(sep) for sep in ("/", "::", "-", "[", "_"))
        if cut < width // 2:
            cut = width
        out.append(name[:cut])
        name = name[cut:]
    out.append(name)
    return out


def _change_of(m: Measurement) -> float:
    record = VERDICT.get(m)
    change = record.change if record is not None else None
    return abs(change) if change is not None else 0.0


def common_prefix(ids: Sequence[str]) -> str:
    """The longest common directory/module prefix ending at a '/' or '::' boundary."""
    if len(ids) < 2:
        if ids and "::" in ids[0]:  # one measurement: its module is said once, in the title
            return ids[0].split("::")[0] + "::"
        if ids and "/" in ids[0].split("::")[0]:
            return ids[0].split("::")[0].rsplit("/", 1)[0] + "/"
        return ""
    prefix = os.path.commonprefix(list(ids))  # noqa: RUF071 - character-wise on purpose
    colons = prefix.rfind("::")
    cut = max(prefix.rfind("/"), colons + 1 if colons >= 0 else -1)
    return prefix[: cut + 1] if cut >= 0 else ""


def _metrics_text(m: Measurement) -> str:
    parts = []
    for name, metric in sorted(m.metrics.items()):
        if name in DERIVED_METRICS:
            continue
        parts.append(f"{name}={format_value(metric.value, metric.unit)}")
    return " ".join(parts)


def render_table(measurements: Sequence[Measurement], width: int = 80) -> list[str]:
    """Lines of the summary table. Columns: name, median, IQR, throughput (or ops), rounds, metrics."""
    if not measurements:
        return []
    width = max(50, width)
    rows = sorted(measurements, key=lambda m: (-_change_of(m), m.id))  # biggest change first
    prefix = common_prefix([m.id for m in rows])
    cells: list[tuple[str, str, str, str, str, str]] = []
    for m in rows:
        stats = m.stats
        throughput = m.metrics.get("throughput")
        if throughput is not None:
            rate = format_rate(throughput.value, "/s")
        elif stats is not None:
            rate = format_rate(stats.ops, "/s")
        else:
            rate = "-"
        cells.append(
            (
                m.id[len(prefix) :] or m.id,
                format_seconds(stats.median) if stats else "-",
                format_seconds(stats.iqr) if stats else "-",
                rate,
                str(m.rounds) if stats else "-",
                _metrics_text(m),
            )
        )
    headers = ("name", "median", "IQR", "ops", "rounds", "metrics")
    fixed = [max(len(headers[i]), *(len(c[i]) for c in cells)) for i in range(1, 5)]
    metrics_needed = max(len(headers[5]), *(len(c[5]) for c in cells))
    names_needed = max(len(headers[0]), *(len(c[0]) for c in cells))
    gaps = 2 * 5
    numbers_width = sum(fixed) + 2 * 3
    room = width - sum(fixed) - gaps
    # Names are never cut: when the longest does not fit beside the numbers, each name gets its own
    # line(s) and the numbers follow on the next line, indented.
    stacked = names_needed + len(headers[5]) > room
    lines = []
    title = f"causal-eval: {len(rows)} measurement{'s' if len(rows) != 1 else ''}"
    if prefix:
        title += f" (in {prefix.rstrip('/:')})"
    lines.extend(wrap_name(title, width))

    def numbers(row: Sequence[str], metrics_width: int) -> str:
        parts = [row[i].rjust(fixed[i - 1]) for i in range(1, 5)]
        parts.append(shorten(row[5], metrics_width))
        return "  ".join(parts).rstrip()

    if stacked:
        metrics_width = max(len(headers[5]), width - 2 - numbers_width - 2)
        head = "  " + numbers(headers, metrics_width)
        lines.append(head)
        lines.append("-" * min(width, max(len(head), len(headers[0]))))
        for c in cells:
            lines.extend(wrap_name(c[0], width))
            lines.append("  " + numbers(c, metrics_width))
        return lines
    name_width = names_needed
    metrics_width = max(len(headers[5]), room - name_width)

    def fmt(row: Sequence[str]) -> str:
        return (row[0].ljust(name_width) + "  " + numbers(row, metrics_width)).rstrip()

    lines.append(fmt(headers))
    lines.append(
        "-" * min(width, len(fmt(headers)) + max(0, min(metrics_needed, metrics_width) - len(headers[5])))
    )
    lines.extend(fmt(c) for c in cells)
    return lines
