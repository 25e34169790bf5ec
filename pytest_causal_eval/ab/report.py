"""What an A/B run reports: terminal lines, Markdown, the results document, the exit status (pure)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from pytest_causal_eval.ab.orchestrate import ABOutcome
from pytest_causal_eval.ab.runner import Side, letters, schedule
from pytest_causal_eval.baseline.load import busy_summary_line
from pytest_causal_eval.report.attention import machine_note
from pytest_causal_eval.report.markdown import MARKER, MAX_CHARS, render_markdown
from pytest_causal_eval.report.verdicts import render_summary, verdict_rows
from pytest_causal_eval.results import RunResults

__all__ = ["INSTRUCTIONS_MARKER", "exit_status", "header", "markdown", "results_document", "terminal_lines"]

SIDES: tuple[Side, ...] = ("base", "head")
#: The hidden first line of an instruction-mode report (a time-mode one has ``MARKER``).
INSTRUCTIONS_MARKER = "<!-- causal-eval-instructions -->"
#: Failing tests listed per side (the rest are counted).
MAX_FAILED_SHOWN = 20


def _order(outcome: ABOutcome) -> str:
    """The sides in the order they ran ('ABBA'); the planned order before anything ran."""
    return letters([r.side for r in outcome.runs] or schedule(outcome.plan.rounds))


def header(outcome: ABOutcome) -> str:
    plan = outcome.plan
    if plan.counting:
        return (
            f"causal-eval ab: {outcome.label('head')} vs {outcome.label('base')}, instruction counts "
            f"(valgrind callgrind), one run per side ({_order(outcome)})"
        )
    extra = f" + {outcome.extra_rounds} extra (to decide or confirm)" if outcome.extra_rounds else ""
    return (
        f"causal-eval ab: {outcome.label('head')} vs {outcome.label('base')}, {plan.rounds} round(s){extra} "
        f"({_order(outcome)}), {plan.per_run_budget:g}s per measurement per run "
        f"({plan.budget:g}s per side)"
    )


def _machine(outcome: ABOutcome) -> str:
    """The noisy-machine sentence, said first (load-inconclusive verdicts, a busy start)."""
    return machine_note(outcome.judgement.head, outcome.health)


def terminal_lines(outcome: ABOutcome, width: int = 100, strict: bool = False) -> list[str]:
    lines = [header(outcome)]
    busy = busy_summary_line(outcome.judgement.head, strict, "--strict")
    if busy:  # right under the header: these verdicts say nothing about the code
        lines.append(busy)
    rows = verdict_rows(outcome.judgement.head)
    lines.extend(render_summary(rows, width=width, machine=_machine(outcome)))
    lines.extend(outcome.judgement.lines)
    for note in outcome.notes:
        lines.append(f"note: {note}")
    for side in SIDES:
        lines.extend(_failed_lines(outcome, side))
    for side in SIDES:
        failed = outcome.failure(side)
        if failed is not None and failed.tail:
            lines.append(f"--- last lines of the {side} run's output ---")
            lines.extend(failed.tail)
    lines.append(f"ab finished in {outcome.seconds:.1f}s")
    return lines


def _failed_lines(outcome: ABOutcome, side: Side) -> list[str]:
    """``FAILED test - first line`` per failing test of ``side``, as pytest's short summary has it."""
    failed = outcome.failed_tests(side)
    if not failed:
        return []
    lines = [f"failed tests on {outcome.label(side)}:"]
    shown = sorted(failed.items())[:MAX_FAILED_SHOWN]
    lines.extend(f"  FAILED {test} - {message}" for test, message in shown)
    if len(failed) > len(shown):
        lines.append(f"  ... and {len(failed) - len(shown)} more")
    return lines


def _no_ticks(text: str) -> str:
    return text.replace("`", "'")


def _failed_markdown(outcome: ABOutcome, side: Side) -> str:
    failed = outcome.failed_tests(side)
    if not failed:
        return ""
    shown = sorted(failed.items())[:MAX_FAILED_SHOWN]
    items = [f"- `{_no_ticks(test)}`: {_no_ticks(message[:300])}" for test, message in shown]
    if len(failed) > len(shown):
        items.append(f"- ... and {len(failed) - len(shown)} more")
    return f"\n**Failed tests on {outcome.label(side)}**\n\n" + "\n".join(items) + "\n"


