"""The sharding plugin object: keeps this shard's tests and deselects the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_causal_eval.results import ResultsFormatError, RunResults, read_results
from pytest_causal_eval.shard.assign import Shard, assign_balanced, assign_hashed, durations_by_test

__all__ = ["SHARD_PLUGIN_NAME", "ShardPlugin", "load_durations"]

SHARD_PLUGIN_NAME = "causal_eval_shard"
DURATIONS_FLAG = "--causal-eval-shard-durations"


def load_durations(path: Path) -> dict[str, float]:
    """Per-test durations from a results file; a ``pytest.UsageError`` naming the file otherwise.
    A measurement with a bad number is left out (its test gets the median duration, as a new one)."""
    try:
        results = read_results(Path(path))
    except ResultsFormatError as exc:
        raise pytest.UsageError(f"{DURATIONS_FLAG}: {exc}") from None
    return durations_by_test(results)


class ShardPlugin:
    """Registered as ``causal_eval_shard`` when ``--causal-eval-shard K/N`` is given."""

    def __init__(self, shard: Shard, durations: dict[str, float] | None, source: Path | None) -> None:
        self.shard = shard
        self.durations = durations
        self.source = source
        self.selected: int | None = None
        self.deselected: int | None = None

    @property
    def method(self) -> str:
        if self.durations is None:
            return "stable hash of the test id"
        return f"balanced by the durations in {self.source}"

    def pytest_report_header(self, config: pytest.Config) -> str:
        return f"causal-eval shard {self.shard} ({self.method})"

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        ids = [item.nodeid for item in items]
        if self.durations is None:
            assignment = assign_hashed(ids, self.shard.total)
        else:
            assignment = assign_balanced(ids, self.durations, self.shard.total)
        keep = [item for item in items if assignment[item.nodeid] == self.shard.index]
        drop = [item for item in items if assignment[item.nodeid] != self.shard.index]
        self.selected, self.deselected = len(keep), len(drop)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_causal_eval_session_results(self, config: pytest.Config, results: RunResults) -> None:
        record: dict[str, Any] = {
            "index": self.shard.index,
            "total": self.shard.total,
            "method": "durations" if self.durations is not None else "hash",
        }
        if self.selected is not None:
            record["selected"] = self.selected
            record["deselected"] = self.deselected
        results.extra["shard"] = record
