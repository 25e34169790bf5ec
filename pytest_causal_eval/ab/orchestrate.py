"""One A/B run end to end: resolve both refs, make the worktrees, run the sides alternately, judge.

When a time comparison is still inconclusive after the planned rounds, or regressed there, more
runs are made for those tests only (the decided ones are passed to ``--deselect``), and everything
is judged again: the A/B counterpart of the gate's re-measuring. Up to ``extra_rounds`` times:

- when a regression is to be *confirmed*, one run of the side that did not run last (the head,
  after ABBA), for it and any inconclusive tests: it forms a fresh adjacent pair with the last run
  of the other side, and costs one process instead of two;
- otherwise, while some comparison is *inconclusive*, one more A B pair continues the alternation
  (more data on both sides, drift still balanced).

A regression is confirmed by at least one extra run because ABBA has one blind spot: a burst of
foreign load that covers exactly the two middle runs slows only the head, and the head's two runs
agree with each other, so nothing in the planned rounds tells it from a real slowdown; one more
adjacent A B pair does (a real regression stays, a burst would not show in it). So a regression
judged with extra runs is kept only if the last base run and the last head run that measured it,
judged alone, also show a change beyond the threshold; otherwise it is reported as inconclusive
(``judging.require_replication``). A quiet machine and an unchanged PR never pay.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pytest_causal_eval.ab.judging import ABJudgement, judge_ab, require_replication
from pytest_causal_eval.ab.runner import (
    DEFAULT_BUDGET,
    MODE_FLAG,
    Launcher,
    RunRecord,
    Side,
    child_env,
    launch,
    letters,
    pytest_command,
    run_pytest,
    schedule,
)
from pytest_causal_eval.ab.worktrees import (
    ABError,
    Worktrees,
    dirty_files,
    interrupt_on_termination,
    repo_root,
    resolve_commit,
    shielded_from_interrupts,
)
from pytest_causal_eval.environment.readings import check_health
from pytest_causal_eval.extra_keys import VERDICT
from pytest_causal_eval.measure.load import DEFAULT_MAX_FOREIGN_LOAD, recorded_limit
from pytest_causal_eval.results import Measurement
from pytest_causal_eval.stats.compare import Threshold

__all__ = [
    "ABOutcome",
    "ABPlan",
    "LineObserver",
    "RunObserver",
    "RunStart",
    "deselect_args",
    "done_line",
    "execute",
    "extra_order",
    "start_line",
]


@dataclass(frozen=True)
class ABPlan:
    """What to compare and how. ``budget`` is the measuring time per measurement per side."""

    base_ref: str
    head_ref: str
    repo: Path = Path(".")
    rounds: int = 2
    python: str = sys.executable
    pytest_args: tuple[str, ...] = ()
    budget: float = DEFAULT_BUDGET
    threshold: Threshold | None = None
    extra_rounds: int = 2
    health_sample: float = 0.2  # seconds the one health check watches other processes; 0: only the facts
    mode: str = "time"  # or "instructions": callgrind counts, one run per side
    max_foreign_load: float | None = DEFAULT_MAX_FOREIGN_LOAD  # None: a time regression is judged anyway
    # the limit the head's runs recorded (their --causal-eval-max-foreign-load or ini) wins over the
    # default above; False when --max-foreign-load chose it
    load_limit_from_runs: bool = True

    @property
    def per_run_budget(self) -> float:
        return self.budget / self.rounds

    @property
    def counting(self) -> bool:
        return self.mode == "instructions"

    @property
    def run_args(self) -> tuple[str, ...]:
        """The pytest arguments of every run: the user's, and the mode when it is not time."""
        return (*self.pytest_args, f"{MODE_FLAG}=instructions") if self.counting else self.pytest_args


