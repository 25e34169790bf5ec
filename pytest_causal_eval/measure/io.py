"""I/O counters of this process around a measurement (psutil ``Process.io_counters``).

The probe records the byte totals of the whole measurement (warm-up, calibration and rounds) in
``measurement.extra["io"]``; ``io_metrics`` turns them into per-call metrics (``io_read_bytes``,
``io_write_bytes``), so two runs that calibrated to different iteration counts compare.

Below ``IO_METRIC_FLOOR`` bytes in the whole measurement no metric is made (the totals stay in
``extra``): a few stray kilobytes (a lazily imported module, a log line) would otherwise turn into
a 0 -> 4 B/call "regression" against a baseline of zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_causal_eval.results import Measurement, Metric

__all__ = ["IO_METRIC_FLOOR", "IOProbe", "IOSnapshot", "io_metrics", "measurement_calls", "read_io"]


IO_METRIC_FLOOR = 64 * 1024


@dataclass(frozen=True)
class IOSnapshot:
    read_bytes: int
    write_bytes: int


def read_io(process: Any = None) -> IOSnapshot | None:
    """Bytes read and written by this process so far; None where the platform does not count them."""
    try:
        import psutil

        proc = process if process is not None else psutil.Process()
        counters = proc.io_counters()
    except Exception:  # no counters on this platform, psutil.AccessDenied, ...
        return None
    return IOSnapshot(int(counters.read_bytes), int(counters.write_bytes))


class IOProbe:
    """Counts the bytes this process reads and writes while one measurement runs."""

    def __init__(self, process: Any = None) -> None:
        self._process = process
        self._before: IOSnapshot | None = None

    def start(self) -> None:
        self._before = read_io(self._process)

    def stop(self, measurement: Measurement) -> None:
        before = self._before
        after = read_io(self._process)
        if before is None or after is None:
            return
        measurement.extra["io"] = {
            "read_bytes": max(0, after.read_bytes - before.read_bytes),
            "write_bytes": max(0, after.write_bytes - before.write_bytes),
        }


def measurement_calls(measurement: Measurement) -> int:
    """How many times the workload ran in a finished measurement (warm-up and calibration included)."""
    if measurement.mode == "pedantic":
        return (measurement.warmup_rounds + measurement.rounds) * max(1, measurement.iterations)
    calibration = int(measurement.calibration.get("calibration_calls", 0))
    return measurement.warmup_rounds + calibration + measurement.rounds * measurement.iterations


def io_metrics(measurement: Measurement, floor: int = IO_METRIC_FLOOR) -> list[Metric]:
    """Per-call I/O metrics from the totals the probe recorded; empty when nothing was recorded
    or the measurement moved fewer than ``floor`` bytes in all."""
    totals = measurement.extra.get("io")
    calls = measurement_calls(measurement)
    if not isinstance(totals, dict) or calls <= 0:
        return []
    totals["calls"] = calls
    if int(totals["read_bytes"]) + int(totals["write_bytes"]) < floor:
        return []
    return [
        Metric("io_read_bytes", float(totals["read_bytes"]) / calls, unit="B", better="lower"),
        Metric("io_write_bytes", float(totals["write_bytes"]) / calls, unit="B", better="lower"),
    ]
