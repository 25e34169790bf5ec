"""I/O counters probe and per-call metrics."""

from __future__ import annotations

from types import SimpleNamespace

from pytest_causal_eval.measure.io import IOProbe, io_metrics, measurement_calls, read_io
from pytest_causal_eval.results import Measurement


class FakeProcess:
    def __init__(self) -> None:
        self.read, self.write = 1000, 50

    def io_counters(self) -> SimpleNamespace:
        return SimpleNamespace(read_bytes=self.read, write_bytes=self.write)


class NoCounters:
    def io_counters(self) -> SimpleNamespace:
        raise AttributeError("io_counters")


def test_probe_records_deltas_and_metrics_are_per_call() -> None:
    proc = FakeProcess()
    probe = IOProbe(proc)
    m = Measurement(id="t", test_id="t", iterations=10, warmup_rounds=5)
    m.samples = [1.0] * 4
    m.calibration = {"calibration_calls": 15.0}
    probe.start()
    proc.read += 600_000
    proc.write += 60_000
    probe.stop(m)
    assert m.extra["io"] == {"read_bytes": 600_000, "write_bytes": 60_000}
    assert measurement_calls(m) == 5 + 15 + 40
    metrics = {x.name: x for x in io_metrics(m)}
    assert metrics["io_read_bytes"].value == 10_000.0 and metrics["io_read_bytes"].unit == "B"
    assert metrics["io_write_bytes"].value == 1_000.0 and metrics["io_write_bytes"].better == "lower"
    assert m.extra["io"]["calls"] == 60


def test_stray_io_below_the_floor_makes_no_metric() -> None:
    m = Measurement(id="t", test_id="t", iterations=1, samples=[1.0])
    m.extra["io"] = {"read_bytes": 28_672, "write_bytes": 0}
    assert io_metrics(m) == []
    assert [x.name for x in io_metrics(m, floor=1)] == ["io_read_bytes", "io_write_bytes"]
    assert m.extra["io"]["calls"] == 1


def test_pedantic_calls_and_missing_counters() -> None:
    m = Measurement(id="t", test_id="t", mode="pedantic", iterations=3, warmup_rounds=2, samples=[1.0] * 4)
    assert measurement_calls(m) == 18
    probe = IOProbe(NoCounters())
    probe.start()
    probe.stop(m)
    assert "io" not in m.extra and io_metrics(m) == []
    assert read_io(NoCounters()) is None
    assert read_io() is not None  # Linux has counters