@dataclass
class ABOutcome:
    plan: ABPlan
    repo: Path
    commits: dict[Side, str]
    runs: list[RunRecord] = field(default_factory=list)
    judgement: ABJudgement = field(default_factory=ABJudgement)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    extra_rounds: int = 0
    health: dict[str, Any] | None = None

    def failure(self, side: Side) -> RunRecord | None:
        """The first run of ``side`` whose results could not be used."""
        return next((r for r in self.runs if r.side == side and not r.usable), None)

    def failing_tests(self, side: Side) -> bool:
        return any(r.side == side and r.usable and r.returncode == 1 for r in self.runs)

    def failed_tests(self, side: Side) -> dict[str, str]:
        """The tests of ``side`` that failed in any of its runs: node id -> first line of the failure
        (from the run that failed first)."""
        out: dict[str, str] = {}
        for record in self.runs:
            if record.side == side:
                for test, message in record.failures.items():
                    out.setdefault(test, message)
        return out

    def quarantined(self, side: Side) -> dict[str, dict[int, str]]:
        """Measurements of ``side`` left out of a run's results for a bad number (quarantined when
        the results were read): measurement id -> {run number of that side: the bad field}."""
        out: dict[str, dict[int, str]] = {}
        for record in self.runs:
            if record.side == side and record.usable and record.results is not None:
                for mid, problem in record.results.quarantined.items():
                    out.setdefault(mid, {})[record.index] = problem
        return out

    def unjudged(self) -> list[str]:
        """Head measurements left out of every head run for a bad number: nothing to judge them by."""
        judged = {m.id for m in self.judgement.head}
        return sorted(mid for mid in self.quarantined("head") if mid not in judged)

    def label(self, side: Side) -> str:
        ref = self.plan.base_ref if side == "base" else self.plan.head_ref
        commit = self.commits[side]
        if commit.startswith(ref.lower()):
            return f"{side} {commit[:10]}"
        return f"{side} {ref} ({commit[:10]})"


Progress = Callable[[str], None]
INTERRUPTED = "interrupted"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class RunStart:
    """One pytest run about to start: its number, the runs planned so far, its side and label, and
    how long the side's previous run took (an estimate of this one; None for its first)."""

    step: int
    planned: int
    side: Side
    label: str
    previous: float | None = None


class RunObserver(Protocol):
    """Told when each run starts and ends (the command's progress display)."""

    def started_run(self, run: RunStart) -> None: ...

    def finished_run(self, run: RunStart, record: RunRecord) -> None: ...


def start_line(run: RunStart) -> str:
    """``run 3/4: head slow-prompts (f8fe95283b)``: the run's number of those planned so far."""
    return f"run {run.step}/{run.planned}: {run.label}"


def done_line(run: RunStart, record: RunRecord) -> str:
    """``  head done in 61.2s: 9 measurement(s), 2 failed test(s)`` (or what went wrong)."""
    if record.problem == INTERRUPTED:
        return f"  {run.side} interrupted after {record.seconds:.1f}s"
    parts = [f"{len(record.results.measurements)} measurement(s)"] if record.results is not None else []
    if record.failures:
        parts.append(f"{len(record.failures)} failed test(s)")
    if record.results is not None and record.results.quarantined:
        parts.append(f"{len(record.results.quarantined)} left out for a bad number")
    if record.problem:
        parts.append(record.problem)
    return f"  {run.side} done in {record.seconds:.1f}s" + (": " + ", ".join(parts) if parts else "")


class LineObserver:
    """One line when a run starts and one when it ends, through ``progress``."""

    def __init__(self, progress: Progress, prefix: str = "causal-eval ab: ") -> None:
        self.progress, self.prefix = progress, prefix

    def started_run(self, run: RunStart) -> None:
        self.progress(self.prefix + start_line(run))

    def finished_run(self, run: RunStart, record: RunRecord) -> None:
        self.progress(self.prefix + done_line(run, record))


