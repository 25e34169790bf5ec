"""Change-point detection and terminal trends (pure)."""

from __future__ import annotations

import random

import pytest

from pytest_causal_eval.history.changepoints import detect_change_points, noise_sigma
from pytest_causal_eval.history.records import SeriesPoint
from pytest_causal_eval.history.trends import render_trends, sparkline
from pytest_causal_eval.report.units import format_seconds


def noisy(level: float, count: int, rng: random.Random, sigma: float = 0.02) -> list[float]:
    return [level * rng.lognormvariate(0.0, sigma) for _ in range(count)]


def test_a_step_is_found_at_the_first_run_of_the_new_level() -> None:
    rng = random.Random(3)
    series = noisy(1e-3, 12, rng) + noisy(1.3e-3, 9, rng)
    (step,) = detect_change_points(series)
    assert step.index == 12
    assert step.change == pytest.approx(0.3, abs=0.03)


def test_up_and_down_steps_both_named() -> None:
    steps = detect_change_points([1.0] * 5 + [2.0] * 5 + [1.0] * 5)
    assert [(s.index, round(s.change, 2)) for s in steps] == [(5, 1.0), (10, -0.5)]


@pytest.mark.parametrize("seed", range(20))
def test_noise_alone_is_no_step(seed: int) -> None:
    assert detect_change_points(noisy(1e-3, 30, random.Random(seed), sigma=0.02)) == []


def test_a_clear_but_tiny_shift_is_merged_away() -> None:
    # perfectly quiet series: a 2% shift is statistically clear, but below min_change (5%)
    assert detect_change_points([1.0] * 6 + [1.02] * 6) == []
    assert len(detect_change_points([1.0] * 6 + [1.02] * 6, min_change=0.01)) == 1


def test_too_short_or_unusable_series() -> None:
    assert detect_change_points([1.0, 2.0, 2.0]) == []  # needs two runs on each side
    assert detect_change_points([1.0, 1.0, 0.0, 2.0, 2.0]) == []  # not positive: no log scale
    assert noise_sigma([1.0]) == 0.0


def test_sparkline_scales_between_min_and_max() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([2.0, 2.0]) == "▄▄"
    assert sparkline([]) == ""
    assert sparkline([1.0, float("nan"), 8.0, float("inf")]) == "▁ █ "  # not finite: a gap, not a crash
    assert sparkline([float("nan")]) == " "


def point(i: int, median: float, commit: str = "") -> SeriesPoint:
    return SeriesPoint(i, f"2024-05-{i:02d}T00:00:00", commit, "main", "m1", median, None, 10)


def test_render_trends_names_the_commit_of_a_step() -> None:
    points = [point(i + 1, 1e-3 if i < 5 else 2e-3, commit=f"c{i:07d}abc") for i in range(10)]
    lines = render_trends({("m1", "t::a"): points}, format_seconds, last=3)
    assert lines[0] == "t::a"
    assert lines[1].startswith("  ▁▁▁▁▁█████  10 run(s); last: 2.00 ms, 2.00 ms, 2.00 ms")
    assert lines[2] == "  stepped +100.0% (1.00 ms -> 2.00 ms) at c0000005 on main, run 6 (2024-05-06)"


def test_render_trends_groups_by_machine_when_several() -> None:
    series = {("m1", "t::a"): [point(1, 1e-3)], ("m2", "t::a"): [point(2, 2e-3)]}
    lines = render_trends(series, format_seconds)
    assert lines[0] == "machine m1:" and "machine m2:" in lines
