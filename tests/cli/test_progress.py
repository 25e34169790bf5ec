"""Progress of ``evaluate`` and ``ab``: a bar with rate and time left on a terminal, a plain line every
few seconds in a log. Clocks are injected; the lines are asserted, never the speed."""

from __future__ import annotations

import io
import re
import threading
from types import SimpleNamespace

import pytest

from pytest_causal_eval.ab.orchestrate import RunStart
from pytest_causal_eval.ab.runner import RunRecord
from pytest_causal_eval.cli import _progress, main
from pytest_causal_eval.cli._progress import CountProgress, RunProgress, Ticker
from pytest_causal_eval.results import Measurement, RunResults


class Clock:
    """Seconds that move only when the test moves them."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_a_line_every_interval_with_rate_and_time_left() -> None:
    clock, out = Clock(), io.StringIO()
    progress = CountProgress("evaluate", 1000, stream=out, tty=False, clock=clock, interval=5.0)
    for second in range(1, 13):
        clock.now += 1.0
        progress.update(100 * second if second <= 10 else 1000)
    progress.close()
    assert out.getvalue().splitlines() == [
        "evaluate: 500/1000 questions (50%) [00:05<00:05, 100.00 questions/s]",
        "evaluate: 1000/1000 questions (100%) [00:10<00:00, 100.00 questions/s]",
    ]


def test_a_log_skips_the_lines_of_a_long_silent_batch_and_knows_no_total() -> None:
    clock, out = Clock(), io.StringIO()
    progress = CountProgress("evaluate", None, stream=out, tty=False, clock=clock, interval=5.0)
    clock.now += 2.0
    progress.update(10)
    clock.now += 16.0  # one batch took 16 s: one line, not three
    progress.update(90)
    clock.now += 1.0
    progress.update(95)  # the next line is due at 20 s
    assert out.getvalue().splitlines() == ["evaluate: 90 questions [00:18,  5.00 questions/s]"]


def test_short_work_is_silent_in_a_log() -> None:
    clock, out = Clock(), io.StringIO()
    progress = CountProgress("evaluate", 60, stream=out, tty=False, clock=clock)
    clock.now += 1.0
    progress.update(60)
    progress.close()
    assert out.getvalue() == ""


def test_a_terminal_gets_a_bar_with_count_rate_and_time_left() -> None:
    out = io.StringIO()
    progress = CountProgress("evaluate", 60, stream=out, tty=True)
    for done in range(10, 61, 10):
        progress.update(done)
    progress.close()
    final = out.getvalue().split("\r")[-1]
    assert final.startswith("evaluate: 100%|") and "| 60/60 [" in final
    assert re.search(r"\[\d\d:\d\d<00:00, +[\d.]+k? questions/s\]$", final.strip()), final


def test_evaluate_in_a_ci_log_says_how_far_it_got(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the command: stderr is not a terminal here; each read of the clock is one second."""
    seconds = iter(range(10_000))
    monkeypatch.setattr(_progress, "time", SimpleNamespace(monotonic=lambda: float(next(seconds))))
    argv = ["evaluate", "--model", "oracle", "--task", "association", "-n", "200", "--batch-size", "10"]
    assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    # 20 batches, one clock read each after the start: lines at 5, 10, 15 and 20 s
    assert [line.split(" [")[0] for line in err] == [
        "evaluate: 50/200 questions (25%)",
        "evaluate: 100/200 questions (50%)",
        "evaluate: 150/200 questions (75%)",
        "evaluate: 200/200 questions (100%)",
    ]
    assert err[0].endswith("[00:05<00:15, 10.00 questions/s]")


def _start(previous: float | None = None) -> RunStart:
    return RunStart(step=3, planned=4, side="head", label="head slow (f8fe95283b)", previous=previous)


def _record(measurements: int, failures: int = 0, seconds: float = 61.2) -> RunRecord:
    results = RunResults(
        measurements=[
            Measurement(id=f"t::{i}", test_id=f"t::{i}", samples=[1.0]) for i in range(measurements)
        ]
    )
    record = RunRecord("head", 2, 1 if failures else 0, seconds, results=results)
    record.failures = {f"t::f{i}": "AssertionError" for i in range(failures)}
    return record


def test_ab_in_a_log_says_each_run_and_a_line_while_a_long_one_runs() -> None:
    clock, out = Clock(), io.StringIO()
    display = RunProgress(stream=out, tty=False, clock=clock, interval=15.0, ticking=False)
    run = _start(previous=58.0)
    display.started_run(run)
    for _ in range(40):  # the ticker's calls, one a second
        clock.now += 1.0
        display.tick()
    display.note("causal-eval ab: note: from the orchestrator")
    display.finished_run(run, _record(9, failures=2))
    assert out.getvalue().splitlines() == [
        "causal-eval ab: run 3/4: head slow (f8fe95283b)",
        "causal-eval ab:   head still running after 15s (its last run took 58s)",
        "causal-eval ab:   head still running after 30s (its last run took 58s)",
        "causal-eval ab: note: from the orchestrator",
        "causal-eval ab:   head done in 61.2s: 9 measurement(s), 2 failed test(s)",
    ]


def test_ab_on_a_terminal_shows_the_running_side_and_clears_it() -> None:
    clock, out = Clock(), io.StringIO()
    display = RunProgress(stream=out, tty=True, clock=clock, ticking=False)
    run = _start(previous=120.0)
    display.started_run(run)
    clock.now += 30.0
    display.tick()
    clock.now += 100.0  # longer than its last run: no "left" that would lie
    display.tick()
    display.finished_run(run, _record(9))
    text = out.getvalue()
    assert text.startswith("causal-eval ab: run 3/4: head slow (f8fe95283b)\n")
    shown = [part.rstrip() for part in text.split("\r")]
    assert any(re.fullmatch(r"  head running: 00:00 of ~2m00s +\? left", part) for part in shown), shown
    assert any(re.fullmatch(r"  head running: 00:30 of ~2m00s \S+ +01:30 left", part) for part in shown), (
        shown
    )
    assert "  head running: 02:10 (its last run took 2m00s)" in shown
    assert text.endswith("\rcausal-eval ab:   head done in 61.2s: 9 measurement(s)\n")


def test_the_ticker_calls_until_stopped() -> None:
    calls: list[int] = []
    twice = threading.Event()

    def tick() -> None:
        calls.append(1)
        if len(calls) >= 2:
            twice.set()

    ticker = Ticker(0.001, tick)
    ticker.start()
    assert twice.wait(timeout=30)
    thread = ticker._thread
    ticker.stop()
    assert thread is not None and not thread.is_alive()  # no call after stop() returned