def execute(
    plan: ABPlan,
    *,
    launcher: Launcher = launch,
    progress: Progress = _stderr,
    observer: RunObserver | None = None,
    workdir: Path | None = None,
) -> ABOutcome:
    """Run the comparison (see the module docstring); an ``ABError`` for a user mistake.

    ``progress`` gets the command's notes as they happen, ``observer`` the start and end of each run
    (default: a line each through ``progress``)."""
    started = time.perf_counter()
    root = repo_root(plan.repo)
    commits: dict[Side, str] = {
        "base": resolve_commit(root, plan.base_ref, "--base"),
        "head": resolve_commit(root, plan.head_ref, "--head"),
    }
    outcome = ABOutcome(plan=plan, repo=root, commits=commits)
    dirty = dirty_files(root)
    if dirty:
        outcome.notes.append(
            f"the working tree has uncommitted changes ({len(dirty)} file(s), e.g. {dirty[0]}); "
            "ab measures the committed state of each ref"
        )
        progress(f"causal-eval ab: note: {outcome.notes[-1]}")
    try:
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="causal-eval-ab-", dir=workdir))
    except OSError as exc:
        where = workdir if workdir is not None else tempfile.gettempdir()
        raise ABError(
            f"--workdir: cannot create a temporary directory in {where}: {exc.strerror or exc}"
        ) from None
    try:
        with interrupt_on_termination(), Worktrees(root, tmp) as worktrees:
            trees: dict[Side, Path] = {
                "base": worktrees.add("base", commits["base"]),
                "head": worktrees.add("head", commits["head"]),
            }
            # sampled once for all runs: they are started with the check off
            outcome.health = check_health(plan.health_sample)
            if outcome.health.get("noisy") and not plan.counting:  # counts do not see the load
                reasons = "; ".join(outcome.health.get("reasons") or [])
                outcome.notes.append(f"the machine was busy when the runs started: {reasons}")
                progress(f"causal-eval ab: note: {outcome.notes[-1]}")
            runs = _Runs(plan, outcome, trees, tmp, launcher, observer or LineObserver(progress))
            runs.planned = 2 * plan.rounds
            runs.run(schedule(plan.rounds))
            _judge(outcome)
            while outcome.extra_rounds < plan.extra_rounds:
                undecided = _undecided(outcome)
                if not undecided:
                    break
                confirming = outcome.extra_rounds == 0 and bool(_time_verdicts(outcome, {"regressed"}))
                order = extra_order(
                    [r.side for r in outcome.runs], plan.rounds + outcome.extra_rounds + 1, confirming
                )
                outcome.extra_rounds += 1
                inconclusive = len(_time_verdicts(outcome, {"inconclusive"}))
                what = ", ".join(
                    part
                    for part in (
                        f"{len(undecided) - inconclusive} to confirm" if confirming else "",
                        f"{inconclusive} inconclusive" if inconclusive else "",
                    )
                    if part
                )
                progress(
                    f"causal-eval ab: {len(undecided)} test(s) undecided ({what}): extra round "
                    f"{outcome.extra_rounds} of {plan.extra_rounds} for them ({letters(order)})"
                )
                runs.planned += len(order)
                runs.run(order, deselect_args(_known_tests(outcome), undecided))
                _judge(outcome)
            _replicate(outcome)
    finally:
        with shielded_from_interrupts():
            shutil.rmtree(tmp, ignore_errors=True)
    if outcome.runs and all(r.returncode == 5 for r in outcome.runs):
        raise ABError(
            "no tests were collected on either side with the pytest arguments "
            f"{' '.join(plan.pytest_args) or '(none)'}"
        )
    outcome.notes.extend(_notes(outcome))
    outcome.seconds = time.perf_counter() - started
    return outcome


def _judge(outcome: ABOutcome) -> None:
    measured: dict[Side, list[list[Measurement]]] = {"base": [], "head": []}
    for record in outcome.runs:
        if record.usable and record.results is not None:
            measured[record.side].append(record.results.measurements)
    judgement = judge_ab(
        measured["base"],
        measured["head"],
        override=outcome.plan.threshold,
        base_label=outcome.label("base"),
        max_foreign_load=_load_limit(outcome),
    )
    # a measurement one side left out for a bad number was measured there: not new, not removed
    judgement.removed = [m for m in judgement.removed if m not in outcome.quarantined("head")]
    bad_base = outcome.quarantined("base")
    judgement.new = [m for m in judgement.new if m not in bad_base]
    measured_base = {m.id for m in judgement.base}
    for head in judgement.head:
        verdict = VERDICT.get(head)
        if head.id in bad_base and head.id not in measured_base and verdict is not None:
            message = f"not compared: {outcome.label('base')} has a bad number for it in every run"
            VERDICT.put(head, dataclasses.replace(verdict, message=message))
    outcome.judgement = judgement


