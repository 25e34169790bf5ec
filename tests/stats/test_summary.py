from __future__ import annotations

import math
import statistics

import pytest

from pytest_causal_eval.stats.summary import Summary, percentile, summarize


def test_summary_of_a_known_sample() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 100.0]
    s = summarize(values)
    assert s.n == 5
    assert s.min == 1.0 and s.max == 100.0
    assert s.median == 3.0
    assert s.mean == pytest.approx(22.0)
    assert s.stddev == pytest.approx(statistics.stdev(values))
    assert s.q1 == 2.0 and s.q3 == 4.0 and s.iqr == 2.0
    assert s.mad == 1.0  # |deviations| = 2,1,0,1,97 -> median 1
    assert s.p95 == pytest.approx(4.0 + 0.8 * 96.0)
    assert s.ops == pytest.approx(1 / 22.0)
    assert s.cv == pytest.approx(statistics.stdev(values) / 22.0)


def test_percentile_interpolates_like_numpy() -> None:
    data = [10.0, 20.0, 30.0, 40.0]
    assert percentile(data, 0) == 10.0
    assert percentile(data, 100) == 40.0
    assert percentile(data, 50) == 25.0
    assert percentile(data, 99) == pytest.approx(39.7)


def test_single_value_and_errors() -> None:
    s = summarize([2.5])
    assert s.stddev == 0 and s.iqr == 0 and s.median == 2.5
    with pytest.raises(ValueError, match="empty"):
        summarize([])
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_round_trip() -> None:
    s = summarize([1.0, 2.0, 4.0])
    assert Summary.from_dict(s.to_dict()) == s
    assert not math.isnan(s.cv)
