"""What a foreign-load reading is, and what takes one (the protocol; the system's sampler is
``environment.load.CpuTimesSampler``, tests inject their own through the
``pytest_causal_eval_load_sampler`` hook).

Which window a reading covers (``LoadReading.window``, recorded as ``extra.load.window`` when it is
not the timed rounds): the timed rounds when they lasted long enough for the counters
(``environment.load.MIN_SECONDS``); else the whole measurement, warm-up and calibration included
(``measurement``: the same workload ran there), waited out after the rounds until it is long enough
to read when it is shorter (``padded``; the sampler's optional ``settle``). A reading that cannot
be taken at all is recorded as ``{"unread": why}`` and said in the summary, never taken as quiet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

__all__ = [
    "DEFAULT_MAX_FOREIGN_LOAD",
    "LOAD_EXTRA_KEY",
    "WINDOW_MEASUREMENT",
    "WINDOW_PADDED",
    "WINDOW_ROUNDS",
    "LoadReading",
    "LoadSampler",
    "foreign_share",
    "limit_text",
    "parse_max_foreign_load",
    "pool_recorded",
    "pooled",
    "read_measurement",
    "read_window",
    "recorded_limit",
    "share_phrase",
    "unread_reason",
    "window_text",
]

LOAD_EXTRA_KEY = "load"  # measurement.extra[LOAD_EXTRA_KEY]: LoadReading.to_dict()
#: The share of the machine's CPUs other processes may take during the timed rounds before a time
#: regression measured there is inconclusive (``--causal-eval-max-foreign-load``, and the CLI's
#: ``--max-foreign-load``): on 2 CPUs one busy neighbour is 50%.
DEFAULT_MAX_FOREIGN_LOAD = 0.25

WINDOW_ROUNDS = "rounds"  # the timed rounds (the default: not written in extra.load)
WINDOW_MEASUREMENT = "measurement"  # warm-up, calibration and the timed rounds
WINDOW_PADDED = "padded"  # the whole measurement and a wait after it
_WINDOW_TEXT = {
    WINDOW_MEASUREMENT: "the measurement (its timed rounds were too short to read: warm-up and "
    "calibration included)",
    WINDOW_PADDED: "the measurement and a wait after it (the measurement was too short to read)",
}


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


def unread_reason(load: Any) -> str | None:
    """Why a measurement's foreign load could not be read (``extra.load.unread``), None otherwise."""
    if isinstance(load, Mapping) and "unread" in load and "foreign_share" not in load:
        return str(load["unread"])
    return None


def window_text(load: Any, rounds: str = "the timed rounds") -> str:
    """What a recorded reading covered: ``rounds`` (the caller's words for the timed rounds) unless
    the reading had to be widened (``extra.load.window``)."""
    window = load.get("window") if isinstance(load, Mapping) else None
    return _WINDOW_TEXT.get(str(window), rounds) if window is not None else rounds


def share_phrase(load: Any, rounds: str = "the timed rounds") -> str:
    """'other processes used 48% of 2 CPUs during the timed rounds' ('' when not read)."""
    share = foreign_share(load)
    if share is None:
        return ""
    cpus = load.get("cpus") if isinstance(load, Mapping) else None
    counted = isinstance(cpus, int) and not isinstance(cpus, bool) and cpus > 0
    on = f" of {cpus} CPUs" if counted else " of the CPUs"
    return f"other processes used {share:.0%}{on} during {window_text(load, rounds)}"


@dataclass(frozen=True)
class LoadReading:
    """Foreign CPU use over one measurement's timed rounds (or a wider window, see ``window``)."""

    foreign_share: float  # of all the machine's CPUs, 0..1
    cpus: int
    seconds: float  # wall time the reading covers
    window: str = WINDOW_ROUNDS

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "foreign_share": round(self.foreign_share, 4),
            "cpus": self.cpus,
            "seconds": round(self.seconds, 4),
        }
        if self.window != WINDOW_ROUNDS:
            out["window"] = self.window
        return out


class LoadSampler(Protocol):
    """``begin`` opens a window, ``end`` closes it (None: cannot tell, e.g. too short to read).

    A sampler may also have ``settle(begun) -> LoadReading | None``: wait until the window is long
    enough to read, then ``end`` it (the system's sampler has it; see ``read_window``)."""

    def begin(self) -> object: ...

    def end(self, begun: object) -> LoadReading | None: ...


def _wide(sampler: LoadSampler, begun: object) -> LoadReading | None:
    """A window too short to read alone, read by the sampler's ``settle`` when it has one (which
    waits until the window is long enough, and says ``padded`` when it had to), else by ``end``."""
    settle = getattr(sampler, "settle", None)
    reading = settle(begun) if settle is not None else sampler.end(begun)
    return reading if isinstance(reading, LoadReading) else None


def read_window(sampler: LoadSampler, begun: object) -> LoadReading | None:
    """``end`` the window; when it is too short to read, ``settle`` it, when the sampler can (the
    reading then says ``padded``). None: no reading."""
    reading = sampler.end(begun)
    if reading is not None:
        return reading
    settle = getattr(sampler, "settle", None)
    settled = settle(begun) if settle is not None else None
    return settled if isinstance(settled, LoadReading) else None


def read_measurement(sampler: LoadSampler, rounds: object, whole: object) -> dict[str, Any]:
    """The reading recorded for one measurement (``extra['load']``): over its timed rounds (begun as
    ``rounds``) when they are long enough to read; else over the whole measurement (begun as
    ``whole``, before warm-up), waited out after the rounds until it is long enough when the
    sampler can (``settle``); ``{"unread": why}`` when none can be taken."""
    try:
        reading = sampler.end(rounds)
        if reading is None:
            wide = _wide(sampler, whole)
            if wide is not None and wide.window != WINDOW_PADDED:
                wide = replace(wide, window=WINDOW_MEASUREMENT)
            reading = wide
    except Exception as exc:  # a sampler's fault must not lose the measurement: say it
        return {"unread": f"the load sampler failed ({type(exc).__name__}: {exc})"}
    if reading is None:
        return {"unread": "the CPU time counters gave no reading"}
    return reading.to_dict()


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
            window = reading.window if reading.window != WINDOW_ROUNDS else recorded.get("window")
            return LoadReading(
                foreign_share=mixed, cpus=reading.cpus, seconds=total, window=str(window or WINDOW_ROUNDS)
            ).to_dict()
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
