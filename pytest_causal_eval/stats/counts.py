"""The gate for deterministic counts (instructions, estimated cycles): no bootstrap, no inconclusive.

Callgrind counts the same instructions for the same code whatever else the machine does, so there
is no sampling uncertainty to estimate: the change is ``candidate / baseline - 1`` and

- ``regressed`` when it is worse than ``max(threshold, floor)``;
- ``improved`` when it is better than that;
- ``pass`` otherwise, including every change within the floor, whatever the threshold.

What still moves a count between two runs of the same code is where the allocators place memory,
which depends on everything the process did before. CPython's small-object pools are handled at the
source (counting starts from fresh pools, ``measure.instructions.fill_small_object_pools``); the C
library's ``realloc`` still grows a block in place or copies it depending on its neighbours.
Measured with pytest runs of the same code while other jobs loaded the machine: pure-Python loops
and dict building 0.000-0.003%, numpy 0.02-0.3%, sorting and string building with large list growth
0.1-1.2% (the ``memcpy`` of moved blocks). ``COUNT_FLOOR`` covers the worst of these, so such a
spread never fails a test, and it is five times below the default 10% threshold, so it decides
nothing there. Absolute thresholds (``2pts``) are compared on
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

# Above the largest run-to-run spread measured for a count of the same code (1.2%, sorting with list
# growth): a count that moved less is a pass under any threshold.
COUNT_FLOOR = 0.02


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
