"""Pure statistics: summaries, intervals, comparisons. No I/O in this package."""

from __future__ import annotations

from pytest_causal_eval.stats.summary import Summary, percentile, summarize

__all__ = ["Summary", "percentile", "summarize"]
