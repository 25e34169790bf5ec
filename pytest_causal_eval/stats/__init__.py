"""Pure statistics: summaries, intervals, comparisons. No I/O in this package.

Names load on first use: option parsing imports ``stats.thresholds`` alone, and ``stats.compare``
(the gate) and ``stats.noise`` use numpy, so they are imported directly where needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_causal_eval.stats.summary import Summary, percentile, summarize
    from pytest_causal_eval.stats.thresholds import Threshold, parse_threshold

__all__ = ["Summary", "Threshold", "parse_threshold", "percentile", "summarize"]

_HOME = {
    "Summary": "summary",
    "percentile": "summary",
    "summarize": "summary",
    "Threshold": "thresholds",
    "parse_threshold": "thresholds",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
