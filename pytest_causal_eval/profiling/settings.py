"""Option and marker value parsers of the profiling feature (pure; raise ValueError with what is
allowed), and its settings, typed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pytest_causal_eval.options import Settings

__all__ = [
    "PROFILE_MODES",
    "ProfilingSettings",
    "parse_profile_mode",
    "parse_rate",
    "parse_size",
    "wants_cpu",
    "wants_memory",
]

PROFILE_MODES: tuple[str, ...] = ("off", "cpu", "memory", "all")

# Binary multiples, as pytest-memray reads them: 1 KB = 1 KiB = 1024 B.
_SIZE_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "kb": 1024,
    "kib": 1024,
    "k": 1024,
    "mb": 1024**2,
    "mib": 1024**2,
    "m": 1024**2,
    "gb": 1024**3,
    "gib": 1024**3,
    "g": 1024**3,
}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]*)\s*$")
_PER_ITER = re.compile(r"\s*/\s*(iter|iteration|call|run)\s*$", re.IGNORECASE)


def parse_profile_mode(text: str) -> str:
    """off | cpu | memory | all."""
    value = str(text).strip().lower()
    if value not in PROFILE_MODES:
        raise ValueError(f"expected one of {', '.join(PROFILE_MODES)}, got {text!r}")
    return value


def wants_cpu(mode: str) -> bool:
    return mode in ("cpu", "all")


def wants_memory(mode: str) -> bool:
    return mode in ("memory", "all")


def parse_size(text: object) -> int:
    """'200 MB', '1.5GiB', '512 KB', '4096' (bytes) -> bytes (> 0). KB/MB/GB are binary multiples."""
    if isinstance(text, bool):
        raise ValueError(f"expected a size such as 200 MB, 512 KB or 4096, got {text!r}")
    raw = repr(text) if isinstance(text, (int, float)) else str(text)
    m = _SIZE.match(raw)
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _SIZE_UNITS:
        raise ValueError(f"expected a size such as 200 MB, 512 KB or 4096 (bytes), got {text!r}")
    value = float(m.group(1)) * _SIZE_UNITS[unit]
    if value <= 0:
        raise ValueError(f"expected a positive size, got {text!r}")
    return round(value)


def parse_rate(text: object) -> float:
    """'1 KB/iter', '256 B/iter', '1KB' -> bytes retained per iteration (> 0)."""
    raw = str(text)
    stripped = _PER_ITER.sub("", raw)
    try:
        return float(parse_size(stripped if not isinstance(text, (int, float)) else text))
    except ValueError:
        raise ValueError(
            f"expected a growth per iteration such as 1 KB/iter or 256 B/iter, got {text!r}"
        ) from None


# Marker keys of the memory limits (here, so option parsing stays light).
LIMIT_MARKER_KEYS: dict[str, str] = {
    "memory_limit": "fail when the peak memory of a measurement exceeds this size (e.g. '200 MB')",
    "leak_limit": "fail when a measurement retains more than this per call (e.g. '1 KB/iter')",
}


@dataclass(frozen=True)
class ProfilingSettings:
    """The profiling feature's settings, typed (their defaults are the ``OPTIONS`` of
    ``profiling.feature``)."""

    profile: str  # off | cpu | memory | all
    on_regression: bool

    @classmethod
    def of(cls, settings: Settings) -> ProfilingSettings:
        return cls(profile=str(settings["profile"]), on_regression=bool(settings["profile_on_regression"]))
