"""What a foreign-load reading is, and what takes one (the protocol; the system's sampler is
``environment.load.CpuTimesSampler``, tests inject their own through the
``pytest_causal_eval_load_sampler`` hook)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["LOAD_EXTRA_KEY", "LoadReading", "LoadSampler", "pooled"]

LOAD_EXTRA_KEY = "load"  # measurement.extra[LOAD_EXTRA_KEY]: LoadReading.to_dict()


@dataclass(frozen=True)
class LoadReading:
    """Foreign CPU use over one measurement's timed rounds."""

    foreign_share: float  # of all the machine's CPUs, 0..1
    cpus: int
    seconds: float  # wall time the reading covers

    def to_dict(self) -> dict[str, Any]:
        return {
            "foreign_share": round(self.foreign_share, 4),
            "cpus": self.cpus,
            "seconds": round(self.seconds, 4),
        }


class LoadSampler(Protocol):
    """``begin`` right before the first timed round, ``end`` after the last (None: cannot tell)."""

    def begin(self) -> object: ...

    def end(self, begun: object) -> LoadReading | None: ...


def pooled(recorded: Any, reading: LoadReading) -> dict[str, Any]:
    """A recorded reading (``extra['load']``, or nothing) and a new one over more rounds of the same
    measurement, as one reading: the foreign share weighted by the seconds each covered."""
    if isinstance(recorded, dict):
        try:
            share, seconds = float(recorded["foreign_share"]), float(recorded["seconds"])
        except (KeyError, TypeError, ValueError):
            return reading.to_dict()
        total = seconds + reading.seconds
        if seconds >= 0 and total > 0:
            mixed = (share * seconds + reading.foreign_share * reading.seconds) / total
            return LoadReading(foreign_share=mixed, cpus=reading.cpus, seconds=total).to_dict()
    return reading.to_dict()
