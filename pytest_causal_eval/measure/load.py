"""What a foreign-load reading is, and what takes one (the protocol; the system's sampler is
``environment.load.CpuTimesSampler``, tests inject their own through the
``pytest_causal_eval_load_sampler`` hook)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["LOAD_EXTRA_KEY", "LoadReading", "LoadSampler"]

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
