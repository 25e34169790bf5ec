"""Reports and history: options, and wiring the report plugin.

Options: ``--causal-eval-history PATH|off`` (default .causal-eval/history.sqlite),
``--causal-eval-markdown PATH`` (also appended to ``$GITHUB_STEP_SUMMARY`` when set) and
``--causal-eval-prometheus PATH``. The HTML report is written to ``--causal-eval-report DIR``
(default .causal-eval/report) unless that option says off.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_causal_eval.options import OptionSpec, parse_writable_file
from pytest_causal_eval.report.settings import ReportSettings

if TYPE_CHECKING:
    from pytest_causal_eval.session import CausalEvalSession

__all__ = ["DEFAULT_HISTORY", "MARKER_KEYS", "OPTIONS", "REPORT_PLUGIN_NAME", "configure", "parse_history"]

REPORT_PLUGIN_NAME = "causal_eval_report"
DEFAULT_HISTORY = Path(".causal-eval/history.sqlite")
_OFF = ("off", "no", "false", "none", "0")


def parse_history(text: str) -> Path | None:
    """A database path, or off/no/false/none to record no history."""
    if str(text).strip().lower() in _OFF:
        return None
    try:
        return parse_writable_file(text)
    except ValueError as exc:
        raise ValueError(f"{exc} (or off to record no history)") from None


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "history",
        "Append every run's summaries to this SQLite database, or off (default .causal-eval/history.sqlite).",
        DEFAULT_HISTORY,
        parse_history,
        metavar="PATH|off",
    ),
    OptionSpec(
        "markdown",
        "Write the verdicts as Markdown to PATH (also appended to $GITHUB_STEP_SUMMARY when set).",
        None,
        parse_writable_file,
        metavar="PATH",
    ),
    OptionSpec(
        "prometheus",
        "Write the run's numbers in Prometheus text format to PATH (node-exporter textfile collector).",
        None,
        parse_writable_file,
        metavar="PATH",
    ),
)

MARKER_KEYS: dict[str, str] = {}


def configure(config: pytest.Config, session: CausalEvalSession) -> None:
    """Register the report plugin (history, HTML, Markdown, Prometheus at session end)."""
    if (
        ReportSettings.of(session.settings).prometheus is not None
        and importlib.util.find_spec("prometheus_client") is None
    ):
        raise pytest.UsageError(
            "--causal-eval-prometheus needs the prometheus_client package: "
            "pip install 'pytest-causal-eval[prometheus]'"
        )
    from pytest_causal_eval.report.plugin import ReportPlugin

    config.pluginmanager.register(ReportPlugin(config, session), REPORT_PLUGIN_NAME)
