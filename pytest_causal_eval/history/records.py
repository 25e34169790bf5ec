"""What one run contributes to the history: a run row and one summary row per measurement (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_causal_eval.extra_keys import HEALTH, VERDICT
from pytest_causal_eval.results import RunResults

__all__ = ["BenchRecord", "RunRecord", "SeriesPoint", "machine_key_of", "run_record"]


@dataclass(frozen=True)
class BenchRecord:
    """One measurement's summary: time statistics in seconds per iteration (None without samples)."""

    benchmark: str
    median: float | None
    iqr: float | None
    n: int
    p95: float | None = None
    mean: float | None = None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdict: str | None = None
    noisy: bool = False  # the machine was noisy while this measurement was taken


@dataclass(frozen=True)
class RunRecord:
    created: str
    commit: str
    branch: str
    dirty: bool
    machine_key: str
    fingerprint: dict[str, Any]
    tool_version: str
    benchmarks: list[BenchRecord]
    health: dict[str, Any] = field(default_factory=dict)  # the machine's health at the run's start


@dataclass(frozen=True)
class SeriesPoint:
    """One run's value of one benchmark, as read back from the history."""

    run_id: int
    created: str
    commit: str
    branch: str
    machine_key: str
    median: float
    iqr: float | None
    n: int
    dirty: bool = False  # measured with uncommitted changes on top of ``commit``
    noisy: bool = False  # the machine was noisy while it was measured

    @property
    def short_commit(self) -> str:
        """``3f2a9c1b``, or ``3f2a9c1b+dirty`` for uncommitted changes on top of it."""
        if not self.commit:
            return "?"
        return self.commit[:8] + ("+dirty" if self.dirty else "")


def machine_key_of(results: RunResults) -> tuple[str, dict[str, Any]]:
    """The machine key and fingerprint of a run (``environment.fingerprint.results_machine``)."""
    from pytest_causal_eval.environment.fingerprint import results_machine

    key, fingerprint = results_machine(results)
    return key, {**fingerprint.to_dict(), "key": key}


def run_record(results: RunResults) -> RunRecord:
    key, fingerprint = machine_key_of(results)
    git = results.environment.get("git")
    git = git if isinstance(git, Mapping) else {}
    benchmarks = []
    for m in sorted(results.measurements, key=lambda m: m.id):
        stats = m.stats
        verdict = VERDICT.get(m)
        benchmarks.append(
            BenchRecord(
                benchmark=m.id,
                median=stats.median if stats else None,
                iqr=stats.iqr if stats else None,
                n=stats.n if stats else 0,
                p95=stats.p95 if stats else None,
                mean=stats.mean if stats else None,
                metrics={
                    name: {"value": metric.value, "unit": metric.unit, "better": metric.better}
                    for name, metric in sorted(m.metrics.items())
                },
                verdict=verdict.verdict if verdict is not None else None,
                noisy=(health := HEALTH.get(m)) is not None and health.noisy,
            )
        )
    return RunRecord(
        created=results.created,
        commit=str(git.get("commit") or ""),
        branch=str(git.get("branch") or ""),
        dirty=bool(git.get("dirty")),
        machine_key=key,
        fingerprint=fingerprint,
        tool_version=results.tool_version,
        benchmarks=benchmarks,
        health=_health(results.environment.get("health")),
    )


def _health(health: Any) -> dict[str, Any]:
    """What the history keeps of the machine's health: noisy or not, the load and the reasons."""
    if not isinstance(health, Mapping):
        return {}
    return {
        "noisy": bool(health.get("noisy")),
        "load_avg_1m": health.get("load_avg_1m"),
        "reasons": [str(r) for r in health.get("reasons") or []],
    }
