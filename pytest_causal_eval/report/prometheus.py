"""Prometheus text-format export of a run's numbers, for node-exporter's textfile collector.

Gauges: ``causal_eval_time_seconds{benchmark, stat}`` (median, p95, iqr of the time per
iteration), ``causal_eval_metric{benchmark, metric, unit}`` (every recorded metric),
``causal_eval_verdict{benchmark, verdict}`` (1 for the measurement's verdict) and
``causal_eval_last_run_timestamp_seconds``. prometheus_client is imported only when exporting.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from pytest_causal_eval.atomicio import write_bytes_atomic
from pytest_causal_eval.extra_keys import VERDICT
from pytest_causal_eval.results import RunResults

__all__ = ["render_prometheus", "write_prometheus"]


def _timestamp(created: str) -> float | None:
    try:
        parsed = _dt.datetime.fromisoformat(created)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.timestamp()


def render_prometheus(results: RunResults) -> bytes:
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()
    time_gauge = Gauge(
        "causal_eval_time_seconds",
        "Time per iteration of a benchmark in the last run (median, p95, iqr)",
        ["benchmark", "stat"],
        registry=registry,
    )
    metric_gauge = Gauge(
        "causal_eval_metric",
        "A metric a benchmark recorded in the last run",
        ["benchmark", "metric", "unit"],
        registry=registry,
    )
    verdict_gauge = Gauge(
        "causal_eval_verdict",
        "1 for the benchmark's verdict against its baseline in the last run",
        ["benchmark", "verdict"],
        registry=registry,
    )
    for m in sorted(results.measurements, key=lambda m: m.id):
        stats = m.stats
        if stats is not None:
            time_gauge.labels(m.id, "median").set(stats.median)
            time_gauge.labels(m.id, "p95").set(stats.p95)
            time_gauge.labels(m.id, "iqr").set(stats.iqr)
        for name, metric in sorted(m.metrics.items()):
            metric_gauge.labels(m.id, name, metric.unit).set(metric.value)
        record = VERDICT.get(m)
        if record is not None and record.verdict:
            verdict_gauge.labels(m.id, record.verdict).set(1)
    stamp = _timestamp(results.created)
    if stamp is not None:
        Gauge(
            "causal_eval_last_run_timestamp_seconds",
            "When the last causal-eval run finished (Unix time)",
            registry=registry,
        ).set(stamp)
    return bytes(generate_latest(registry))


def write_prometheus(path: Path, results: RunResults) -> None:
    """Atomically replace ``path`` (the collector never reads half a file)."""
    write_bytes_atomic(path, render_prometheus(results))