def markdown(outcome: ABOutcome) -> str:
    rows = verdict_rows(outcome.judgement.head)
    title = f"causal-eval ab: {outcome.plan.head_ref} vs {outcome.plan.base_ref}"
    failed = "".join(_failed_markdown(outcome, side) for side in SIDES)
    tails = failed + "".join(_tail_details(side, outcome) for side in SIDES)
    # Its own marker in instruction mode: a PR can carry both reports as two comments, each updated
    # in place, and the wall-time one must never find (and overwrite) the instruction one.
    marker = INSTRUCTIONS_MARKER if outcome.plan.counting else MARKER
    if outcome.plan.counting:
        title += " (instruction counts)"
    text = render_markdown(
        rows,
        title=title,
        notes=[header(outcome), *outcome.notes],
        limit=MAX_CHARS - len(tails),
        marker=marker,
        machine=_machine(outcome),
    )
    return text + tails


def _tail_details(side: Side, outcome: ABOutcome) -> str:
    failed = outcome.failure(side)
    if failed is None or not failed.tail:
        return ""
    lines = [line[:300].replace("```", "'''") for line in failed.tail[-15:]]
    return (
        f"\n<details><summary>{side}: last lines of the output</summary>\n\n```\n"
        + "\n".join(lines)
        + "\n```\n</details>\n"
    )


def results_document(outcome: ABOutcome) -> RunResults:
    """The pooled head measurements with their verdicts, readable like any results file."""
    usable = [r for r in outcome.runs if r.usable and r.results is not None]
    head = [r for r in usable if r.side == "head"]
    source = (head or usable)[-1].results if usable else None
    info: dict[str, Any] = {
        "base": {"ref": outcome.plan.base_ref, "commit": outcome.commits["base"]},
        "head": {"ref": outcome.plan.head_ref, "commit": outcome.commits["head"]},
        "mode": outcome.plan.mode,
        "rounds": outcome.plan.rounds,
        "extra_rounds": outcome.extra_rounds,
        "order": _order(outcome),
        "budget_per_side": outcome.plan.budget,
        "budget_per_run": outcome.plan.per_run_budget,
        "pytest_args": list(outcome.plan.pytest_args),
        "runs": [r.to_dict() for r in outcome.runs],
        "new": list(outcome.judgement.new),
        "removed": list(outcome.judgement.removed),
        "failed_tests": {side: outcome.failed_tests(side) for side in SIDES},
        "quarantined": {
            side: {mid: {str(run): problem for run, problem in runs.items()} for mid, runs in bad.items()}
            for side in SIDES
            for bad in [outcome.quarantined(side)]
        },
        "notes": list(outcome.notes),
        "seconds": round(outcome.seconds, 3),
        "base_measurements": [m.to_dict() for m in outcome.judgement.base],
    }
    extra: dict[str, Any] = {"ab": info}
    if source is not None and "machine" in source.extra:
        extra["machine"] = source.extra["machine"]
    environment = dict(source.environment) if source is not None else {}
    if outcome.health is not None:
        environment["health"] = outcome.health
    return RunResults(
        measurements=list(outcome.judgement.head),
        environment=environment,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        tool_version=source.tool_version if source is not None else "",
        extra=extra,
    )


def exit_status(outcome: ABOutcome, strict: bool = False) -> int:
    """0: nothing regressed; 1: a regression, a head that could not be measured or whose tests fail,
    a head measurement with a bad number in every run (it cannot be judged), or (``strict``) an
    inconclusive comparison."""
    if outcome.failure("head") is not None or outcome.failing_tests("head") or outcome.unjudged():
        return 1
    rows = verdict_rows(outcome.judgement.head)
    if any(r.verdict == "regressed" for r in rows):
        return 1
    if strict and any(r.verdict == "inconclusive" for r in rows):
        return 1
    return 0
