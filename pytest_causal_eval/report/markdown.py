"""Markdown verdict report for a GitHub job summary or a PR comment (pure; the caller writes it).

Regressions, inconclusive results and improvements get a compact table with their intervals; the
rest is collapsed in ``<details>``. The text stays under GitHub's 65,536-character limit for a step
summary: rows that do not fit are summarized by count.
"""

from __future__ import annotations

from collections.abc import Sequence

from pytest_causal_eval.report.verdicts import ORDER, VerdictRow, count_verdicts, format_interval

__all__ = ["MAX_CHARS", "render_markdown"]

MAX_CHARS = 65_536
_ICON = {"regressed": "❌", "inconclusive": "⚠️", "improved": "🚀", "pass": "✅", "new": "🆕"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(r: VerdictRow) -> str:
    change, ci = format_interval(r)
    notes = []
    if r.noisy:
        notes.append("noisy machine")
    if r.remeasured:
        notes.append(f"re-measured x{r.remeasured}")
    return (
        f"| `{_cell(r.id)}` | {_ICON.get(r.verdict, '')} {r.verdict} | {_cell(r.metric)} | {change} | {ci} "
        f"| {_cell(r.threshold)} | {_cell(', '.join(notes))} |"
    )


_HEADER = (
    "| measurement | verdict | metric | change | 95% CI | threshold | notes |\n"
    "|---|---|---|---:|---:|---:|---|"
)


def render_markdown(
    rows: Sequence[VerdictRow],
    title: str = "causal-eval: performance verdicts",
    notes: Sequence[str] = (),
    limit: int = MAX_CHARS,
) -> str:
    """The whole report; never longer than ``limit`` characters."""
    counts = count_verdicts(rows)
    head = [f"## {title}", ""]
    summary = ", ".join(f"**{counts[v]}** {v}" for v in ORDER if counts.get(v))
    head.append(summary or "no measurements were compared")
    head.extend(f"> {_cell(n)}" for n in notes)
    head.append("")
    featured = [r for r in rows if r.verdict in ("regressed", "inconclusive", "improved")]
    rest = [r for r in rows if r.verdict not in ("regressed", "inconclusive", "improved")]
    tail_reserve = 400
    budget = limit - tail_reserve
    out = list(head)
    used = sum(len(line) + 1 for line in out)

    def add_table(table_rows: Sequence[VerdictRow], lines: list[str], used: int) -> tuple[int, int]:
        shown = 0
        lines.append(_HEADER)
        used += len(_HEADER) + 1
        for r in table_rows:
            line = _row(r)
            if used + len(line) + 1 > budget:
                break
            lines.append(line)
            used += len(line) + 1
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
    if rest:
        out.append(f"<details><summary>{len(rest)} other measurement(s)</summary>")
        out.append("")
        shown, used = add_table(rest, out, used + 60)
        if shown < len(rest):
            out.append("")
            out.append(f"... and {len(rest) - shown} more not shown")
        out.append("")
        out.append("</details>")
    text = "\n".join(out) + "\n"
    if len(text) > limit:  # only with an absurdly small limit; keep the promise anyway
        text = text[: max(0, limit - 4)] + "...\n"
    return text
