"""The gate's statistics on planted sample distributions (fixed seeds, no clocks)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_causal_eval.stats.compare import (
    GateSettings,
    Side,
    Threshold,
    compare,
    parse_threshold,
    seed_for,
)
from pytest_causal_eval.stats.noise import lag1_autocorrelation, noise_profile

TEN = Threshold("relative", 0.10)


def planted(seed: int, n: int = 300, center: float = 1e-3, cv: float = 0.01, rho: float = 0.0) -> list[float]:
    """Log-normal timings with an AR(1) component of autocorrelation ``rho``."""
    rng = np.random.default_rng(seed)
    eps = rng.normal(0.0, cv, n)
    x = np.empty(n)
    x[0] = eps[0]
    for i in range(1, n):
        x[i] = rho * x[i - 1] + math.sqrt(1 - rho * rho) * eps[i]
    return [float(v) for v in center * np.exp(x)]


def judge(base: list[float], cand: list[float], better: str = "lower", threshold: Threshold = TEN) -> str:
    return compare(
        Side.of_samples(base),
        Side.of_samples(cand),
        metric="time",
        better=better,  # type: ignore[arg-type]
        threshold=threshold,
    ).verdict


@pytest.mark.parametrize("seed", range(5))
def test_no_change_passes(seed: int) -> None:
    assert judge(planted(seed), planted(seed + 100)) == "pass"


@pytest.mark.parametrize("shift", [0.97, 1.0, 1.03])
def test_between_process_shift_with_autocorrelation_does_not_cry_wolf(shift: float) -> None:
    base = planted(1, rho=0.8, cv=0.03)
    cand = [v * shift for v in planted(2, rho=0.8, cv=0.03)]
    assert judge(base, cand) == "pass"


def test_thirty_percent_slower_with_tight_noise_is_regressed_with_numbers() -> None:
    base = planted(3)
    cand = [v * 1.30 for v in planted(4)]
    c = compare(Side.of_samples(base), Side.of_samples(cand), metric="time", better="lower", threshold=TEN)
    assert c.verdict == "regressed"
    assert 0.27 < c.change < 0.33
    assert c.ci_low < c.change < c.ci_high
    assert c.ci_low > 0.2
    assert c.n_baseline == c.n_candidate == 300


def test_thirty_percent_faster_is_improved() -> None:
    assert judge(planted(5), [v * 0.7 for v in planted(6)]) == "improved"


def test_wild_noise_is_inconclusive_not_a_guess() -> None:
    base = planted(7, n=20, cv=0.5)
    cand = [v * 1.12 for v in planted(8, n=20, cv=0.5)]
    assert judge(base, cand) == "inconclusive"


def test_higher_is_better_direction() -> None:
    base = planted(9, center=100.0)
    lower = [v * 0.7 for v in planted(10, center=100.0)]
    higher = [v * 1.3 for v in planted(11, center=100.0)]
    assert judge(base, lower, better="higher") == "regressed"
    assert judge(base, higher, better="higher") == "improved"
    assert judge(base, higher, better="lower") == "regressed"


def test_threshold_changes_the_verdict() -> None:
    base = planted(12)
    cand = [v * 1.08 for v in planted(13)]
    assert judge(base, cand) in ("pass", "inconclusive")
    assert judge(base, cand, threshold=Threshold("relative", 0.03)) == "regressed"


def test_absolute_points_for_a_fraction_metric() -> None:
    base = [0.85 + 0.002 * ((i % 5) - 2) for i in range(50)]
    cand = [v - 0.04 for v in base]
    c = compare(
        Side.of_samples(base),
        Side.of_samples(cand),
        metric="accuracy",
        better="higher",
        threshold=parse_threshold("2pts"),
    )
    assert c.verdict == "regressed"
    assert c.change == pytest.approx(-4.0, abs=0.01)
    small = [v - 0.01 for v in base]
    c2 = compare(
        Side.of_samples(base),
        Side.of_samples(small),
        metric="accuracy",
        better="higher",
        threshold=parse_threshold("2pts"),
    )
    assert c2.verdict == "pass"


def test_single_values_are_compared_directly() -> None:
    grow = compare(
        Side.of_value(100.0), Side.of_value(130.0), metric="peak_rss", better="lower", threshold=TEN
    )
    same = compare(
        Side.of_value(100.0), Side.of_value(101.0), metric="peak_rss", better="lower", threshold=TEN
    )
    assert grow.verdict == "regressed"
    assert same.verdict == "pass"
    assert grow.method.startswith("single values")


def test_summary_only_baseline() -> None:
    cand = planted(14)
    base = Side.of_summary(median=1e-3 / 1.3, iqr=1.35e-5, n=300)
    c = compare(base, Side.of_samples(cand), metric="time", better="lower", threshold=TEN)
    assert c.verdict == "regressed"
    same = compare(
        Side.of_summary(1e-3, 1.35e-5, 300),
        Side.of_samples(cand),
        metric="time",
        better="lower",
        threshold=TEN,
    )
    assert same.verdict == "pass"


def test_deterministic_for_a_seed() -> None:
    base, cand = planted(15, cv=0.05), planted(16, cv=0.05)
    a = compare(
        Side.of_samples(base), Side.of_samples(cand), metric="t", better="lower", threshold=TEN, seed=7
    )
    b = compare(
        Side.of_samples(base), Side.of_samples(cand), metric="t", better="lower", threshold=TEN, seed=7
    )
    assert a == b
    assert seed_for("x::time") == seed_for("x::time") != seed_for("y::time")


def test_floor_widens_the_interval() -> None:
    base, cand = planted(17), planted(18)
    narrow = compare(
        Side.of_samples(base),
        Side.of_samples(cand),
        metric="t",
        better="lower",
        threshold=TEN,
        settings=GateSettings(floor=0.0),
    )
    wide = compare(Side.of_samples(base), Side.of_samples(cand), metric="t", better="lower", threshold=TEN)
    assert (wide.ci_high - wide.ci_low) > (narrow.ci_high - narrow.ci_low) + 0.05


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("10%", "relative", 0.10),
        ("5", "relative", 0.05),
        ("2pts", "absolute", 2.0),
        ("0.5 pt", "absolute", 0.5),
        ("off", "off", 0.0),
    ],
)
def test_parse_threshold(text: str, kind: str, value: float) -> None:
    t = parse_threshold(text)
    assert t.kind == kind
    assert t.value == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "abc", "-5%", "0%", "10ms", "2000%"])
def test_parse_threshold_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"threshold|percentage|points"):
        parse_threshold(text)


def test_off_threshold_is_not_compared() -> None:
    with pytest.raises(ValueError, match="off"):
        compare(
            Side.of_value(1.0), Side.of_value(2.0), metric="m", better="lower", threshold=Threshold("off")
        )


def test_noise_profile_orders_by_noise() -> None:
    quiet = noise_profile(planted(19, cv=0.01))
    loud = noise_profile(planted(20, cv=0.10))
    assert quiet.cv == pytest.approx(0.01, rel=0.25)
    assert loud.mdc > quiet.mdc > 0.0
    few = noise_profile(planted(21, n=10, cv=0.10))
    assert few.mdc > loud.mdc
    correlated = noise_profile(planted(22, cv=0.10, rho=0.9))
    assert correlated.autocorr > 0.5
    assert correlated.n_effective < loud.n_effective


def test_lag1_autocorrelation_edges() -> None:
    assert lag1_autocorrelation([1.0, 1.0, 1.0]) == 0.0
    assert lag1_autocorrelation([1.0]) == 0.0
    assert lag1_autocorrelation([1.0, 2.0, 1.0, 2.0, 1.0, 2.0]) < -0.5
    with pytest.raises(ValueError):
        noise_profile([])


def spelled(seed: int, share: float, factor: float = 1.5, n: int = 400, center: float = 1e-3) -> list[float]:
    """Planted rounds where slow spells (``factor`` times the time) cover ``share`` of every 50."""
    base = planted(seed, n=n, center=center)
    return [v * factor if i % 50 < 50 * share else v for i, v in enumerate(base)]


P10 = GateSettings(quantile=0.10)


def test_a_fast_quantile_sees_through_spells_the_median_does_not() -> None:
    base, cand = Side.of_samples(planted(20)), Side.of_samples(spelled(21, share=0.6))
    at_median = compare(base, cand, metric="time", better="lower", threshold=TEN)
    at_p10 = compare(base, cand, metric="time", better="lower", threshold=TEN, settings=P10)
    assert (at_median.verdict, at_median.statistic) == ("regressed", "median")
    assert (at_p10.verdict, at_p10.statistic) == ("pass", "p10")
    assert abs(at_p10.change) < 0.02
    assert at_p10.candidate_center == pytest.approx(np.quantile(spelled(21, share=0.6), 0.10))
    assert "bootstrap of the p10 ratio" in at_p10.method


def test_a_fast_quantile_catches_a_regression_behind_a_spelled_baseline() -> None:
    base = Side.of_samples(spelled(22, share=0.6))
    cand = Side.of_samples([v * 1.15 for v in planted(23)])
    at_median = compare(base, cand, metric="time", better="lower", threshold=TEN)
    at_p10 = compare(base, cand, metric="time", better="lower", threshold=TEN, settings=P10)
    assert at_median.verdict != "regressed" and at_median.change < -0.15
    assert at_p10.verdict == "regressed"
    assert at_p10.change == pytest.approx(0.15, abs=0.02)


def test_a_side_without_samples_is_compared_at_the_median() -> None:
    cand = Side.of_samples(planted(24))
    summary = compare(
        Side.of_summary(1e-3, 1.35e-5, 300), cand, metric="time", better="lower", threshold=TEN, settings=P10
    )
    assert summary.statistic == "median"
    assert summary.candidate_center == pytest.approx(float(np.median(planted(24))))
    single = compare(Side.of_value(1e-3), cand, metric="time", better="lower", threshold=TEN, settings=P10)
    assert single.statistic == "median"
