"""What a foreign-load reading is, and what takes one (the protocol; the system's sampler is
``environment.load.CpuTimesSampler``, tests inject their own through the
``pytest_causal_eval_load_sampler`` hook)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "DEFAULT_MAX_FOREIGN_LOAD",
    "LOAD_EXTRA_KEY",
    "LoadReading",
    "LoadSampler",
    "foreign_share",
    "limit_text",
    "parse_max_foreign_load",
    "pool_recorded",
    "pooled",
    "recorded_limit",
]

LOAD_EXTRA_KEY = "load"  # measurement.extra[LOAD_EXTRA_KEY]: LoadReading.to_dict()
#: The share of the machine's CPUs other processes may take during the timed rounds before a time
#: regression measured there is inconclusive (``--causal-eval-max-foreign-load``, and the CLI's
#: ``--max-foreign-load``): on 2 CPUs one busy neighbour is 50%.
DEFAULT_MAX_FOREIGN_LOAD = 0.25


def parse_max_foreign_load(text: str) -> float | None:
    """'off' (None: a time regression is judged whatever else ran) or a percentage of the
    machine's CPUs from 1% to 100%, such as 25%."""
    lowered = str(text).strip().lower()
    if lowered in ("off", "no", "false"):
        return None
    number = lowered[:-1] if lowered.endswith("%") else lowered
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"expected off or a percentage of the CPUs such as 25%, got {text!r}") from None
    if not 1.0 <= value <= 100.0:
        raise ValueError(f"expected off or a percentage from 1% to 100%, got {text!r}")
    return value / 100.0


def limit_text(limit: float | None) -> str:
    """The limit as a session records it in its results (``extra.baseline.max_foreign_load``):
    '25%' or 'off'; ``parse_max_foreign_load`` reads it back."""
    return "off" if limit is None else f"{limit * 100:g}%"


def recorded_limit(results_extra: Any) -> tuple[bool, float | None]:
    """The limit a session recorded in its results' ``extra.baseline.max_foreign_load``: (True, the
    limit or None for off), or (False, None) when it recorded none (older files).
    A value that is not a limit raises ``ValueError`` naming the field."""
    block = results_extra.get("baseline") if isinstance(results_extra, Mapping) else None
    if not isinstance(block, Mapping) or "max_foreign_load" not in block:
        return False, None
    value = block["max_foreign_load"]
    try:
        return True, parse_max_foreign_load(str(value))
    except ValueError as exc:
        raise ValueError(f"extra.baseline.max_foreign_load is {value!r}: {exc}") from None


def foreign_share(load: Any) -> float | None:
    """The foreign share of a recorded reading (``measurement.extra['load']``), None when not read
    (or not a share from 0 to 1)."""
    if not isinstance(load, Mapping):
        return None
    value = load.get("foreign_share")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        return None
    return float(value)


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


def pool_recorded(recorded: Sequence[Any]) -> dict[str, Any] | None:
    """Recorded readings of one measurement taken in several processes (an A/B side's runs) as one:
    the foreign share weighted by the seconds each covered; readings that are missing or malformed
    are left out, None when none is usable."""
    usable: list[LoadReading] = []
    for load in recorded:
        share = foreign_share(load)
        seconds = load.get("seconds") if isinstance(load, Mapping) else None
        cpus = load.get("cpus") if isinstance(load, Mapping) else None
        if share is None or isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            continue
        usable.append(LoadReading(share, int(cpus) if isinstance(cpus, int) else 0, float(seconds)))
    if not usable:
        return None
    total = sum(r.seconds for r in usable)
    if total <= 0:
        share = max(r.foreign_share for r in usable)
    else:
        share = sum(r.foreign_share * r.seconds for r in usable) / total
    return LoadReading(share, usable[-1].cpus, total).to_dict()
