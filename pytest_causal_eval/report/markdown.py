"""Markdown verdict report for a GitHub job summary or a PR comment (pure; the caller writes it).

Regressions, inconclusive results and improvements get a compact table with their intervals; the
rest is collapsed in ``<details>``. The text stays under GitHub's 65,536-character limit for a step
summary and a PR comment: rows that do not fit are summarized by count.

The first line is a hidden marker (``<!-- causal-eval-report -->``) so a CI job can find its earlier
PR comment and update it in place. A noisy machine is said right under the counts. Every gated metric
that did not pass gets a row of its own, with both values compared (``p10 42.0 ms vs 15.9 ms``). Optional
links (absolute URLs only: a PR comment cannot resolve a relative path): per measurement (where its
profiles are, in the notes column) and for the whole run (the workflow run and its artifacts) at the
end; the explanation of each regression (hotspot and allocation-site diffs) follows the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pytest_causal_eval.report.attention import format_centers
from pytest_causal_eval.report.verdicts import (
    ORDER,
    VerdictRow,
    count_verdicts,
    format_interval,
    format_line_interval,
)

__all__ = ["MARKER", "MAX_CHARS", "render_markdown"]

MAX_CHARS = 65_536
MARKER = "<!-- causal-eval-report -->"
_ICON = {"regressed": "❌", "inconclusive": "⚠️", "improved": "🚀", "pass": "✅", "new": "🆕"}


def _cell(text: str) -> str:
    """Table-cell text: no pipes or newlines, and no raw HTML (GitHub renders some of it)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("\n", " ")
    )


def _code(text: str) -> str:
    """A code span (its content is shown literally, '<' included); pipes still need escaping in tables."""
    body = text.replace("|", "\\|").replace("\n", " ")
    fence = "``" if "`" in body else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def _link(label: str, href: str) -> str:
    """A Markdown link whose label and target cannot break out of the table or the link."""
    label = _cell(label).replace("[", "(").replace("]", ")")
    target = href.replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("|", "%7C")
    return f"[{label}]({target})"


def _row(r: VerdictRow, links: Sequence[tuple[str, str]] = ()) -> list[str]:
    change, ci = format_interval(r)
    notes = []
    if r.noisy:
        notes.append("noisy machine")
    if r.remeasured:
        notes.append(f"re-measured x{r.remeasured}")
    notes.extend(_link(label, href) for label, href in links)
    out = [
        f"| {_code(r.id)} | {_ICON.get(r.verdict, '')} {r.verdict} | {_cell(r.metric)} "
        f"| {_cell(r.centers) or '-'} | {change} | {ci} | {_cell(r.threshold)} | {', '.join(notes)} |"
    ]
    for line in r.others:
        o_change, o_ci = format_line_interval(line)
        out.append(
            f"| ↳ same | {_ICON.get(line.verdict, '')} {line.verdict} | {_cell(line.metric)} "
            f"| {_cell(format_centers(line)) or '-'} | {o_change} | {o_ci} | {_cell(line.threshold)} | |"
        )
    return out


_HEADER = (
    "| measurement | verdict | metric | this run vs baseline | change | 95% CI | threshold | notes |\n"
    "|---|---|---|---|---:|---:|---:|---|"
)
_FENCE = "`" * 3


def _explanation(mid: str, lines: Sequence[str]) -> list[str]:
    return [
        f"<details><summary>why: {_cell(mid)}</summary>",
        "",
        _FENCE,
        *(line.replace(_FENCE, "` ` `") for line in lines),
        _FENCE,
        "",
        "</details>",
    ]


def render_markdown(
    rows: Sequence[VerdictRow],
    title: str = "causal-eval: performance verdicts",
    notes: Sequence[str] = (),
    limit: int = MAX_CHARS,
    links: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    artifacts: Sequence[tuple[str, str]] = (),
    marker: str = MARKER,
    machine: str = "",
    explanations: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The whole report; never longer than ``limit`` characters.

    ``links``: measurement id -> [(label, href)] shown in its notes cell (e.g. its profiles);
    ``artifacts``: [(label, href)] listed at the end (the CI run and its artifacts); ``machine``: the
    noisy-machine sentence (``attention.machine_note``), said first; ``explanations``: measurement id
    -> the lines that explain its regression (hotspot and allocation-site diffs).
    """
    links = links or {}
    counts = count_verdicts(rows)
    head = [marker, f"## {title}", ""] if marker else [f"## {title}", ""]
    summary = ", ".join(f"**{counts[v]}** {v}" for v in ORDER if counts.get(v))
    head.append(summary or "no measurements were compared")
    if machine:
        head.extend(["", f"> ⚠️ **{_cell(machine)}**"])
    head.extend(f"> {_cell(n)}" for n in notes)
    head.append("")
    featured = [r for r in rows if r.verdict in ("regressed", "inconclusive", "improved")]
    rest = [r for r in rows if r.verdict not in ("regressed", "inconclusive", "improved")]
    footer = ""
    if artifacts:
        footer = "\n**Artifacts:** " + " · ".join(_link(label, href) for label, href in artifacts) + "\n"
        if len(footer) > limit // 4:
            footer = ""
    tail_reserve = 400 + len(footer)
    budget = limit - tail_reserve
    out = list(head)
    used = sum(len(line) + 1 for line in out)

    def add_table(table_rows: Sequence[VerdictRow], lines: list[str], used: int) -> tuple[int, int]:
        shown = 0
        lines.append(_HEADER)
        used += len(_HEADER) + 1
        for r in table_rows:
            row_lines = _row(r, links.get(r.id, ()))
            size = sum(len(line) + 1 for line in row_lines)
            if used + size > budget:
                break
            lines.extend(row_lines)
            used += size
            shown += 1
        return shown, used

    if featured:
        shown, used = add_table(featured, out, used)
        if shown < len(featured):
            more = count_verdicts(featured[shown:])
            out.append("")
            out.append(
                f"... and {len(featured) - shown} more not shown ("
                + ", ".join(f"{n} {v}" for v, n in more.items() if n)
                + ")"
            )
        out.append("")
        for r in featured[:shown]:
            why = (explanations or {}).get(r.id)
            if not why:
                continue
            block = _explanation(r.id, why)
            size = sum(len(line) + 1 for line in block)
            if used + size > budget:
                break
            out.extend(block)
            out.append("")
            used += size + 1
    if rest:
        out.append(f"<details><summary>{len(rest)} other measurement(s)</summary>")
        out.append("")
        shown, used = add_table(rest, out, used + 60)
        if shown < len(rest):
            out.append("")
            out.append(f"... and {len(rest) - shown} more not shown")
        out.append("")
        out.append("</details>")
    text = "\n".join(out) + "\n" + footer
    if len(text) > limit:  # only with an absurdly small limit; keep the promise anyway
        text = text[: max(0, limit - 4)] + "...\n"
    return text