def _load_limit(outcome: ABOutcome) -> float | None:
    """The load rule's limit: ``--max-foreign-load``, else what the last head run recorded (its
    ``--causal-eval-max-foreign-load`` among the pytest arguments, or the project's ini), else 25%."""
    plan = outcome.plan
    if not plan.load_limit_from_runs:
        return plan.max_foreign_load
    for record in reversed(outcome.runs):
        if record.side == "head" and record.usable and record.results is not None:
            try:
                found, limit = recorded_limit(record.results.extra)
            except ValueError:
                return plan.max_foreign_load  # another plugin revision's idea of the field
            return limit if found else plan.max_foreign_load
    return plan.max_foreign_load


def extra_order(sides_so_far: Sequence[Side], round_number: int, confirming: bool) -> list[Side]:
    """The runs of the next extra round: to confirm regressions, one run of the side that did not run
    last (it pairs with the other side's last run); otherwise the pair of round ``round_number`` of
    the alternation."""
    if confirming and sides_so_far:
        return ["head" if sides_so_far[-1] == "base" else "base"]
    return schedule(round_number)[-2:]


def _time_verdicts(outcome: ABOutcome, wanted: set[str]) -> set[str]:
    out: set[str] = set()
    for m in outcome.judgement.head:
        record = VERDICT.get(m)
        for c in (record.all if record is not None else None) or []:
            if c.get("metric") == "time" and c.get("verdict") in wanted:
                out.add(m.test_id)
    return out


def _undecided(outcome: ABOutcome) -> set[str]:
    """Tests an extra round can help: both sides measured, and a time comparison inconclusive, or
    regressed and not yet confirmed by an extra round."""
    if outcome.failure("base") is not None or outcome.failure("head") is not None:
        return set()
    wanted = {"inconclusive"} if outcome.extra_rounds else {"inconclusive", "regressed"}
    return _time_verdicts(outcome, wanted)


def _replicate(outcome: ABOutcome) -> None:
    """Every time regression judged with extra runs must show in the last base run and the last head
    run that measured it, judged alone (the later of the two is an extra run: they are adjacent)."""
    planned = 2 * outcome.plan.rounds
    if outcome.extra_rounds == 0 or len(outcome.runs) <= planned:
        return
    for head in list(outcome.judgement.head):
        last: dict[Side, tuple[int, Measurement]] = {}
        for index, record in enumerate(outcome.runs):
            if record.usable and record.results is not None:
                found = next((m for m in record.results.measurements if m.id == head.id), None)
                if found is not None:
                    last[record.side] = (index, found)
        if "base" in last and "head" in last and max(last["base"][0], last["head"][0]) >= planned:
            require_replication(
                outcome.judgement, head.id, last["base"][1], last["head"][1], outcome.plan.threshold
            )


def _known_tests(outcome: ABOutcome) -> set[str]:
    return {m.test_id for m in [*outcome.judgement.head, *outcome.judgement.base]}


def deselect_args(known: set[str], undecided: set[str]) -> list[str]:
    """``--deselect`` for every measured test that is decided, so an extra round runs only the rest.

    pytest deselects by node-id *prefix*: an id that is a prefix of an undecided one is kept.
    """
    return [
        f"--deselect={tid}"
        for tid in sorted(known - undecided)
        if not any(u.startswith(tid) for u in undecided)
    ]


