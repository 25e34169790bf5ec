"""The baseline feature's settings, typed: what the gate reads from the resolved options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_causal_eval.options import Settings
from pytest_causal_eval.stats.thresholds import Threshold

__all__ = ["BaselineSettings"]


@dataclass(frozen=True)
class BaselineSettings:
    """The baseline feature's settings, typed (their defaults are the ``OPTIONS`` of ``baseline.feature``)."""

    baselines: Path | None  # None: <rootdir>/baselines
    save: bool
    force_save: bool
    machine: str | None
    threshold: Threshold
    strict: bool
    remeasure: int
    remeasure_busy: int  # fresh passes for a time regression measured under foreign load
    confirm: int  # fresh passes a time regression must show again; extra passes of a save

    @classmethod
    def of(cls, settings: Settings) -> BaselineSettings:
        return cls(
            baselines=settings["baselines"],
            save=bool(settings["save"]),
            force_save=bool(settings["force_save"]),
            machine=settings["machine"],
            threshold=settings["threshold"],
            strict=bool(settings["strict"]),
            remeasure=int(settings["remeasure"]),
            remeasure_busy=int(settings["remeasure_busy"]),
            confirm=int(settings["confirm"]),
        )
