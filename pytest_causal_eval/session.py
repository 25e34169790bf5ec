"""One run's state: measurements per test, their judging, and the end-of-run reports.

Registered as a plugin object only when ``--causal-eval`` is on. Under pytest-xdist every worker
measures its own tests and ships its measurements to the controller at the end, which merges them
and reports once.

At the end of the run every consumer of the results (the baseline gate, the reports, the profiles'
index) and the results JSON get their turn independently: one that fails is reported as a terminal
error line naming it and the reason, and the others still run.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any

import pytest

from pytest_causal_eval import __version__
from pytest_causal_eval.atomicio import write_json_atomic
from pytest_causal_eval.bench import InstructionCounting, TestMeasurements
from pytest_causal_eval.extra_keys import PASSED
from pytest_causal_eval.markers import ITEM_TIMER_KEY, item_markers, marker_kwargs
from pytest_causal_eval.measure.probes import Probe, ProbeFactory
from pytest_causal_eval.measure.runner import RunnerConfig
from pytest_causal_eval.measure.timer import PerfCounterTimer, Timer
from pytest_causal_eval.measure.workers import workers_of
from pytest_causal_eval.options import Settings
from pytest_causal_eval.results import Measurement, RunResults

__all__ = ["CausalEvalSession", "describe_error", "marker_kwargs"]

WORKER_OUTPUT_KEY = "causal_eval_measurements"


def describe_error(exc: BaseException) -> str:
    """One line for an error message: the OS's words for OS errors, else the exception's type and the
    first line of its text (never a traceback)."""
    if isinstance(exc, OSError) and exc.strerror:
        return str(exc)
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


class CausalEvalSession:
    """The registered plugin object of one enabled run."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.timer: Timer = PerfCounterTimer()
        self.stores: dict[str, TestMeasurements] = {}
        self.measurements: list[Measurement] = []
        self.environment: dict[str, Any] = {}
        self.results: RunResults | None = None
        self.workers = workers_of(config)
        self.is_worker = self.workers.is_worker
        self.probe_factories: list[ProbeFactory] = []
        self.errors: list[str] = []  # end-of-run failures, said in the terminal summary
        self.json_written = True
        self.instructions: InstructionCounting | None = None  # set in --causal-eval-mode=instructions

    # -- configuration -----------------------------------------------------------------------------
    def setup(self) -> None:
        custom = self.config.hook.pytest_causal_eval_timer(config=self.config)
        if custom is not None:
            self.timer = custom

    def timer_for(self, item: pytest.Item) -> Timer:
        """The clock for this test's measurements: a per-test one (CUDA events) or the session's."""
        timer: Timer | None = item.stash.get(ITEM_TIMER_KEY, None)
        if timer is None:
            timer = item_markers(item).timer
        return timer if timer is not None else self.timer

    def runner_config(self, item: pytest.Item) -> RunnerConfig:
        """The round schedule for this test: the session's options, overridden by its marker."""
        s = self.settings
        values: dict[str, Any] = {
            "min_time": s.min_time,
            "max_time": s.max_time,
            "min_rounds": s.min_rounds,
            "max_rounds": s.max_rounds,
            "warmup": s.warmup,
            "gc": "disabled" if s.disable_gc else "enabled",
        }
        values.update(item_markers(item).runner)
        return RunnerConfig(**values)

    def add_probe(self, factory: ProbeFactory) -> None:
        """Register a probe factory: called per measurement, may return None to skip it."""
        self.probe_factories.append(factory)

    @property
    def counts_instructions(self) -> bool:
        """--causal-eval-mode=instructions: measurements are counted under valgrind, not timed (the
        instruction feature sets ``instructions`` when it configures that mode)."""
        return self.instructions is not None

    def probes_for(self, item: pytest.Item, measurement: Measurement) -> list[Probe]:
        if self.counts_instructions:
            return []  # timing locks, CPU and I/O probes observe wall time, which is not measured
        probes = []
        for factory in self.probe_factories:
            probe = factory(item, measurement)
            if probe is not None:
                probes.append(probe)
        return probes

    def store_for(self, item: pytest.Item) -> TestMeasurements:
        store = self.stores.get(item.nodeid)
        if store is None:
            callspec = getattr(item, "callspec", None)
            params = {k: _param_text(v) for k, v in callspec.params.items()} if callspec else {}
            store = TestMeasurements(test_id=item.nodeid, params=params)
            self.stores[item.nodeid] = store
        return store

    def after_measure(self, item: pytest.Item, measurement: Measurement, workload: Callable[[], Any]) -> None:
        self.config.hook.pytest_causal_eval_after_measure(
            item=item, measurement=measurement, workload=workload
        )

    async def after_measure_async(
        self, item: pytest.Item, measurement: Measurement, workload: Callable[[], Awaitable[Any]]
    ) -> None:
        pending = self.config.hook.pytest_causal_eval_after_measure_async(
            item=item, measurement=measurement, workload=workload
        )
        for i, awaitable in enumerate(pending):
            try:
                await awaitable
            except BaseException:
                for rest in pending[i + 1 :]:  # not started: closed, not left "never awaited"
                    close = getattr(rest, "close", None)
                    if close is not None:
                        close()
                raise

    # -- hooks -------------------------------------------------------------------------------------
    def pytest_report_header(self, config: pytest.Config) -> str:
        s = self.settings
        parts = [
            f"min_time={_seconds(s.min_time)}",
            f"max_time={_seconds(s.max_time)}",
            f"min_rounds={s.min_rounds}",
            "warmup=auto" if s.warmup is None else f"warmup={_seconds(s.warmup)}",
            f"gc={'disabled' if s.disable_gc else 'enabled'}",
        ]
        if s.json_path is not None:
            parts.append(f"json={s.json_path}")
        return f"causal-eval {__version__}: " + ", ".join(parts)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        outcome = yield  # an exception from the test propagates; its measurements are marked failed
        store = self.stores.get(item.nodeid)
        if store is None or not store.by_name:
            return outcome
        failures: list[str] = []
        for measurement in store.by_name.values():
            for messages in self.config.hook.pytest_causal_eval_judge(item=item, measurement=measurement):
                failures.extend(messages or [])
        if failures:
            pytest.fail("\n".join(failures), pytrace=False)
        return outcome

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        store = self.stores.get(report.nodeid)
        if store is None:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            for m in store.by_name.values():
                PASSED.put(m, bool(report.passed))
        if report.when == "teardown":
            if not report.passed:
                for m in store.by_name.values():
                    PASSED.put(m, False)
            for m in store.by_name.values():
                if not PASSED.present(m):
                    PASSED.put(m, False)
                m.extra_info = dict(store.extra_info)
                self.measurements.append(m)
            del self.stores[report.nodeid]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: take the measurements a worker shipped."""
        output = getattr(node, "workeroutput", {}) or {}
        raw = output.get(WORKER_OUTPUT_KEY)
        if raw:
            for data in json.loads(raw):
                self.measurements.append(Measurement.from_dict(data))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            self.config.workeroutput[WORKER_OUTPUT_KEY] = json.dumps(  # type: ignore[attr-defined]
                [m.to_dict() for m in self.measurements]
            )
            return
        # The features describe the environment in their pytest_causal_eval_session_results (the
        # environment feature first: the machine, git, health and xdist).
        self.results = RunResults(
            measurements=sorted(self.measurements, key=lambda m: m.id),
            environment=self.environment,
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            tool_version=__version__,
        )
        self._announce_results(self.results)
        if self.errors:
            self.results.extra["errors"] = list(self.errors)  # the file says what is missing
        path = self.settings.json_path
        if path is not None:
            try:
                write_json_atomic(path, self.results.to_dict())
            except Exception as exc:
                self.errors.append(f"could not write the results to {path}: {describe_error(exc)}")
                self.json_written = False

    def _announce_results(self, results: RunResults) -> None:
        """``pytest_causal_eval_session_results`` to each implementation on its own: one that raises is
        reported and does not keep the next one (the reports after the gate, say) from running."""
        hook = self.config.hook.pytest_causal_eval_session_results
        impls = hook.get_hookimpls()
        if any(impl.hookwrapper or getattr(impl, "wrapper", False) for impl in impls):
            try:  # a wrapper needs the whole chain: call it as pluggy does
                hook(config=self.config, results=results)
            except Exception as exc:
                self.errors.append(f"the end of the run failed: {describe_error(exc)}")
            return
        arguments = {"config": self.config, "results": results}
        for impl in reversed(impls):  # pluggy's calling order
            try:
                impl.function(**{name: arguments[name] for name in impl.argnames})
            except Exception as exc:
                self.errors.append(f"{impl.plugin_name} failed at the end of the run: {describe_error(exc)}")

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if self.is_worker:
            return
        if self.results is not None and self.results.measurements:
            columns = shutil.get_terminal_size((80, 24)).columns
            terminalreporter.write_sep("-", "causal-eval")
            table = self.config.hook.pytest_causal_eval_summary_table(results=self.results, width=columns)
            for line in table or []:
                terminalreporter.write_line(line)
            for line in _budget_limited_lines(self.results.measurements):
                terminalreporter.write_line(line, yellow=True)
            if self.settings.json_path is not None and self.json_written:
                terminalreporter.write_line(f"results written to {self.settings.json_path}")
        elif self.errors:
            terminalreporter.write_sep("-", "causal-eval")
        for error in self.errors:
            terminalreporter.write_line(f"causal-eval: error: {error}", red=True)


def _budget_limited_lines(measurements: list[Measurement]) -> list[str]:
    """Measurements that spent their time budget in few rounds: their medians are less certain."""
    limited = [m for m in measurements if isinstance(m.extra.get("budget_limited"), Mapping)]
    if not limited:
        return []
    shown = ", ".join(
        f"{m.id} ({m.rounds} rounds in {m.extra['budget_limited']['max_time']:g}s)" for m in limited[:5]
    )
    more = f" and {len(limited) - 5} more" if len(limited) > 5 else ""
    return [
        f"causal-eval: {len(limited)} measurement(s) stopped at the time budget with few rounds: "
        f"{shown}{more}; "
        "ask for more with --causal-eval-min-rounds (or @pytest.mark.causal_eval(min_rounds=...)) or "
        "--causal-eval-max-time"
    ]


def _param_text(value: Any) -> str:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return str(value)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, default=str)
    return repr(value)


def _seconds(value: float) -> str:
    """A duration as the options take it: ``5us``, ``20ms``, ``1s``."""
    if 0 < value < 1e-3:
        return f"{value * 1e6:g}us"
    if 0 < value < 1:
        return f"{value * 1e3:g}ms"
    return f"{value:g}s"
