"""The report plugin object: at session end (controller only) it appends the run to the history,
writes the HTML report, the Markdown verdicts and the Prometheus file, and says what it wrote.

Each output is written on its own: a failure to write one of them (a full disk, a directory that
cannot be written, a number the renderer cannot draw) is a terminal error line naming that output and
the reason, never a traceback or a failed run, and the other outputs are still written.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_causal_eval.report.settings import ReportSettings
from pytest_causal_eval.results import RunResults
from pytest_causal_eval.session import CausalEvalSession, describe_error

__all__ = ["ReportPlugin"]


class ReportPlugin:
    """Registered as ``causal_eval_report`` when the plugin is enabled."""

    def __init__(self, config: pytest.Config, session: CausalEvalSession) -> None:
        self.config = config
        self.session = session
        settings = ReportSettings.of(session.settings)
        self.history_path = settings.history
        self.html_dir: Path | None = session.settings.report_dir if session.settings.html_report else None
        self.markdown_path = settings.markdown
        self.prometheus_path = settings.prometheus
        self.lines: list[str] = []
        self.errors: list[str] = []

    # -- inputs from other features ---------------------------------------------------------------
    def _gate_messages(self, results: RunResults) -> tuple[list[str], list[str]]:
        """The gate's errors, and its warnings (no baseline for this machine, ...) and notes, as it
        recorded them in the results."""
        block = results.extra.get("baseline")
        if isinstance(block, Mapping):
            return [str(e) for e in block.get("errors") or []], [
                *(f"warning: {w}" for w in block.get("warnings") or []),
                *(str(n) for n in block.get("notes") or []),
            ]
        return [], []

    def _baseline(self) -> tuple[dict[str, dict[str, Any]], str]:
        """The entries of the baseline the gate compared with, and its file (the gate answers)."""
        answer = self.config.hook.pytest_causal_eval_baseline_entries(config=self.config)
        if answer is None:
            return {}, ""
        entries, path = answer
        return {k: dict(v) for k, v in entries.items()}, str(path)

    # -- session end ------------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_causal_eval_session_results(self, config: pytest.Config, results: RunResults) -> None:
        if self.session.is_worker:
            return
        writers: list[tuple[Callable[[RunResults], None], Callable[[], str]]] = [
            (self._append_history, lambda: f"record the run in the history database {self.history_path}"),
            (self._write_html, lambda: f"write the HTML report under {self.html_dir}"),
            (self._write_markdown, lambda: "write the Markdown verdicts"),
            (self._write_prometheus, lambda: f"write Prometheus metrics to {self.prometheus_path}"),
        ]
        for write, what in writers:
            try:
                write(results)
            except Exception as exc:  # one output's failure must not cost the others
                self.errors.append(f"could not {what()}: {describe_error(exc)}")

    def _append_history(self, results: RunResults) -> None:
        if self.history_path is None or not results.measurements:
            return
        from pytest_causal_eval.history.records import run_record
        from pytest_causal_eval.history.store import HistoryError, HistoryStore

        try:
            run_id, moved = HistoryStore(self.history_path).append(run_record(results))
        except HistoryError as exc:
            self.errors.append(str(exc))
            return
        except (OSError, sqlite3.Error) as exc:
            self.errors.append(f"could not record the run in {self.history_path}: {exc}")
            return
        results.extra["history"] = {"database": str(self.history_path), "run_id": run_id}
        if moved is not None:
            self.errors.append(
                f"history database {self.history_path} was unreadable; moved it to {moved} "
                "and started a fresh one"
            )

    def _write_html(self, results: RunResults) -> None:
        if self.html_dir is None or not results.measurements:
            return
        from pytest_causal_eval.report.output import write_html_report

        errors, notes = self._gate_messages(results)
        entries, baseline_file = self._baseline()
        try:
            path = write_html_report(
                results,
                self.html_dir,
                baseline_entries=entries,
                baseline_file=baseline_file,
                history_path=self.history_path,
                notes=notes,
                errors=errors,
            )
        except OSError as exc:
            self.errors.append(f"could not write the HTML report under {self.html_dir}: {exc}")
            return
        results.extra["html_report"] = str(path)
        self.lines.append(f"HTML report: {path}")

    def _write_markdown(self, results: RunResults) -> None:
        targets: list[tuple[Path, bool]] = []
        if self.markdown_path is not None:
            targets.append((self.markdown_path, False))
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            targets.append((Path(step_summary), True))
        if not targets:
            return
        from pytest_causal_eval.report.attention import machine_note
        from pytest_causal_eval.report.markdown import render_markdown
        from pytest_causal_eval.report.output import (
            explanations,
            github_run_url,
            markdown_links,
            write_markdown,
        )
        from pytest_causal_eval.report.verdicts import verdict_rows

        rows = verdict_rows(results.measurements)
        errors, notes = self._gate_messages(results)
        run_url = github_run_url(os.environ)
        health = results.environment.get("health")
        links, artifacts = markdown_links(results, run_url)
        featured = {r.id for r in rows if r.verdict in ("regressed", "inconclusive", "improved")}
        text = render_markdown(
            rows,
            notes=[*errors, *notes],
            links={k: v for k, v in links.items() if k in featured},
            artifacts=artifacts,
            machine=machine_note(results.measurements, health if isinstance(health, Mapping) else None),
            explanations=explanations(results),
        )
        for path, append in targets:
            try:
                write_markdown(path, text, append)
            except Exception as exc:
                self.errors.append(f"could not write Markdown to {path}: {describe_error(exc)}")

    def _write_prometheus(self, results: RunResults) -> None:
        if self.prometheus_path is None:
            return
        from pytest_causal_eval.report.prometheus import write_prometheus

        try:
            write_prometheus(self.prometheus_path, results)
        except OSError as exc:
            self.errors.append(f"could not write Prometheus metrics to {self.prometheus_path}: {exc}")
            return
        self.lines.append(f"Prometheus metrics: {self.prometheus_path}")

    def pytest_causal_eval_summary_table(self, results: RunResults, width: int) -> list[str]:
        """The results table the session prints first in its terminal summary."""
        from pytest_causal_eval.report.terminal import render_table

        return render_table(results.measurements, width=width)

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if self.session.is_worker or (not self.lines and not self.errors):
            return
        terminalreporter.write_sep("-", "causal-eval reports")
        for line in self.lines:
            terminalreporter.write_line(line)
        for error in self.errors:
            terminalreporter.write_line(f"causal-eval: error: {error}", red=True)
