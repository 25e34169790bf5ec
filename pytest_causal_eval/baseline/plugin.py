"""The gate's plugin object: judge each measurement at the end of its test, save once on the
controller, and report verdicts (terminal, exit status; the Markdown verdicts are written by the
report feature from the verdicts recorded here). An inconclusive time comparison is measured again
first (``remeasure``).

A gate that is off must not look green. *Faults* (the baseline file cannot be read or is of a newer
schema, an entry holds a bad number, the save failed or was interrupted) are errors; *warnings*
(no baseline of this machine, only other machines'; a file recorded on another machine) are not
faults: a new runner type is normal. Both are said in the header and again at the top of the
verdict summary. Faults fail the session under CI (``CI=true``) or ``--causal-eval-strict``;
warnings under ``--causal-eval-strict`` only.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_causal_eval import __version__
from pytest_causal_eval.baseline.code_identity import code_identity
from pytest_causal_eval.baseline.confirm import confirm_regression, fastest_for_save
from pytest_causal_eval.baseline.gate import GateConfig, build_verdict, format_comparison, judge
from pytest_causal_eval.baseline.load import (
    busy_summary_line,
    foreign_share,
    judge_under_load,
    saved_under_load_note,
    share_range,
)
from pytest_causal_eval.baseline.remeasure import remeasure_if_busy, remeasure_if_undecided
from pytest_causal_eval.baseline.schema import (
    block_session,
    entry_from_measurement,
    entry_problem,
    gpu_identity,
    measurement_from_entry,
)
from pytest_causal_eval.baseline.settings import BaselineSettings
from pytest_causal_eval.baseline.store import (
    BaselineFile,
    BaselineFileError,
    BaselineStore,
    MachineMismatchError,
    SaveOutcome,
    TooNewError,
)
from pytest_causal_eval.environment.fingerprint import (
    Fingerprint,
    describe_differences,
    fingerprint_from_environment,
    hard_differences,
    live_environment,
    soft_differences,
)
from pytest_causal_eval.environment.settings import EnvironmentSettings
from pytest_causal_eval.extra_keys import (
    EXPLANATION,
    GPU,
    HEALTH,
    NOISE,
    PASSED,
    PROFILE_ARTIFACTS,
    REMEASURED_UNDER_LOAD,
    THRESHOLDS,
    VERDICT,
)
from pytest_causal_eval.markers import item_markers
from pytest_causal_eval.measure.load import limit_text
from pytest_causal_eval.results import Measurement, RunResults, Verdict
from pytest_causal_eval.session import CausalEvalSession
from pytest_causal_eval.stats.compare import Comparison, Threshold
from pytest_causal_eval.stats.noise import noise_profile

__all__ = ["BaselineGate", "in_ci"]

FORCE_FLAG = "--causal-eval-force-save"


def in_ci() -> bool:
    """True under a CI service (``CI=true``, as GitHub Actions, GitLab CI and most others set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class BaselineGate:
    """Registered as ``causal_eval_baseline`` when the plugin is enabled."""

    def __init__(self, config: pytest.Config, session: CausalEvalSession) -> None:
        self.config = config
        self.session = session
        settings = BaselineSettings.of(session.settings)
        self.store = BaselineStore(Path(settings.baselines or config.rootpath / "baselines"))
        self.save = settings.save
        self.force_save = settings.force_save
        self.strict = settings.strict
        self.extra_passes = settings.remeasure
        self.busy_passes = settings.remeasure_busy
        self.confirm_passes = settings.confirm
        self.threshold: Threshold = settings.threshold
        self.chosen_key = settings.machine
        self.max_foreign_load = EnvironmentSettings.of(session.settings).max_foreign_load
        self.fingerprint: Fingerprint = fingerprint_from_environment(live_environment(session.environment))
        self.key = self.chosen_key or self.fingerprint.key
        self.baseline: BaselineFile | None = None
        self.errors: list[str] = []  # faults: fail the session under CI or --causal-eval-strict
        self.warnings: list[str] = []  # another machine's baseline: fail it under --causal-eval-strict
        self.notes: list[str] = []
        self.saved: str | None = None
        self.pytest_session: pytest.Session | None = None
        self.rows_lines: list[str] = []
        self.busy_line = ""  # time regressions left inconclusive because the machine was busy
        self._load()

    # -- loading -----------------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            loaded = self.store.load(self.key)
        except TooNewError as exc:
            self.errors.append(f"{exc}; comparing without it (it is left untouched)")
            return
        except BaselineFileError as exc:
            self.errors.append(
                f"{exc}; comparing without it"
                + ("" if self.save else " (it is left untouched; --causal-eval-save replaces it)")
            )
            return
        if loaded is None:
            others = [k for k in list(self.store.keys()) if k != self.key]
            if others and not self.save:
                self.warnings.append(
                    f"no baseline for this machine (key {self.key}) in {self.store.directory}: nothing was "
                    f"compared; baselines exist for {', '.join(others)}"
                    + self._describe_other(others[0])
                    + f" (--causal-eval-machine {others[0]} compares against it anyway)"
                )
            return
        theirs = Fingerprint.from_dict(loaded.machine)
        hard = hard_differences(self.fingerprint, theirs)
        if hard and not self.save:
            if self.chosen_key is None:
                self.warnings.append(
                    f"refusing to compare with {loaded.path}: it was recorded on a different machine "
                    f"({describe_differences(hard)}); pass --causal-eval-machine {loaded.key} to compare "
                    "anyway"
                )
                return
            self.notes.append(f"comparing across machines by request: {describe_differences(hard)}")
        soft = soft_differences(self.fingerprint, theirs)
        if soft and not self.save:
            self.notes.append(
                f"machine differs in soft keys (results may shift): {describe_differences(soft)}"
            )
        if loaded.quarantined and not self.save:
            self.errors.extend(_quarantine_errors(loaded.path, loaded.quarantined, "not used for gating"))
        self.baseline = loaded

    def _describe_other(self, key: str) -> str:
        try:
            other = self.store.load(key)
        except BaselineFileError:
            return ""
        if other is None:
            return ""
        diffs = hard_differences(self.fingerprint, Fingerprint.from_dict(other.machine))
        return f" (differs in {describe_differences(diffs)})" if diffs else ""

    # -- per test ----------------------------------------------------------------------------------
    def _gate_config(self, item: pytest.Item) -> GateConfig:
        """The test's thresholds: its marker's (parsed at collection), else the session's."""
        markers = item_markers(item)
        threshold: Threshold = markers.get("threshold", self.threshold)
        per_metric: dict[str, Threshold] = dict(markers.get("metric_thresholds", {}))
        return GateConfig(threshold=threshold, per_metric=per_metric, max_foreign_load=self.max_foreign_load)

    def pytest_causal_eval_judge(self, item: pytest.Item, measurement: Measurement) -> list[str] | None:
        config = self._gate_config(item)
        thresholds = {"default": str(config.threshold), **{k: str(v) for k, v in config.per_metric.items()}}
        THRESHOLDS.put(measurement, thresholds)
        if self.save:
            fastest_for_save(self.session, item, measurement, self.confirm_passes, self.max_foreign_load)
        if self.save or self.baseline is None:
            self._record_noise(measurement)
            if not self.save and self.baseline is None and not self.errors:
                VERDICT.put(measurement, build_verdict(measurement, [], None))
            return None
        if measurement.id in self.baseline.quarantined:
            self._record_noise(measurement)
            problem = self.baseline.quarantined[measurement.id]
            message = f"not compared: its baseline entry holds a bad number ({problem})"
            record = replace(build_verdict(measurement, [], self.baseline.key), message=message)
            VERDICT.put(measurement, record)
            return None
        entry = self.baseline.measurements.get(measurement.id)
        refused = _gpu_mismatch(measurement, entry)
        if refused:
            self._record_noise(measurement)
            message = f"not compared: the baseline was measured on another GPU ({refused})"
            record = replace(build_verdict(measurement, [], self.baseline.key), message=message)
            VERDICT.put(measurement, record)
            self.notes.append(f"{measurement.id}: {message}")
            return None
        comparisons = judge(measurement, entry, config)
        comparisons = remeasure_if_undecided(
            self.session, item, measurement, entry, config, comparisons, self.extra_passes
        )
        comparisons = judge_under_load(comparisons, measurement.extra.get("load"), self.max_foreign_load)
        comparisons = remeasure_if_busy(
            self.session, item, measurement, entry, config, comparisons, self.extra_passes, self.busy_passes
        )
        comparisons = confirm_regression(
            self.session,
            item,
            measurement,
            entry,
            config,
            comparisons,
            self.confirm_passes,
            self.extra_passes,
        )
        self._record_noise(measurement)
        record = build_verdict(measurement, comparisons, self.baseline.key, has_baseline=entry is not None)
        VERDICT.put(measurement, record)
        failures: list[str] = []
        regressed = [c for c in comparisons if c.verdict == "regressed"]
        if regressed:
            # the numbers first: pytest's short summary shows this line cut to the terminal width
            first = format_comparison(regressed[0], _unit(measurement, regressed[0]))
            named = "" if measurement.id == item.nodeid else f" {measurement.id}"
            failures.append(f"{first} [causal-eval: regressed{named}]")
            failures.extend("  " + format_comparison(c, _unit(measurement, c)) for c in regressed[1:])
            if _noisy(measurement):
                failures.append("  (the machine was noisy during this measurement)")
            afresh = _afresh(measurement)
            if afresh:
                failures.append(f"  ({afresh})")
            for comparison in regressed:
                failures.extend(self._explain(item, measurement, entry, comparison.metric))
        elif record.verdict == "inconclusive" and self.strict:
            failures.append(f"causal-eval: {measurement.id} inconclusive (--causal-eval-strict)")
            failures.extend(
                "  " + format_comparison(c, _unit(measurement, c))
                for c in comparisons
                if c.verdict == "inconclusive"
            )
        return failures or None

    def _record_noise(self, measurement: Measurement) -> None:
        if measurement.samples:
            NOISE.put(measurement, noise_profile(measurement.samples))

    def _explain(
        self, item: pytest.Item, measurement: Measurement, entry: Mapping[str, Any] | None, metric: str
    ) -> list[str]:
        """Ask the explainers about one regressed quantity, ``metric``."""
        store = self.session.stores.get(item.nodeid)
        workload = store.workloads.get(measurement.name) if store is not None else None
        baseline = measurement_from_entry(measurement.id, entry) if entry is not None else None
        lines: list[str] = []
        try:
            results = self.config.hook.pytest_causal_eval_explain(
                item=item, measurement=measurement, baseline=baseline, workload=workload, metric=metric
            )
        except Exception as exc:  # an explainer's bug must not hide the regression itself
            return [f"  (explaining the regression failed: {type(exc).__name__}: {exc})"]
        for result in results:
            lines.extend(str(line) for line in result or [])
        kept = _without_artifact_paths(lines)
        if kept:  # for the HTML report and the Markdown, which show why beside the verdict (and link
            # the profiles themselves: a local path means nothing in a PR comment)
            explanation = EXPLANATION.get(measurement) or {}
            explanation[metric] = [line.strip("\n") for line in kept]
            EXPLANATION.put(measurement, explanation)
        return lines

    # -- session end (controller) ------------------------------------------------------------------
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.pytest_session = session

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = []
        if self.baseline is not None:
            lines.append(
                f"causal-eval baseline: {self.baseline.path} "
                f"({len(self.baseline.measurements)} measurements, threshold {self.threshold})"
            )
        elif self.save:
            lines.append(f"causal-eval baseline: saving to {self.store.path_for(self.key)}")
        lines.extend(f"causal-eval: error: {e}" for e in self.errors)
        lines.extend(f"causal-eval: warning: {w}" for w in self.warnings)
        return lines

    def pytest_causal_eval_baseline_entries(
        self, config: pytest.Config
    ) -> tuple[Mapping[str, Mapping[str, Any]], Path] | None:
        if self.baseline is None:
            return None
        return self.baseline.measurements, self.baseline.path

    def pytest_causal_eval_session_results(self, config: pytest.Config, results: RunResults) -> None:
        results.extra["machine"] = {**self.fingerprint.to_dict(), "key": self.key}
        results.extra["baseline"] = {
            "file": str(self.baseline.path) if self.baseline else None,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            # the load rule's limit, so that `causal-eval compare` and `ab` judge this run by it
            "max_foreign_load": limit_text(self.max_foreign_load),
            "inconclusive": sorted(
                m.id
                for m in results.measurements
                if (v := Verdict.from_dict(m.extra.get("verdict"))) is not None
                and v.verdict == "inconclusive"
            ),
        }
        if self.save:
            session = self.pytest_session
            if session is not None and session.exitstatus == pytest.ExitCode.INTERRUPTED:
                self.notes.append("the run was interrupted: the baseline was not saved (it is unchanged)")
            else:
                self._save(results)
            results.extra["baseline"]["errors"] = list(self.errors)
            results.extra["baseline"]["notes"] = list(self.notes)
        self._report(results)

    def _save(self, results: RunResults) -> None:
        path = self.store.path_for(self.key)
        before = _identity(path)
        try:
            self._save_entries(results)
        except KeyboardInterrupt:
            done = _identity(path) != before
            self.errors.append(
                "the save was interrupted (Ctrl-C): "
                + (f"{path} was written before the interrupt" if done else f"{path} is unchanged")
            )
            if self.pytest_session is not None:
                self.pytest_session.exitstatus = pytest.ExitCode.INTERRUPTED

    def _save_entries(self, results: RunResults) -> None:
        now = _now()
        code = code_identity(self.config.rootpath, self.store.directory)
        entries: dict[str, dict[str, Any]] = {}
        for m in results.measurements:
            if PASSED.get(m) is not True:
                continue
            entry = entry_from_measurement(m, now, __version__)
            time_block = entry.get("time")
            if isinstance(time_block, dict):
                share = foreign_share(m.extra.get("load"))
                time_block["sessions"] = [block_session(time_block, code, now, share)]
            problem = entry_problem(entry)
            if problem is not None:
                self.errors.append(f"{m.id}: not saved: {problem}")
                continue
            entries[m.id] = entry
        skipped = sum(1 for m in results.measurements if PASSED.get(m) is not True)
        machine = {**self.fingerprint.to_dict(), "key": self.key}
        target = self.store.path_for(self.key)
        try:
            outcome = self.store.save_entries(self.key, machine, entries, force=self.force_save)
        except MachineMismatchError as exc:
            self.errors.append(
                f"could not save the baseline: {exc}; pass {FORCE_FLAG} to save anyway (the file then "
                "takes this machine's fingerprint; its other entries are kept)"
            )
            return
        except TooNewError as exc:
            self.errors.append(f"could not save the baseline: {exc}; nothing was changed")
            return
        except Exception as exc:  # a lock timeout, permissions, a full disk: say so, lose nothing
            detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            self.errors.append(f"could not save the baseline to {target}: {detail}")
            return
        self._saved(outcome, len(entries), skipped, set(entries))
        note = saved_under_load_note(
            [m for m in results.measurements if m.id in entries], self.max_foreign_load
        )
        if note:
            self.notes.append(note)
        self._keep_profiles(results, entries)

    def _keep_profiles(self, results: RunResults, entries: Mapping[str, Mapping[str, Any]]) -> None:
        """Keep the saved measurements' profiles: a later regression links them beside its own."""
        from pytest_causal_eval.profiling.artifacts import keep_baseline_profiles

        saved = {
            m.id: (str(entries[m.id].get("last_seen")), artifacts)
            for m in results.measurements
            if m.id in entries and (artifacts := PROFILE_ARTIFACTS.get(m)) is not None
        }
        if not saved:
            return
        report_dir = self.session.settings.report_dir
        try:
            copied = keep_baseline_profiles(report_dir, self.key, saved)
        except OSError as exc:
            self.errors.append(f"could not keep the baseline's profiles under {report_dir}: {exc}")
            return
        if copied:
            where = report_dir / "profiles" / "baseline" / self.key
            self.notes.append(f"kept {copied} profile(s) of this baseline in {where}")

    def _saved(self, outcome: SaveOutcome, count: int, skipped: int, written: set[str]) -> None:
        self.saved = f"baseline saved: {count} measurement(s) to {outcome.path}"
        if skipped:
            self.saved += f" ({skipped} failing measurement(s) not saved)"
        if outcome.moved is not None:
            self.notes.append(f"the unreadable baseline file was kept as {outcome.moved}")
        if outcome.stale_temporaries:
            self.notes.append(
                f"removed {len(outcome.stale_temporaries)} temporary file(s) an interrupted save left in "
                f"{outcome.path.parent}"
            )
        if outcome.replaced_machine:
            self.notes.append(
                f"{FORCE_FLAG}: {outcome.path} now holds this machine's fingerprint (it had "
                f"{describe_differences(outcome.replaced_machine)}, stored vs this machine)"
            )
        replaced = len(written & set(self.baseline.quarantined)) if self.baseline else 0
        if replaced:
            entries = "entry that" if replaced == 1 else "entries that"
            self.notes.append(f"replaced {replaced} baseline {entries} held a bad number")
        left = {k: v for k, v in outcome.quarantined.items() if k not in written}
        if left:
            self.errors.extend(_quarantine_errors(outcome.path, left, "kept as it is, not used for gating"))

    def _report(self, results: RunResults) -> None:
        from pytest_causal_eval.report.attention import machine_note
        from pytest_causal_eval.report.verdicts import render_summary, verdict_rows

        rows = verdict_rows(results.measurements)
        columns = shutil.get_terminal_size((80, 24)).columns
        health = results.environment.get("health")
        machine = machine_note(results.measurements, health if isinstance(health, Mapping) else None)
        self.rows_lines = render_summary(rows, width=columns, machine=machine)
        self.busy_line = busy_summary_line(results.measurements, self.strict)
        afresh = [m for m in results.measurements if REMEASURED_UNDER_LOAD.get(m) is not None]
        if afresh:
            still = [m for m in afresh if (v := VERDICT.get(m)) is not None and v.verdict == "inconclusive"]
            self.notes.append(
                f"{len(afresh)} time regression(s) measured under foreign load were measured afresh "
                f"(--causal-eval-remeasure-busy): {len(afresh) - len(still)} decided on the new pass, "
                f"{len(still)} still under load"
            )
        session = self.pytest_session
        if session is None or session.exitstatus != 0:
            return
        if any(r.verdict == "regressed" for r in rows) or self._failing_reason():
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _failing_reason(self) -> str:
        """Why the gate's problems fail the session ('' when they do not)."""
        if self.errors and (self.strict or in_ci()):
            return (
                "the baseline gate did not run as asked ("
                + ("--causal-eval-strict" if self.strict else "CI=true")
                + "): the session fails"
            )
        if self.warnings and self.strict:
            return "no baseline of this machine was compared (--causal-eval-strict): the session fails"
        return ""

    # first of the plugin's sections: what decides (or could not decide) the run is said at the top,
    # before the report paths and the measurement table
    @pytest.hookimpl(tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if self.session.is_worker:
            return
        lines = [*self.rows_lines]
        lines.extend(f"note: {n}" for n in self.notes)
        if self.saved:
            lines.append(self.saved)
        if not lines and not self.errors and not self.warnings:
            return
        terminalreporter.write_sep("-", "causal-eval verdicts")
        # what switched the gate (partly) off comes first: it must not scroll past unnoticed
        for error in self.errors:
            terminalreporter.write_line(f"causal-eval: error: {error}", red=True)
        for warning in self.warnings:
            terminalreporter.write_line(f"causal-eval: warning: {warning}", yellow=True)
        reason = self._failing_reason()
        if reason:
            terminalreporter.write_line(f"causal-eval: {reason}", red=True)
        if self.busy_line:  # before the table: these verdicts say nothing about the code
            terminalreporter.write_line(self.busy_line, yellow=True)
        for line in lines:
            terminalreporter.write_line(line)


def _without_artifact_paths(lines: Sequence[str]) -> list[str]:
    """The explanation without its ``profiles:`` block (file paths on this machine)."""
    out: list[str] = []
    skipping = False
    for line in lines:
        if line.strip() == "profiles:":
            skipping = True
            continue
        if skipping and line.startswith(" "):
            continue
        skipping = False
        out.append(line)
    return out


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` is now (inode, modification time), None when there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _quarantine_errors(path: Path, quarantined: Mapping[str, str], consequence: str) -> list[str]:
    return [
        f"baseline file {path}: measurement {mid!r}: {problem}; {consequence}"
        for mid, problem in sorted(quarantined.items())
    ]


def _unit(measurement: Measurement, c: Comparison) -> str:
    metric = measurement.metrics.get(c.metric)
    return metric.unit if metric is not None else "s"


def _gpu_mismatch(measurement: Measurement, entry: Mapping[str, Any] | None) -> str:
    """The GPU hard keys that differ between a measurement and its baseline entry ('' if none)."""
    if entry is None:
        return ""
    ours, theirs = gpu_identity(GPU.get(measurement)), entry.get("gpu") or {}
    diffs = {k: (theirs[k], ours[k]) for k in ours if k in theirs and theirs[k] != ours[k]}
    return describe_differences(diffs)


def _afresh(measurement: Measurement) -> str:
    """'measured afresh: the first pass ran while other processes used 48% of the CPUs' ('' when
    the measurement was not re-measured for foreign load)."""
    record = REMEASURED_UNDER_LOAD.get(measurement)
    if record is None:
        return ""
    shares = [s for s in record.get("foreign_shares") or [] if isinstance(s, (int, float))]
    seen = f"used {share_range(shares)} of the CPUs" if shares else "were busy"
    passes = int(record.get("passes") or len(shares))
    earlier = "the first pass" if passes == 1 else f"the first {passes} passes"
    return f"measured afresh: {earlier} ran while other processes {seen}"


def _noisy(measurement: Measurement) -> bool:
    health = HEALTH.get(measurement)
    return health is not None and health.noisy
