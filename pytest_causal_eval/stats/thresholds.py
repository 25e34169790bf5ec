"""Regression thresholds: '10%' (relative), '2pts' (absolute points), 'off' (pure; no numpy here, so
option parsing stays light when the plugin is off)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_THRESHOLD", "Threshold", "parse_threshold"]

_THRESHOLD = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%|pts?|points?)?\s*$")


@dataclass(frozen=True)
class Threshold:
    """How large a change may be before it counts. ``relative``: a fraction (0.1 = 10%);
    ``absolute``: points in the metric's own unit (percentage points for a fraction metric);
    ``off``: never gate this quantity."""

    kind: Literal["relative", "absolute", "off"]
    value: float = 0.0

    def __str__(self) -> str:
        if self.kind == "off":
            return "off"
        if self.kind == "relative":
            return f"{self.value * 100:g}%"
        return f"{self.value:g}pts"


DEFAULT_THRESHOLD = Threshold("relative", 0.10)
"""The regression threshold when nothing else is configured: more than 10% worse, significantly."""


def parse_threshold(text: object) -> Threshold:
    """'10%' or '10' (percent), '2pts' (absolute points), 'off'. Raises ValueError naming what is allowed."""
    if isinstance(text, Threshold):
        return text
    raw = str(text).strip().lower()
    if raw in ("off", "none", "no"):
        return Threshold("off")
    m = _THRESHOLD.match(raw)
    if not m:
        raise ValueError(f"expected a threshold such as 10%, 5.5%, 2pts or off, got {text!r}")
    value = float(m.group(1))
    unit = m.group(2) or "%"
    if unit == "%":
        if not 0 < value < 1000:
            raise ValueError(f"expected a percentage above 0% and below 1000%, got {text!r}")
        return Threshold("relative", value / 100.0)
    if value <= 0:
        raise ValueError(f"expected a positive number of points, got {text!r}")
    return Threshold("absolute", value)
