"""Seeded sampling of causal models in a graph family.

Tables are logistic in the parents, ``P(V=1 | pa) = sigmoid(b + sum_j s_j w_j (2 pa_j - 1))``,
with a sign ``s_j`` per edge and a strength ``w_j`` drawn from the difficulty's range (strong
effects are easy to read off, weak ones hard), then quantized to whole percents in [1, 99] so a
prompt that states the percentages describes the model exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from pytest_causal_eval.engine.causal.graphs import Graph, family_graph
from pytest_causal_eval.engine.causal.scm import CausalModel
from pytest_causal_eval.engine.errors import UnknownNameError

__all__ = ["DIFFICULTIES", "Mechanism", "SampledModel", "sample_deterministic", "sample_model"]

#: Range of |edge strength| on the logit scale, per difficulty.
DIFFICULTIES: dict[str, tuple[float, float]] = {
    "easy": (1.5, 3.0),
    "medium": (0.6, 1.5),
    "hard": (0.1, 0.6),
}


@dataclass(frozen=True, slots=True)
class SampledModel:
    family: str
    model: CausalModel
    signs: dict[tuple[str, str], int]
    difficulty: str


@dataclass(frozen=True, slots=True)
class Mechanism:
    """A deterministic response function: ``op`` over parents, each possibly negated."""

    variable: str
    op: str  # "and", "or" or "copy" (single parent)
    parents: tuple[str, ...]
    negated: tuple[bool, ...]

    def table(self) -> npt.NDArray[np.float64]:
        k = len(self.parents)
        configs = np.array(np.unravel_index(np.arange(1 << k), (2,) * k)).T.astype(bool)
        lits = configs ^ np.array(self.negated, dtype=bool)
        vals = lits.all(axis=1) if self.op == "and" else lits.any(axis=1)
        out: npt.NDArray[np.float64] = vals.astype(np.float64).reshape((2,) * k)
        return out


@lru_cache(maxsize=64)
def _signed_configs(k: int) -> npt.NDArray[np.float64]:
    """``(2**k, k)`` parent configurations in C order, coded as -1/+1."""
    if k == 0:
        return np.zeros((1, 0))
    out: npt.NDArray[np.float64] = np.array(np.unravel_index(np.arange(1 << k), (2,) * k)).T * 2.0 - 1.0
    return out


def _graph(family: str) -> Graph:
    return _family_graph_cached(family)


@lru_cache(maxsize=32)
def _family_graph_cached(family: str) -> Graph:
    return family_graph(family)


def sample_model(family: str, rng: np.random.Generator, difficulty: str = "medium") -> SampledModel:
    """A random model of ``family`` with edge signs and strengths set by ``difficulty``."""
    if difficulty not in DIFFICULTIES:
        raise UnknownNameError("difficulty", difficulty, DIFFICULTIES)
    lo, hi = DIFFICULTIES[difficulty]
    graph = _graph(family)
    n_edges = sum(len(p) for p in graph.parents)
    draws = rng.random(len(graph.names) + 2 * n_edges)
    base = draws[: len(graph.names)] * 2.0 - 1.0
    signs_all = np.where(draws[len(graph.names) : len(graph.names) + n_edges] < 0.5, -1.0, 1.0)
    strength = lo + (hi - lo) * draws[len(graph.names) + n_edges :]
    cpts: list[npt.NDArray[np.float64]] = []
    signs: dict[tuple[str, str], int] = {}
    e = 0
    for i, pas in enumerate(graph.parents):
        k = len(pas)
        w = signs_all[e : e + k] * strength[e : e + k]
        for j, p in enumerate(pas):
            signs[(graph.names[p], graph.names[i])] = int(signs_all[e + j])
        e += k
        logit = base[i] + _signed_configs(k) @ w
        p1 = np.clip(np.rint(100.0 / (1.0 + np.exp(-logit))), 1.0, 99.0) / 100.0
        cpts.append(p1.reshape((2,) * k))
    return SampledModel(family, CausalModel(graph, cpts), signs, difficulty)


def sample_deterministic(family: str, rng: np.random.Generator) -> tuple[CausalModel, list[Mechanism]]:
    """A model whose non-root variables are and/or of (possibly negated) parents."""
    graph = _graph(family)
    draws = rng.random(4 * len(graph.names) + 8)
    cpts: list[npt.NDArray[np.float64]] = []
    mechanisms: list[Mechanism] = []
    d = 0
    for name, pas in zip(graph.names, graph.parents, strict=True):
        if not pas:
            cpts.append(np.asarray(np.clip(np.rint(draws[d] * 100.0), 5.0, 95.0) / 100.0))
            d += 1
            continue
        names = tuple(graph.names[p] for p in pas)
        op = "copy" if len(pas) == 1 else ("and" if draws[d] < 0.5 else "or")
        negated = tuple(bool(draws[d + 1 + j] < 0.25) for j in range(len(pas)))
        d += 1 + len(pas)
        mech = Mechanism(name, op, names, negated)
        mechanisms.append(mech)
        cpts.append(mech.table())
    return CausalModel(graph, cpts), mechanisms
