"""The ``causal_eval`` marker's keys and the per-test timer's stash key: light enough for plugin import
time."""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["ITEM_TIMER_KEY", "MARKER_KEYS", "all_marker_keys", "marker_kwargs"]

#: A per-test clock (e.g. CUDA events for a GPU test); the session's timer when unset.
ITEM_TIMER_KEY = pytest.StashKey[Any]()

# Keyword arguments @pytest.mark.causal_eval(...) accepts; feature modules add theirs here.
MARKER_KEYS: dict[str, str] = {
    "min_time": "minimum round duration",
    "max_time": "time budget for the rounds",
    "min_rounds": "minimum number of rounds",
    "max_rounds": "maximum number of rounds",
    "warmup": "warm-up duration, auto or off",
    "gc": "garbage collector during rounds: enabled, disabled or frozen",
    "group": "group name shown in reports",
}


def all_marker_keys() -> dict[str, str]:
    from pytest_causal_eval.features import feature_modules

    keys = dict(MARKER_KEYS)
    for module in feature_modules():
        keys.update(module.MARKER_KEYS)
    return keys


def marker_kwargs(item: pytest.Item) -> dict[str, Any]:
    """Merged keyword arguments of every causal_eval marker on the item (closest wins)."""
    merged: dict[str, Any] = {}
    for mark in reversed(list(item.iter_markers("causal_eval"))):
        if mark.args:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.causal_eval takes keyword arguments only, got {mark.args!r}"
            )
        merged.update(mark.kwargs)
    allowed = all_marker_keys()
    unknown = sorted(set(merged) - set(allowed))
    if unknown:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.causal_eval got unknown argument(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    return merged