class _Runs:
    """Runs sides one after the other; a side that failed once is not run again."""

    def __init__(
        self,
        plan: ABPlan,
        outcome: ABOutcome,
        trees: dict[Side, Path],
        tmp: Path,
        launcher: Launcher,
        observer: RunObserver,
    ) -> None:
        self.plan, self.outcome, self.trees, self.tmp = plan, outcome, trees, tmp
        self.launcher, self.observer = launcher, observer
        self.baselines = tmp / "empty-baselines"
        self.baselines.mkdir()
        self.counts: dict[Side, int] = {"base": 0, "head": 0}
        self.planned = 0

    def run(self, order: list[Side], extra_args: Sequence[str] = ()) -> None:
        for side in order:
            if self.outcome.failure(side) is not None:
                continue  # an import or collection error fails again: skip it
            self.counts[side] += 1
            n = self.counts[side]
            json_path = self.tmp / f"{side}-{n}.json"
            junit_path = self.tmp / f"{side}-{n}.junit.xml"
            cmd = pytest_command(
                self.plan.python,
                json_path,
                self.baselines,
                self.tmp / f"report-{side}-{n}",
                self.plan.per_run_budget,
                [*self.plan.run_args, *extra_args],
                junit_path=junit_path,
            )
            previous = next((r.seconds for r in reversed(self.outcome.runs) if r.side == side), None)
            step = len(self.outcome.runs) + 1
            start = RunStart(step, max(self.planned, step), side, self.outcome.label(side), previous)
            self.observer.started_run(start)
            begun = time.perf_counter()
            env = child_env(self.trees[side], os.environ)
            try:
                record = run_pytest(
                    side, n, cmd, self.trees[side], env, json_path, self.launcher, junit_path=junit_path
                )
            except BaseException:  # Ctrl-C, SIGTERM: the display ends before the worktrees are removed
                seconds = time.perf_counter() - begun
                self.observer.finished_run(start, RunRecord(side, n, -1, seconds, problem=INTERRUPTED))
                raise
            self.outcome.runs.append(record)
            self.observer.finished_run(start, record)


def _quarantine_notes(outcome: ABOutcome, side: Side) -> list[str]:
    """One note per measurement a run of ``side`` left out for a bad number, with the field."""
    pooled = {m.id for m in (outcome.judgement.head if side == "head" else outcome.judgement.base)}
    notes: list[str] = []
    for mid, problems in sorted(outcome.quarantined(side).items()):
        first = problems[min(problems)]
        if mid not in pooled:
            what = "not judged" if side == "head" else "the head's is not compared"
            notes.append(
                f"{outcome.label(side)}: measurement {mid} has a bad number in every run that measured "
                f"it ({first}); {what}"
            )
        else:
            which = ", ".join(str(i) for i in sorted(problems))
            notes.append(
                f"{outcome.label(side)}: measurement {mid} has a bad number in run(s) {which} of that "
                f"side ({first}); pooled over its other runs"
            )
    return notes


def _notes(outcome: ABOutcome) -> list[str]:
    notes: list[str] = []
    sides: tuple[Side, ...] = ("base", "head")
    for side in sides:
        failed = outcome.failure(side)
        if failed is not None:
            what = "its measurements are reported as new" if side == "base" else "nothing could be judged"
            notes.append(f"{outcome.label(side)} could not be measured: {failed.problem}; {what}")
        elif outcome.failing_tests(side):
            failed_tests = outcome.failed_tests(side)
            if failed_tests:
                notes.append(
                    f"{outcome.label(side)}: {len(failed_tests)} test(s) failed (listed below; their "
                    "timings are still compared)"
                )
            else:
                notes.append(
                    f"{outcome.label(side)}: pytest exited with status 1 (tests failed), but its JUnit "
                    "report names no failing test (did PYTEST_ARGS pass another --junitxml?)"
                )
        notes.extend(_quarantine_notes(outcome, side))
    removed = outcome.judgement.removed
    if removed:
        shown = ", ".join(removed[:5]) + (f" and {len(removed) - 5} more" if len(removed) > 5 else "")
        notes.append(f"{len(removed)} measurement(s) only on the base (removed): {shown}")
    new = outcome.judgement.new
    if new and outcome.failure("base") is None:
        shown = ", ".join(new[:5]) + (f" and {len(new) - 5} more" if len(new) > 5 else "")
        notes.append(f"{len(new)} measurement(s) only on the head (new): {shown}")
    return notes
