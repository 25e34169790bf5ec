from __future__ import annotations

import pytest

from pytest_causal_eval.engine import LatencyStats, Scoreboard, cluster_bootstrap, wilson_interval


def test_wilson_hand_computed() -> None:
    # 8 of 10, z = 1.959964: centre = (0.8 + z^2/20) / (1 + z^2/10) = 0.716741,
    # half = z * sqrt(0.8*0.2/10 + z^2/400) / (1 + z^2/10) = 0.226578
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.490163, abs=1e-5)
    assert hi == pytest.approx(0.943319, abs=1e-5)
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_cluster_bootstrap_seeded_and_wider_for_correlated_clusters() -> None:
    # 20 clusters of 10 questions each, all-or-nothing: effectively 20 observations
    n = [10] * 20
    c = [10] * 12 + [0] * 8
    a = cluster_bootstrap(n, c, reps=2000, seed=7)
    assert a == cluster_bootstrap(n, c, reps=2000, seed=7)
    sizes = [3 + (7 * i) % 11 for i in range(30)]
    right = [(s * (i % 4)) // 3 if i % 4 < 4 else 0 for i, s in enumerate(sizes)]
    right = [min(r, s) for r, s in zip(right, sizes, strict=True)]
    assert cluster_bootstrap(sizes, right, seed=1) == cluster_bootstrap(sizes, right, seed=1)
    assert cluster_bootstrap(sizes, right, seed=1) != cluster_bootstrap(sizes, right, seed=2)
    lo, hi = a
    assert lo < 0.6 < hi
    iid = wilson_interval(120, 200)
    assert (hi - lo) > 1.8 * (iid[1] - iid[0])  # correlated clusters: much wider than iid
    # independent questions (one per cluster): close to the Wilson width
    lo1, hi1 = cluster_bootstrap([1] * 200, [1] * 120 + [0] * 80, reps=2000, seed=1)
    assert (hi1 - lo1) == pytest.approx(iid[1] - iid[0], rel=0.2)


def test_scoreboard_counts_unparsed_apart_and_breakdowns() -> None:
    board = Scoreboard()
    labels = {"task": "t", "rung": 1, "graph": "chain"}
    board.add(labels, "m1", correct=True, unparsed=False, error=False)
    board.add(labels, "m1", correct=False, unparsed=True, error=False)
    board.add({"task": "t", "rung": 2, "graph": "fork"}, "m2", correct=False, unparsed=False, error=True)
    board.add({"task": "t", "rung": 2, "graph": "fork"}, "m2", correct=False, unparsed=False, error=False)
    t = board.total
    assert (t.n, t.correct, t.unparsed, t.errors, t.answered, t.parsed) == (4, 1, 1, 1, 3, 2)
    br = board.breakdowns()
    assert br["rung"]["1"].n == 2 and br["rung"]["1"].correct == 1 and br["rung"]["1"].unparsed == 1
    assert br["graph"]["fork"].errors == 1
    assert br["rung"]["2"].parsed_accuracy == 0.0
    assert br["rung"]["1"].parsed_accuracy == 1.0
    assert board.n_clusters == 2


def test_scoreboard_folds_clusters_into_bounded_buckets() -> None:
    board = Scoreboard(max_clusters=64)
    for i in range(1000):
        board.add({}, f"c{i // 2}", correct=i % 3 == 0, unparsed=False, error=False)
    assert board.clusters_folded
    n, c = board.cluster_counts()
    assert len(n) <= 64
    assert int(n.sum()) == 1000 and int(c.sum()) == board.total.correct
    lo, hi = board.bootstrap(500, seed=0)
    assert lo <= board.total.correct / 1000 <= hi


def test_latency_reservoir_is_bounded_and_exact_when_small() -> None:
    small = LatencyStats(capacity=100)
    for v in range(1, 101):
        small.add(float(v))
    s = small.summary()
    assert s.count == 100 and s.min == 1.0 and s.max == 100.0 and s.p50 == pytest.approx(50.5)
    big = LatencyStats(capacity=256, seed=1)
    for v in range(100_000):
        big.add(v / 100_000)
    assert len(big.reservoir) == 256
    summary = big.summary()
    assert summary.count == 100_000
    assert summary.p50 == pytest.approx(0.5, abs=0.1)
    assert summary.mean == pytest.approx(0.5, abs=1e-3)
