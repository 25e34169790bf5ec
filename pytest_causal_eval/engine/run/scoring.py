"""Accuracy with uncertainty: Wilson intervals, cluster bootstrap and running tallies.

Pure statistics, no I/O. :class:`Scoreboard` keeps running counts only (overall, per breakdown
key and per cluster), so memory does not grow with the number of questions. Per-cluster counts
are exact up to ``max_clusters`` distinct clusters; beyond that clusters are folded into
``max_clusters`` buckets by a stable hash of their id, which keeps every cluster's questions in
one bucket, so the bucket bootstrap stays valid (if slightly conservative).

A question whose model call failed (an *error*: timeout, HTTP failure) says nothing about the
model's reasoning, so accuracy, its Wilson interval and the cluster bootstrap are computed over the
*answered* questions (those that got a response; an unparseable response counts as not correct).
Errors are counted apart, with their rate over all questions.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["BREAKDOWN_KEYS", "GroupStats", "Scoreboard", "Tally", "cluster_bootstrap", "wilson_interval"]

BREAKDOWN_KEYS = ("task", "rung", "graph")
_Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (``(0, 1)`` when ``n == 0``)."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} outside [0, n={n}]")
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (lo, hi)


def cluster_bootstrap(
    cluster_n: Iterable[int] | np.ndarray,
    cluster_correct: Iterable[int] | np.ndarray,
    *,
    reps: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of accuracy when whole clusters are resampled with replacement.

    ``cluster_n[i]`` questions of cluster ``i``, ``cluster_correct[i]`` of them correct.
    Deterministic for a given ``seed``.
    """
    n = np.asarray(list(cluster_n) if not isinstance(cluster_n, np.ndarray) else cluster_n, dtype=np.float64)
    c = np.asarray(
        list(cluster_correct) if not isinstance(cluster_correct, np.ndarray) else cluster_correct,
        dtype=np.float64,
    )
    if n.shape != c.shape:
        raise ValueError("cluster_n and cluster_correct differ in length")
    k = len(n)
    if k == 0 or n.sum() == 0:
        return (0.0, 1.0)
    if k == 1:
        acc = float(c[0] / n[0])
        return (acc, acc)
    rng = np.random.default_rng(seed)
    stats = np.empty(reps)
    chunk = max(1, min(reps, 200_000 // k))  # bounded working memory (~3 MB) however many clusters
    probs = np.full(k, 1.0 / k)
    for start in range(0, reps, chunk):
        m = min(chunk, reps - start)
        weights = rng.multinomial(k, probs, size=m).astype(np.float64)
        totals = weights @ n
        stats[start : start + m] = np.divide(weights @ c, totals, out=np.zeros(m), where=totals > 0)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))


@dataclass(slots=True)
class Tally:
    """Running counts for a group of questions."""

    n: int = 0
    correct: int = 0
    unparsed: int = 0
    errors: int = 0

    @property
    def answered(self) -> int:
        """Questions that got a response (readable or not): all but the errors."""
        return self.n - self.errors

    @property
    def parsed(self) -> int:
        """Questions the model answered in a readable way."""
        return self.n - self.unparsed - self.errors

    def add(self, *, correct: bool, unparsed: bool, error: bool) -> None:
        self.n += 1
        self.correct += int(correct)
        self.unparsed += int(unparsed)
        self.errors += int(error)


@dataclass(frozen=True, slots=True)
class GroupStats:
    """Accuracy of a group over its answered questions (an unparsed response counts as not correct;
    errors are left out and counted apart: ``error_rate`` is ``errors / n``).

    ``accuracy`` is 0.0 and ``wilson`` is ``(0, 1)`` when nothing was answered (``answered == 0``).
    """

    n: int
    correct: int
    unparsed: int
    errors: int
    accuracy: float
    wilson: tuple[float, float]
    parsed_accuracy: float | None
    answered: int = 0
    error_rate: float = 0.0

    @classmethod
    def from_tally(cls, t: Tally) -> GroupStats:
        return cls(
            n=t.n,
            correct=t.correct,
            unparsed=t.unparsed,
            errors=t.errors,
            accuracy=t.correct / t.answered if t.answered else 0.0,
            wilson=wilson_interval(t.correct, t.answered),
            parsed_accuracy=t.correct / t.parsed if t.parsed else None,
            answered=t.answered,
            error_rate=t.errors / t.n if t.n else 0.0,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "answered": self.answered,
            "correct": self.correct,
            "unparsed": self.unparsed,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "accuracy": self.accuracy,
            "wilson_95": list(self.wilson),
            "parsed_accuracy": self.parsed_accuracy,
        }


@dataclass(slots=True)
class Scoreboard:
    """Running tallies: overall, per breakdown key and value, and per cluster."""

    max_clusters: int = 8192
    total: Tally = field(default_factory=Tally)
    groups: dict[str, dict[str, Tally]] = field(default_factory=lambda: {k: {} for k in BREAKDOWN_KEYS})
    _clusters: dict[str, list[int]] = field(default_factory=dict)
    _buckets: np.ndarray | None = None  # shape (max_clusters, 2) once folded

    def add(
        self, labels: Mapping[str, object], cluster: str, *, correct: bool, unparsed: bool, error: bool
    ) -> None:
        self.total.add(correct=correct, unparsed=unparsed, error=error)
        for key in BREAKDOWN_KEYS:
            value = labels.get(key)
            if value is None or value == "":
                continue
            group = self.groups[key]
            name = str(value)
            tally = group.get(name)
            if tally is None:
                tally = group[name] = Tally()
            tally.add(correct=correct, unparsed=unparsed, error=error)
        if not error:  # the bootstrap resamples answered questions only, like the accuracy
            self._add_cluster(cluster, int(correct))

    def _bucket(self, cluster: str) -> int:
        return zlib.crc32(cluster.encode("utf-8")) % self.max_clusters

    def _add_cluster(self, cluster: str, correct: int) -> None:
        if self._buckets is not None:
            b = self._bucket(cluster)
            self._buckets[b, 0] += 1
            self._buckets[b, 1] += correct
            return
        counts = self._clusters.get(cluster)
        if counts is None:
            if len(self._clusters) >= self.max_clusters:
                self._fold()
                self._add_cluster(cluster, correct)
                return
            counts = self._clusters[cluster] = [0, 0]
        counts[0] += 1
        counts[1] += correct

    def _fold(self) -> None:
        buckets = np.zeros((self.max_clusters, 2), dtype=np.int64)
        for name, (n, c) in self._clusters.items():
            b = self._bucket(name)
            buckets[b, 0] += n
            buckets[b, 1] += c
        self._buckets = buckets
        self._clusters = {}

    @property
    def n_clusters(self) -> int:
        """Clusters with answered questions (non-empty buckets once folded)."""
        if self._buckets is not None:
            return int((self._buckets[:, 0] > 0).sum())
        return len(self._clusters)

    @property
    def clusters_folded(self) -> bool:
        return self._buckets is not None

    def cluster_counts(self) -> tuple[np.ndarray, np.ndarray]:
        if self._buckets is not None:
            used = self._buckets[self._buckets[:, 0] > 0]
            return used[:, 0], used[:, 1]
        arr = np.array(list(self._clusters.values()), dtype=np.int64).reshape(-1, 2)
        return arr[:, 0], arr[:, 1]

    def bootstrap(self, reps: int = 1000, seed: int = 0) -> tuple[float, float]:
        n, c = self.cluster_counts()
        return cluster_bootstrap(n, c, reps=reps, seed=seed)

    def breakdowns(self) -> dict[str, dict[str, GroupStats]]:
        return {
            key: {name: GroupStats.from_tally(t) for name, t in sorted(group.items())}
            for key, group in self.groups.items()
        }
