"""The gate for deterministic counts (instructions, estimated cycles): no bootstrap, no inconclusive.

Callgrind's counts of the same code on the same machine agree from run to run far closer than any
threshold a user sets (measured: 0.00% for pure-Python loops, sorting, dicts and numpy; see
``COUNT_FLOOR``), so there is no sampling uncertainty to estimate: the change is
``candidate / baseline - 1`` and

- ``regressed`` when it is worse than ``max(threshold, floor)``;
- ``improved`` when it is better than that;
- ``pass`` otherwise, including every change within the floor, whatever the threshold.

The floor (``COUNT_FLOOR``) is a fixed reproducibility allowance for the count: it keeps a
per-metric threshold set very low (``0.01%``) from failing on the count's own residual spread; with
the default 10% threshold it never decides anything. Absolute thresholds (``2pts``) are compared on
the difference, with no floor.
"""

from __future__ import annotations

import math
from typing import Literal

from pytest_causal_eval.stats.compare import Comparison
from pytest_causal_eval.stats.thresholds import Threshold

__all__ = ["COUNT_FLOOR", "COUNT_METRICS", "compare_counts"]

# The per-call counts instruction mode measures (``instructions.plugin``).
COUNT_METRICS = frozenset({"instructions", "estimated_cycles"})

# Twice the largest run-to-run spread measured for a count (0.05%, see the README's instruction mode
# section), so a count that moved 0.05% is a pass under any threshold.
COUNT_FLOOR = 0.001


def compare_counts(
    baseline: float,
    candidate: float,
    *,
    metric: str,
    better: Literal["lower", "higher"],
    threshold: Threshold,
    floor: float = COUNT_FLOOR,
) -> Comparison:
    """The verdict on one deterministic count (see the module docstring)."""
    if threshold.kind == "off":
        raise ValueError(f"{metric}: a threshold of 'off' means the quantity is not compared")
    sign = 1.0 if better == "lower" else -1.0
    if threshold.kind == "absolute":
        change = candidate - baseline
        limit = threshold.value
        method = "deterministic count (difference)"
    else:
        change = candidate / baseline - 1.0 if baseline > 0 else (0.0 if candidate <= 0 else math.inf)
        limit = max(threshold.value, floor)
        method = f"deterministic count, {floor * 100:g}% reproducibility floor"
    worse = sign * change
    if worse > limit:
        verdict: Literal["regressed", "improved", "pass"] = "regressed"
    elif worse < -limit:
        verdict = "improved"
    else:
        verdict = "pass"
    return Comparison(
        verdict=verdict,
        metric=metric,
        better=better,
        change=change,
        ci_low=change,
        ci_high=change,
        threshold=threshold,
        baseline_center=baseline,
        candidate_center=candidate,
        method=method,
        n_baseline=1,
        n_candidate=1,
    )
