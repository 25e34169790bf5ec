"""Synthetic runs for the report tests, and a tiny PNG decoder for screenshot checks."""

from __future__ import annotations

import random
import struct
import zlib
from typing import Any

from pytest_causal_eval.results import Measurement, Metric, RunResults

EVIL = "<script>window.__pwned=1</script>"


def verdict(kind: str, change: float) -> dict[str, Any]:
    return {
        "verdict": kind,
        "metric": "time",
        "change": change,
        "ci_low": change - 0.03,
        "ci_high": change + 0.03,
        "threshold": "10%",
        "baseline_median": 0.001,
        "message": f"time {kind} by {change:+.1%}",
        "all": [],
    }


def measurement(mid: str, median: float, seed: int, kind: str | None = None, rounds: int = 30) -> Measurement:
    rng = random.Random(seed)
    m = Measurement(
        id=mid,
        test_id=mid,
        samples=[median * rng.lognormvariate(0.0, 0.02) for _ in range(rounds)],
        iterations=10,
        metrics={
            "accuracy": Metric("accuracy", 0.8, "", "higher"),
            "peak_rss": Metric("peak_rss", 50e6, "B", "lower"),
        },
        extra={"passed": kind != "regressed"},
    )
    if kind is not None:
        m.extra["verdict"] = verdict(kind, {"regressed": 0.25, "improved": -0.2}.get(kind, 0.01))
    return m


def make_results(count: int, evil: bool = True) -> RunResults:
    kinds = ["regressed", "pass", "improved", "inconclusive", "new"]
    ms = []
    for i in range(count):
        mid = f"tests/test_eval.py::test_case[{i:04d}]"
        if evil and i == 1:
            mid = f"tests/test_eval.py::test_case[{EVIL}]"
        ms.append(measurement(mid, 0.001 * (1 + i % 7), i, kinds[i % len(kinds)]))
    return RunResults(
        measurements=ms,
        environment={
            "python": {"implementation": "CPython", "version": "3.11.7"},
            "platform": {"system": "Linux", "machine": "x86_64"},
            "cpu": {"model": "Test CPU", "logical_cores": 2},
            "git": {"commit": "0123456789abcdef", "branch": "main", "dirty": False},
            "health": {"noisy": False, "load_avg_1m": 0.5, "note": EVIL},
        },
        created="2024-05-01T12:00:00+00:00",
        tool_version="0.0-test",
        extra={"machine": {"key": "linux-test-key", "hard": {"cpu_model": EVIL}, "soft": {}}},
    )


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit truecolor PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = 0
    channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), f"unsupported PNG: depth {depth}, color type {color}"
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        mode = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if mode == 1:
                line[x] = (line[x] + a) & 0xFF
            elif mode == 2:
                line[x] = (line[x] + b) & 0xFF
            elif mode == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif mode == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows
