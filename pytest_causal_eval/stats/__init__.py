"""Pure statistics: summaries, intervals, comparisons. No I/O in this package."""

from __future__ import annotations

from pytest_causal_eval.stats.summary import Summary, percentile, summarize
from pytest_causal_eval.stats.thresholds import Threshold, parse_threshold

# stats.compare (the gate) and stats.noise use numpy: import them directly, so that importing this
# package (done whenever the plugin loads) stays light.
__all__ = ["Summary", "Threshold", "parse_threshold", "percentile", "summarize"]
