"""Progress of the long commands on stderr: ``evaluate`` (questions) and ``ab`` (pytest runs).

On a terminal, a tqdm bar redrawn in place: the count, the rate and the time left. In a log (stderr
is not a terminal, as in CI), a plain line every few seconds with the same fields instead: a CI log
shows that the command is alive and how far it got, without a flood of redraws. Short work stays
silent in a log (nothing before the first interval has passed).

tqdm rather than rich: it is one small pure-Python package without dependencies (rich brings
pygments and markdown-it), so the core install stays light; it is already pulled in by the Hugging
Face extra, and its ``format_meter`` gives the log lines the very fields the bar shows. It is
imported only when progress is shown.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_causal_eval.ab.orchestrate import RunStart
    from pytest_causal_eval.ab.runner import RunRecord

__all__ = ["EVALUATE_INTERVAL", "RUN_INTERVAL", "CountProgress", "RunProgress", "Ticker"]

Clock = Callable[[], float]


def _monotonic() -> float:
    return time.monotonic()


#: Seconds between two progress lines in a log.
EVALUATE_INTERVAL = 5.0
RUN_INTERVAL = 15.0


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: treat as a log
        return False


class CountProgress:
    """Counted work (``update(done)`` with the number done so far) toward an optional ``total``."""

    def __init__(
        self,
        label: str,
        total: int | None,
        unit: str = "questions",
        *,
        stream: IO[str] | None = None,
        tty: bool | None = None,
        clock: Clock = _monotonic,
        interval: float = EVALUATE_INTERVAL,
    ) -> None:
        self.label, self.total, self.unit = label, total or None, unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _is_tty(self.stream) if tty is None else tty
        self.clock, self.interval = clock, interval
        self.started = clock()
        self.next_line = self.started + interval
        self.done = 0
        self.bar: Any = None
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                desc=label,
                unit=f" {unit}",
                file=self.stream,
                dynamic_ncols=True,
                mininterval=0.2,
                leave=True,
            )

    def line(self, done: int, elapsed: float) -> str:
        """The log line: ``evaluate: 1264/3000 questions (42%) [00:19<00:26, 66.53 questions/s]``."""
        from tqdm import tqdm

        if self.total:
            fmt = "{n_fmt}/{total_fmt}{unit} ({percentage:.0f}%) [{elapsed}<{remaining}, {rate_fmt}]"
        else:
            fmt = "{n_fmt}{unit} [{elapsed}, {rate_fmt}]"
        meter = tqdm.format_meter(done, self.total or 0, elapsed, unit=f" {self.unit}", bar_format=fmt)
        return f"{self.label}: {meter}"

    def update(self, done: int) -> None:
        self.done = done
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            return
        now = self.clock()
        if now >= self.next_line:
            print(self.line(done, now - self.started), file=self.stream, flush=True)
            while self.next_line <= now:
                self.next_line += self.interval

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Ticker:
    """Calls ``tick`` every ``period`` seconds on a daemon thread, from ``start()`` to ``stop()``."""

    def __init__(self, period: float, tick: Callable[[], None]) -> None:
        self.period, self.tick = period, tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="causal-eval-progress", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            self.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class RunProgress:
    """The pytest runs of ``causal-eval ab`` (an ``ab.orchestrate.RunObserver``): a line when a run
    starts and one when it ends (elapsed time, measurement count); in between, on a terminal, a bar
    with the elapsed time (and the time left, estimated by the side's previous run), and in a log a
    line every ``interval`` seconds."""

    prefix = "causal-eval ab: "

    def __init__(
        self,
        *,
        stream: IO[str] | None = None,
        tty: bool | None = None,
        clock: Clock = _monotonic,
        interval: float = RUN_INTERVAL,
        ticking: bool = True,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _is_tty(self.stream) if tty is None else tty
        self.clock, self.interval = clock, interval
        self.ticker = Ticker(1.0 if self.tty else min(1.0, interval), self.tick) if ticking else None
        self.run: RunStart | None = None
        self.started = 0.0
        self.next_line = 0.0
        self.bar: Any = None
        self._lock = threading.Lock()

    def _print(self, line: str) -> None:
        print(self.prefix + line, file=self.stream, flush=True)

    def note(self, line: str) -> None:
        """A line of the orchestrator's (a note, an extra round), printed as it is; above the bar on
        a terminal."""
        with self._lock:
            if self.bar is not None:
                self.bar.write(line, file=self.stream)
            else:
                print(line, file=self.stream, flush=True)

    def started_run(self, run: RunStart) -> None:
        from pytest_causal_eval.ab.orchestrate import start_line

        with self._lock:
            self.run = run
            self.started = self.clock()
            self.next_line = self.started + self.interval
            self._print(start_line(run))
            if self.tty:
                from tqdm import tqdm

                # tqdm redraws the line; what it shows is drawn here, on this display's clock
                self.bar = tqdm(
                    file=self.stream, bar_format="{desc}", dynamic_ncols=True, leave=False, mininterval=0
                )
                self._redraw(0.0)
        if self.ticker is not None:
            self.ticker.start()

    def tick(self) -> None:
        with self._lock:
            run = self.run
            if run is None:
                return
            elapsed = self.clock() - self.started
            if self.bar is not None:
                self._redraw(elapsed)
                return
            if self.clock() < self.next_line:
                return
            while self.next_line <= self.clock():
                self.next_line += self.interval
            estimate = f" (its last run took {_duration(run.previous)})" if run.previous else ""
            self._print(f"  {run.side} still running after {_duration(elapsed)}{estimate}")

    def _redraw(self, elapsed: float) -> None:
        """``  head running: 00:30 of ~2m00s ████      01:30 left``: the side's last run is the estimate."""
        from tqdm import tqdm

        run = self.run
        if run is None or self.bar is None:
            return
        desc = f"  {run.side} running"
        previous = run.previous or 0.0
        if previous > elapsed:
            fmt = "{desc}: {elapsed} of ~" + _duration(previous) + " {bar} {remaining} left"
            width = min(100, shutil.get_terminal_size((80, 24)).columns)
            line = tqdm.format_meter(elapsed, previous, elapsed, prefix=desc, bar_format=fmt, ncols=width)
        else:
            estimate = f" (its last run took {_duration(previous)})" if previous else ""
            line = f"{desc}: {tqdm.format_interval(elapsed)}{estimate}"
        self.bar.set_description_str(line, refresh=True)

    def finished_run(self, run: RunStart, record: RunRecord) -> None:
        from pytest_causal_eval.ab.orchestrate import done_line

        if self.ticker is not None:
            self.ticker.stop()
        with self._lock:
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            self.run = None
            self._print(done_line(run, record))
