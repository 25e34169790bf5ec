"""Verdict summary and Markdown rendering (pure)."""

from __future__ import annotations

from pytest_causal_eval.report.markdown import MAX_CHARS, render_markdown
from pytest_causal_eval.report.verdicts import VerdictRow, count_verdicts, render_summary, verdict_rows
from pytest_causal_eval.results import Measurement


def row(i: int, verdict: str) -> VerdictRow:
    return VerdictRow(
        id=f"suites/test_eval.py::test_model[{'x' * 40}-{i}]",
        verdict=verdict,
        metric="time",
        change=0.2,
        ci_low=0.15,
        ci_high=0.25,
        threshold="10%",
        message="m",
    )


def test_rows_from_measurements_worst_first() -> None:
    ms = []
    for i, v in enumerate(["pass", "regressed", "new", "inconclusive"]):
        m = Measurement(id=f"t{i}", test_id=f"t{i}")
        m.extra["verdict"] = {
            "verdict": v,
            "metric": "time",
            "change": 0.1,
            "ci_low": 0.0,
            "ci_high": 0.2,
            "threshold": "10%",
        }
        m.extra["health"] = {"noisy": i == 1, "load_avg_1m": 3.0}
        ms.append(m)
    ms.append(Measurement(id="no-verdict", test_id="x"))
    rows = verdict_rows(ms)
    assert [r.verdict for r in rows] == ["regressed", "inconclusive", "pass", "new"]
    assert rows[0].noisy
    lines = render_summary(rows, width=100)
    assert lines[0] == "verdicts: 1 regressed, 1 inconclusive, 1 pass, 1 new"
    assert any("noisy" in line for line in lines)
    assert sum("t1" in line or "t3" in line for line in lines) == 2
    assert not any(line.startswith("t0") for line in lines)


def test_markdown_featured_table_and_details() -> None:
    rows = [row(0, "regressed"), row(1, "improved"), row(2, "pass")]
    text = render_markdown(rows)
    assert "**1** regressed, **1** improved, **1** pass" in text
    assert "| +20.0% | +15.0%..+25.0% | 10% |" in text
    before, _, after = text.partition("<details>")
    assert "regressed" in before and "-2]" in after


def test_markdown_stays_under_the_step_summary_limit() -> None:
    rows = [row(i, "regressed" if i % 3 == 0 else "pass") for i in range(3000)]
    text = render_markdown(rows)
    assert len(text) <= MAX_CHARS
    assert "more not shown" in text
    counts = count_verdicts(rows)
    assert f"**{counts['regressed']}** regressed" in text
    assert len(render_markdown(rows, limit=2000)) <= 2000
