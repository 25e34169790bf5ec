"""The report feature's settings, typed: what the report plugin reads from the resolved options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_causal_eval.options import Settings

__all__ = ["ReportSettings"]


@dataclass(frozen=True)
class ReportSettings:
    """The report feature's settings, typed (their defaults are the ``OPTIONS`` of ``report.feature``).

    The HTML report's directory is a core option (``Settings.report_dir``, ``Settings.html_report``):
    the profiles are written under it too."""

    history: Path | None  # None: record no history
    markdown: Path | None
    prometheus: Path | None

    @classmethod
    def of(cls, settings: Settings) -> ReportSettings:
        return cls(
            history=settings["history"],
            markdown=settings["markdown"],
            prometheus=settings["prometheus"],
        )
