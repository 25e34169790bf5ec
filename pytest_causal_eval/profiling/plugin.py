"""The profiling plugin object: untimed profiling passes after a measurement, memory/leak limits, and the
explanation of a regression (hotspot and allocation-site diffs against the baseline, artifact paths).

Registered by ``feature.configure`` only when ``--causal-eval`` is on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import pytest_causal_eval
from pytest_causal_eval.atomicio import write_bytes_atomic, write_text_atomic
from pytest_causal_eval.extra_keys import PROFILE_ARTIFACTS
from pytest_causal_eval.measure.passes import LoopWorkload, Steps, drive, drive_async, drive_workload
from pytest_causal_eval.profiling.artifacts import ArtifactStore
from pytest_causal_eval.profiling.diff import hotspot_lines, site_lines
from pytest_causal_eval.profiling.hotspots import Hotspot
from pytest_causal_eval.profiling.limits import Limits, judge_limits, parse_limits
from pytest_causal_eval.profiling.settings import wants_cpu, wants_memory
from pytest_causal_eval.profiling.sites import AllocationSite
from pytest_causal_eval.profiling.tolerance import MEMORY_METRICS, memory_comparable
from pytest_causal_eval.results import Measurement, Metric, RunResults

__all__ = ["PLUGIN_NAME", "ProfilingPlugin"]

PLUGIN_NAME = "causal_eval_profiling"
Workload = Callable[[], Any]
AsyncWorkload = Callable[[], Awaitable[Any]]

_PACKAGE_DIR = Path(pytest_causal_eval.__file__).parent
# The harness that repeats the workload: its frames are not hotspots and allocate nothing of interest.
HARNESS_PREFIXES: tuple[str, ...] = (
    str(_PACKAGE_DIR / "profiling"),
    str(_PACKAGE_DIR / "bench.py"),
    str(_PACKAGE_DIR / "measure"),
)
TIME_UNITS = ("s", "items/s")


class ProfilingPlugin:
    def __init__(
        self,
        mode: str,
        on_regression: bool,
        store: ArtifactStore,
        roots: Sequence[str],
        marker_kwargs: Callable[[pytest.Item], Mapping[str, Any]],
    ) -> None:
        self.mode = mode
        self.on_regression = on_regression
        self.store = store
        self.roots = list(roots)
        self.marker_kwargs = marker_kwargs
        self.summary: list[str] = []

    # -- what a GPU trace needs (a method so tests can force CPU-only activities) --------------------
    def torch_activities(self) -> tuple[str, ...] | None:
        from pytest_causal_eval.profiling.gpu import cuda_trace_activities

        return cuda_trace_activities()

    # -- passes (see ``measure.passes``: written once, driven with a callable or inside the loop) ----
    def profile_cpu_into(self, measurement: Measurement, workload: Workload) -> None:
        drive(self.cpu_steps(measurement), workload)

    def cpu_steps(self, measurement: Measurement, *, in_loop: bool = False) -> Steps[None]:
        from pytest_causal_eval.profiling.cpu import cpu_steps, pyinstrument_missing

        missing = pyinstrument_missing()
        if missing is not None:
            _note(measurement, f"no CPU profile: {missing}")
            return
        try:
            prof = yield from cpu_steps(self.roots, HARNESS_PREFIXES, in_loop=in_loop)
        except Exception as exc:  # the workload failed outside the timed rounds: report, keep the numbers
            _note(measurement, f"CPU profiling pass failed: {type(exc).__name__}: {exc}")
            return
        measurement.extra["hotspots"] = [h.to_dict() for h in prof.hotspots]
        _profile_meta(measurement)["cpu"] = {
            "runs": prof.runs,
            "seconds": round(prof.seconds, 6),
            "interval": prof.interval,
            "samples": prof.samples,
        }
        self._write(measurement, "cpu_html", prof.html)
        self._write(measurement, "speedscope", prof.speedscope)
        activities = self.torch_activities()
        if activities:
            from pytest_causal_eval.profiling.gpu import torch_trace_steps

            try:
                trace = yield from torch_trace_steps(activities)
            except Exception as exc:
                _note(measurement, f"torch.profiler trace failed: {type(exc).__name__}: {exc}")
            else:
                self._write(measurement, "torch_trace", trace)

    def profile_memory_into(
        self, measurement: Measurement, workload: Workload, *, peak: bool = True, leak: bool = True
    ) -> None:
        drive(self.memory_steps(measurement, peak=peak, leak=leak), workload)

    def memory_steps(
        self, measurement: Measurement, *, peak: bool = True, leak: bool = True, in_loop: bool = False
    ) -> Steps[None]:
        memory: dict[str, Any] = measurement.extra.setdefault("memory", {})
        if peak:
            from pytest_causal_eval.profiling.memory import memory_steps

            try:
                prof = yield from memory_steps(self.roots, HARNESS_PREFIXES)
            except Exception as exc:
                _note(measurement, f"memory profiling pass failed: {type(exc).__name__}: {exc}")
            else:
                memory.update(backend=prof.backend, peak=prof.peak, sites=[s.to_dict() for s in prof.sites])
                measurement.add_metric(Metric("mem_peak", float(prof.peak), unit="B", better="lower"))
                if prof.allocations is not None:
                    memory["allocations"] = prof.allocations
                    measurement.add_metric(Metric("alloc_count", float(prof.allocations), better="lower"))
                if prof.note:
                    memory["note"] = prof.note
                if prof.flamegraph_html is not None:
                    self._write(measurement, "memory_flamegraph", prof.flamegraph_html)
        if leak:
            from pytest_causal_eval.profiling.leak import leak_steps

            try:
                found = yield from leak_steps(self.roots, HARNESS_PREFIXES, in_loop=in_loop)
            except Exception as exc:
                _note(measurement, f"leak check failed: {type(exc).__name__}: {exc}")
            else:
                memory["leak"] = {
                    "backend": "tracemalloc",
                    "per_iter": found.per_iteration,
                    "iterations": found.iterations,
                    "retained": found.retained,
                    "sites": [s.to_dict() for s in found.sites],
                    "other_threads_per_iter": found.other_threads_per_iteration,
                    "other_threads": found.other_threads,
                }
                if found.note:
                    memory["leak"]["note"] = found.note
                    _note(measurement, f"leak check: {found.note}")
                measurement.add_metric(
                    Metric("leak_per_iter", float(found.per_iteration), unit="B", better="lower")
                )
        if not memory:
            del measurement.extra["memory"]

    def _write(self, measurement: Measurement, kind: str, content: str | bytes) -> None:
        path = self.store.path(measurement.id, kind)
        try:
            if isinstance(content, bytes):
                write_bytes_atomic(path, content)
            else:
                write_text_atomic(path, content)
        except OSError as exc:
            _note(measurement, f"could not write the {kind} profile {path}: {exc}")
            return
        artifacts = PROFILE_ARTIFACTS.get(measurement) or {}
        artifacts[kind] = self.store.display(path)
        PROFILE_ARTIFACTS.put(measurement, artifacts)

    def _limits(self, item: pytest.Item) -> Limits:
        return parse_limits(self.marker_kwargs(item))

    # -- hooks ---------------------------------------------------------------------------------------
    def pytest_report_header(self, config: pytest.Config) -> str | None:
        if self.mode == "off":
            return None
        parts = []
        if wants_cpu(self.mode):
            parts.append("cpu (pyinstrument)")
        if wants_memory(self.mode):
            from pytest_causal_eval.profiling.memory import memray_unavailable

            reason = memray_unavailable()
            parts.append("memory (memray)" if reason is None else f"memory (tracemalloc: {reason})")
        where = self.store.display(self.store.directory)
        return f"causal-eval profiling: {', '.join(parts)}; profiles under {where}"

    def pytest_causal_eval_after_measure(
        self, item: pytest.Item, measurement: Measurement, workload: Workload
    ) -> None:
        problem = _run_passes(
            lambda in_loop: self._after_measure_steps(item, measurement, in_loop=in_loop), workload
        )
        if problem is not None:
            _note(measurement, f"no profile: {problem}")

    def pytest_causal_eval_after_measure_async(
        self, item: pytest.Item, measurement: Measurement, workload: AsyncWorkload
    ) -> Awaitable[None]:
        """The same passes for ``causal_bench.aio``, awaited in the test's running event loop."""
        return drive_async(self._after_measure_steps(item, measurement, in_loop=True), workload)

    def _after_measure_steps(
        self, item: pytest.Item, measurement: Measurement, *, in_loop: bool
    ) -> Steps[None]:
        problem: str | None = None
        limits = Limits()
        try:
            limits = self._limits(item)
        except ValueError as exc:
            problem = str(exc)
        if problem is not None:  # outside the except block: no "during handling" chain in the report
            pytest.fail(problem, pytrace=False)
        if wants_cpu(self.mode):
            yield from self.cpu_steps(measurement, in_loop=in_loop)
        memory = wants_memory(self.mode)
        peak = memory or limits.memory is not None
        leak = memory or limits.leak is not None
        if peak or leak:
            yield from self.memory_steps(measurement, peak=peak, leak=leak, in_loop=in_loop)

    def pytest_causal_eval_judge(self, item: pytest.Item, measurement: Measurement) -> list[str] | None:
        try:
            limits = self._limits(item)
        except ValueError as exc:
            return [str(exc)]
        memory = measurement.extra.get("memory")
        notes = measurement.extra.get("profile_notes") or []
        if limits.any and not memory and notes:
            return [f"{measurement.id}: memory_limit/leak_limit could not be checked: {'; '.join(notes)}"]
        messages = judge_limits(limits, memory, measurement.id)
        if messages:
            messages.extend(self._artifact_lines(measurement))
        return messages or None

    def pytest_causal_eval_explain(
        self,
        item: pytest.Item,
        measurement: Measurement,
        baseline: Measurement | None,
        workload: Workload | None,
        metric: str,
    ) -> list[str] | None:
        if metric in MEMORY_METRICS:
            lines = self._explain_memory(measurement, baseline, workload, metric)
        else:
            known = measurement.metrics.get(metric)
            if known is not None and known.unit not in TIME_UNITS:
                return None  # a quality metric (accuracy, ...): a profile does not explain it
            lines = self._explain_time(measurement, baseline, workload)
        lines.extend(self._artifact_lines(measurement))
        return lines or None

    def _explain_time(
        self, measurement: Measurement, baseline: Measurement | None, workload: Workload | None
    ) -> list[str]:
        if "hotspots" not in measurement.extra:
            if not self.on_regression:
                return ["no CPU profile (run with --causal-eval-profile=cpu to see the hotspots)"]
            if workload is None:
                return ["no CPU profile: this measurement has no re-runnable workload"]
            problem = _run_passes(lambda in_loop: self.cpu_steps(measurement, in_loop=in_loop), workload)
            if problem is not None:
                _note(measurement, f"no CPU profile: {problem}")
            if "hotspots" not in measurement.extra:
                return list(measurement.extra.get("profile_notes", []))
        current = _hotspots(measurement.extra.get("hotspots"))
        before = _hotspots(baseline.extra.get("hotspots")) if baseline is not None else None
        return hotspot_lines(current, before or None, times=_medians(baseline, measurement))

    def _explain_memory(
        self, measurement: Measurement, baseline: Measurement | None, workload: Workload | None, metric: str
    ) -> list[str]:
        is_leak = metric == "leak_per_iter"
        memory = measurement.extra.get("memory") or {}
        have = ("leak" in memory) if is_leak else ("sites" in memory)
        if not have:
            if not self.on_regression:
                return ["no memory profile (run with --causal-eval-profile=memory to see allocation sites)"]
            if workload is None:
                return ["no memory profile: this measurement has no re-runnable workload"]
            problem = _run_passes(
                lambda in_loop: self.memory_steps(
                    measurement, peak=not is_leak, leak=is_leak, in_loop=in_loop
                ),
                workload,
            )
            if problem is not None:
                return [f"no memory profile: {problem}"]
            memory = measurement.extra.get("memory") or {}
        base_memory = (baseline.extra.get("memory") or {}) if baseline is not None else {}
        lines: list[str] = []
        if is_leak:
            current = _sites((memory.get("leak") or {}).get("sites"))
            before = _sites((base_memory.get("leak") or {}).get("sites"))
            lines += site_lines(current, before or None, what="sites that kept memory across calls")
        else:
            if base_memory.get("backend") and not memory_comparable(
                memory.get("backend"), base_memory.get("backend")
            ):
                lines.append(
                    f"note: the baseline's memory was measured with {base_memory.get('backend')}, this run's "
                    f"with {memory.get('backend')}; sizes are not comparable"
                )
            current = _sites(memory.get("sites"))
            before = _sites(base_memory.get("sites"))
            lines += site_lines(current, before or None)
        if memory.get("note"):
            lines.append(f"note: {memory['note']}")
        return lines

    def _artifact_lines(self, measurement: Measurement) -> list[str]:
        artifacts = measurement.extra.get("profile_artifacts") or {}
        if not artifacts:
            return []
        return ["profiles:"] + [f"  {kind}: {path}" for kind, path in sorted(artifacts.items())]

    def pytest_causal_eval_session_results(self, config: pytest.Config, results: RunResults) -> None:
        artifacts = [
            (m.id, dict(m.extra.get("profile_artifacts") or {}))
            for m in results.measurements
            if m.extra.get("profile_artifacts")
        ]
        notes = sorted(
            {
                str((m.extra.get("memory") or {}).get("note"))
                for m in results.measurements
                if (m.extra.get("memory") or {}).get("note")
            }
        )
        problems = [(m.id, n) for m in results.measurements for n in m.extra.get("profile_notes", [])]
        try:
            index = self.store.write_index(artifacts)
        except OSError as exc:
            self.summary.append(f"could not write the profile index under {self.store.directory}: {exc}")
            index = None
        if index is not None:
            shown = self.store.display(index)
            results.extra["profile_index"] = shown
            count = sum(len(kinds) for _, kinds in artifacts)
            self.summary.append(
                f"{count} profile artifact(s) in {self.store.display(self.store.directory)} (index: {shown})"
            )
        for note in notes:
            self.summary.append(f"warning: {note}")
        for mid, note in problems:
            self.summary.append(f"warning: {mid}: {note}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.summary:
            return
        terminalreporter.write_sep("-", "causal-eval profiles")
        for line in self.summary:
            terminalreporter.write_line(line)


def _run_passes(steps: Callable[[bool], Steps[None]], workload: Workload) -> str | None:
    """Drive a pass with a kept workload (``measure.passes.drive_workload``: an async one inside its
    event loop, as its measurement was). Returns why it could not run (the test's loop is busy),
    else None."""
    if isinstance(workload, LoopWorkload):
        problem = workload.unavailable()
        if problem is not None:
            return problem
    drive_workload(steps, workload)
    return None


def _note(measurement: Measurement, text: str) -> None:
    notes: list[str] = measurement.extra.setdefault("profile_notes", [])
    if text not in notes:
        notes.append(text)


def _profile_meta(measurement: Measurement) -> dict[str, Any]:
    meta: dict[str, Any] = measurement.extra.setdefault("profile", {})
    return meta


def _medians(baseline: Measurement | None, measurement: Measurement) -> tuple[float, float]:
    """The baseline's and this run's median time per call (0.0 where unknown)."""
    before = baseline.stats.median if baseline is not None and baseline.stats is not None else 0.0
    after = measurement.stats.median if measurement.stats is not None else 0.0
    return before, after


def _hotspots(raw: Any) -> list[Hotspot]:
    if not isinstance(raw, list):
        return []
    return [Hotspot.from_dict(h) for h in raw if isinstance(h, Mapping)]


def _sites(raw: Any) -> list[AllocationSite]:
    if not isinstance(raw, list):
        return []
    return [AllocationSite.from_dict(s) for s in raw if isinstance(s, Mapping)]
