"""Binary causal Bayesian networks with exact inference by enumeration.

A :class:`CausalModel` holds a DAG and one conditional probability table per variable,
``P(V = 1 | parents)``. Every query enumerates the ``2**n`` joint states at once with numpy
(``n <= 12``): per-variable factors are precomputed as an ``(n, 2**n)`` matrix, so a joint, an
intervention or a table of interventional expectations costs a handful of vectorized operations.

Counterfactuals use abduction-action-prediction on response functions: each variable is
``V = 1 if U_V < P(V = 1 | pa)`` with ``U_V`` uniform, which turns every table into a finite
mixture of deterministic response functions (exactly one when the table is 0/1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from pytest_causal_eval.engine.causal.graphs import Graph
from pytest_causal_eval.engine.errors import EngineError

__all__ = ["CausalModel"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_MAX_RESPONSE_COMBINATIONS = 1 << 22


@lru_cache(maxsize=256)
def _structure_arrays(graph: Graph) -> tuple[BoolArray, IntArray]:
    """State bits ``(n, 2**n)`` and each variable's parent-configuration index ``(n, 2**n)``."""
    n = len(graph.names)
    states = np.arange(1 << n, dtype=np.int64)
    bits = ((states[None, :] >> np.arange(n, dtype=np.int64)[:, None]) & 1).astype(bool)
    pidx = np.zeros((n, 1 << n), dtype=np.int64)
    for i, pas in enumerate(graph.parents):
        for p in pas:  # C order: first parent is the most significant axis
            pidx[i] = pidx[i] * 2 + bits[p]
    bits.setflags(write=False)
    pidx.setflags(write=False)
    return bits, pidx


_PARAM_KEY = re.compile(r"^\s*[pP]\(\s*(\w+)\s*(?:\|\s*([\w\s,]+))?\)\s*$")


class CausalModel:
    """A binary causal Bayesian network; variables take values 0 and 1."""

    __slots__ = ("_bits", "_factors", "_joint", "_p1", "_responses", "cpts", "graph")

    def __init__(self, graph: Graph, cpts: Sequence[npt.ArrayLike]) -> None:
        if len(cpts) != len(graph.names):
            raise EngineError(f"{len(cpts)} tables for {len(graph.names)} variables")
        tables: list[FloatArray] = []
        for name, pas, cpt in zip(graph.names, graph.parents, cpts, strict=True):
            arr = np.asarray(cpt, dtype=np.float64)
            if arr.shape != (2,) * len(pas):
                raise EngineError(
                    f"table of {name!r} has shape {arr.shape}; expected {(2,) * len(pas)} "
                    f"for parents {[graph.names[p] for p in pas]}"
                )
            if not np.all((arr >= 0.0) & (arr <= 1.0)):
                raise EngineError(f"table of {name!r} has a probability outside [0, 1]")
            tables.append(arr)
        self.graph = graph
        self.cpts: tuple[FloatArray, ...] = tuple(tables)
        bits, pidx = _structure_arrays(graph)
        self._bits = bits
        self._p1: FloatArray = np.stack([t.reshape(-1)[pidx[i]] for i, t in enumerate(tables)])
        self._factors: FloatArray = np.where(bits, self._p1, 1.0 - self._p1)
        self._joint: FloatArray = self._factors.prod(axis=0)
        self._responses: tuple[npt.NDArray[np.int64], FloatArray, list[npt.NDArray[np.int8]]] | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_cladder(cls, structure: str, params: Mapping[str, Any]) -> CausalModel:
        """Build from CLadder's ``structure`` (``"X->V2,V2->Y"``) and ``params`` tables.

        ``params`` maps keys such as ``"p(Y | X, V2)"`` to nested lists indexed by the parents
        in the order the key names them; a root's entry is a number.
        """
        base = Graph.from_structure(structure)
        given: dict[str, tuple[list[str], FloatArray]] = {}
        for key, value in params.items():
            m = _PARAM_KEY.match(key)
            if m is None:
                raise EngineError(f"bad parameter key {key!r}")
            child = m.group(1)
            pas = [p.strip() for p in (m.group(2) or "").split(",") if p.strip()]
            given[child] = (pas, np.asarray(value, dtype=np.float64))
        cpts: list[FloatArray] = []
        for name in base.names:
            if name not in given:
                raise EngineError(f"no parameters for variable {name!r}")
            pas, arr = given[name]
            expected = list(base.parent_names(name))
            if sorted(pas) != sorted(expected):
                raise EngineError(f"parameters of {name!r} name parents {pas}; the structure has {expected}")
            if not pas and arr.shape == (1,):
                arr = arr.reshape(())
            if arr.shape != (2,) * len(pas):
                raise EngineError(f"parameters of {name!r} have shape {arr.shape}")
            cpts.append(np.transpose(arr, [pas.index(p) for p in expected]) if pas else arr)
        return cls(base, cpts)

    def to_cladder(self) -> dict[str, Any]:
        """The model as CLadder writes one: ``structure`` and ``params`` (:meth:`from_cladder` reads it).

        ``params`` maps ``"p(V)"`` to ``P(V=1)`` for a root and ``"p(V | A, B)"`` to nested lists
        of ``P(V=1 | A=a, B=b)`` indexed ``[a][b]`` in the order the key names the parents.
        """
        edges = [
            f"{self.names[p]}->{name}"
            for name, pas in zip(self.names, self.graph.parents, strict=True)
            for p in pas
        ]
        params: dict[str, Any] = {}
        for name, pas, cpt in zip(self.names, self.graph.parents, self.cpts, strict=True):
            if pas:
                params[f"p({name} | {', '.join(self.names[p] for p in pas)})"] = cpt.tolist()
            else:
                params[f"p({name})"] = float(cpt)
        return {"structure": ",".join(edges), "params": params}

    # ------------------------------------------------------------------ helpers
    @property
    def names(self) -> tuple[str, ...]:
        return self.graph.names

    def _mask(self, assignment: Mapping[str, int]) -> BoolArray:
        mask = np.ones(self._bits.shape[1], dtype=bool)
        for name, value in assignment.items():
            row = self._bits[self.graph.idx(name)]
            mask &= row if value else ~row
        return mask

    def joint(self, do: Mapping[str, int] | None = None) -> FloatArray:
        """Probabilities of all ``2**n`` states (bit ``i`` of the index is variable ``i``)."""
        if not do:
            return self._joint
        keep = np.ones(len(self.names), dtype=bool)
        for name in do:
            keep[self.graph.idx(name)] = False
        out: FloatArray = self._factors[keep].prod(axis=0) * self._mask(do)
        return out

    def _group(self, names: Sequence[str]) -> IntArray:
        group = np.zeros(self._bits.shape[1], dtype=np.int64)
        for j, name in enumerate(names):
            group |= self._bits[self.graph.idx(name)].astype(np.int64) << j
        return group

    def do_table(self, outcome: str, fixed: Sequence[str]) -> FloatArray:
        """``E[outcome | do(fixed = c)]`` for every configuration ``c`` of ``fixed``.

        Configuration index: bit ``j`` is the value of ``fixed[j]``.
        """
        keep = np.ones(len(self.names), dtype=bool)
        for name in fixed:
            keep[self.graph.idx(name)] = False
        weights = self._factors[keep].prod(axis=0) if keep.any() else np.ones(self._bits.shape[1])
        y = self._bits[self.graph.idx(outcome)]
        table: FloatArray = np.bincount(
            self._group(fixed), weights=weights * y, minlength=1 << len(fixed)
        ).astype(np.float64, copy=False)
        return table

    def _distribution(self, names: Sequence[str], weights: FloatArray) -> FloatArray:
        dist: FloatArray = np.bincount(self._group(names), weights=weights, minlength=1 << len(names)).astype(
            np.float64, copy=False
        )
        return dist

    # ------------------------------------------------------------------ rung 1
    def prob(
        self,
        event: Mapping[str, int],
        given: Mapping[str, int] | None = None,
        do: Mapping[str, int] | None = None,
    ) -> float:
        """``P(event | given)`` in the model, optionally after ``do(...)``."""
        joint = self.joint(do)
        both = dict(given or {})
        for k, v in event.items():
            if k in both and both[k] != v:
                return 0.0
            both[k] = v
        num = float(joint[self._mask(both)].sum())
        if not given:
            return num
        den = float(joint[self._mask(given)].sum())
        if den <= 0.0:
            raise EngineError(f"conditioning event {dict(given)} has probability zero")
        return num / den

    def marginal(self, name: str) -> float:
        """``P(name = 1)``."""
        return self.prob({name: 1})

    def factorized_marginal(self, name: str) -> float:
        """``P(name = 1)`` with each variable's parents treated as independent.

        ``sum_pa P(V=1 | pa) * prod_j P(pa_j)``, recursively. This is the convention behind the
        ``P(V=1)`` values CLadder publishes in its model metadata; it equals :meth:`marginal`
        whenever a variable's parents are independent (e.g. at most one parent).
        """
        marg: list[float] = []
        for i, pas in enumerate(self.graph.parents):
            cpt = self.cpts[i]
            for p in reversed(pas):  # contract the last axis first
                cpt = cpt @ np.array([1.0 - marg[p], marg[p]])
            marg.append(float(cpt))
            if self.names[i] == name:
                return marg[-1]
        raise EngineError(f"unknown variable {name!r}; variables: {', '.join(self.names)}")

    def correlation(self, treatment: str = "X", outcome: str = "Y") -> float:
        """``P(Y=1 | X=1) - P(Y=1 | X=0)``."""
        return self.prob({outcome: 1}, {treatment: 1}) - self.prob({outcome: 1}, {treatment: 0})

    # ------------------------------------------------------------------ rung 2
    def do(self, interventions: Mapping[str, int]) -> CausalModel:
        """The mutilated model: each intervened variable becomes a root fixed to its value."""
        names = self.graph.names
        parents = tuple(
            () if n in interventions else pas for n, pas in zip(names, self.graph.parents, strict=True)
        )
        cpts = [
            np.asarray(float(interventions[n])) if n in interventions else t
            for n, t in zip(names, self.cpts, strict=True)
        ]
        for name, value in interventions.items():
            self.graph.idx(name)
            if value not in (0, 1):
                raise EngineError(f"do({name}={value}): binary variables take 0 or 1")
        return CausalModel(Graph(names, parents), cpts)

    def ate(self, treatment: str = "X", outcome: str = "Y") -> float:
        """``E[Y | do(X=1)] - E[Y | do(X=0)]``."""
        table = self.do_table(outcome, [treatment])
        return float(table[1] - table[0])

    def ett(self, treatment: str = "X", outcome: str = "Y", factual: int = 1) -> float:
        """``E[Y_{X=1} - Y_{X=0} | X = factual]`` (effect of treatment on the treated).

        Observing ``X`` informs only about its non-descendants, so the effect is averaged over
        their posterior given ``X = factual``.
        """
        desc = self.graph.descendants(treatment)
        others = [n for n in self.names if n != treatment and n not in desc]
        table = self.do_table(outcome, [treatment, *others]).reshape(-1, 2)
        t_row = self._bits[self.graph.idx(treatment)]
        weights = self._joint * (t_row if factual else ~t_row)
        total = weights.sum()
        if total <= 0.0:
            raise EngineError(f"P({treatment}={factual}) is zero; the effect on the treated is undefined")
        post = self._distribution(others, weights) / total
        return float(post @ (table[:, 1] - table[:, 0]))

    def mediation_tables(self, treatment: str, outcome: str) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(E[Y | do(X=x, M=m)]`` shaped ``(2**|M|, 2)``, ``P(m | do(X=0))``, ``P(m | do(X=1))``).

        ``M`` is the tuple of mediators in topological order; configuration bit ``j`` is ``M[j]``.
        These are the ingredients of the mediation formula; combining them as if ``M`` and ``Y``
        shared no cause is CLadder's convention (see :mod:`.cladder`), not :meth:`nde`/:meth:`nie`.
        """
        meds = list(self.graph.mediators(treatment, outcome))
        table = self.do_table(outcome, [treatment, *meds]).reshape(-1, 2)
        pm0 = self._distribution(meds, self.joint({treatment: 0}))
        pm1 = self._distribution(meds, self.joint({treatment: 1}))
        return table, pm0, pm1

    def _outcome_with_treatment(self, treatment: str, outcome: str, x: int) -> FloatArray:
        """``P(Y=1 | pa_Y)`` in every state, with the treatment's bit among ``pa_Y`` read as ``x``."""
        yi, ti = self.graph.idx(outcome), self.graph.idx(treatment)
        cfg = np.zeros(self._bits.shape[1], dtype=np.int64)
        for p in self.graph.parents[yi]:
            bit = np.full(cfg.shape, x, dtype=np.int64) if p == ti else self._bits[p].astype(np.int64)
            cfg = cfg * 2 + bit
        out: FloatArray = self.cpts[yi].reshape(-1)[cfg]
        return out

    def _nested(self, treatment: str, outcome: str, direct: int, mediated: int) -> float:
        """``E[Y_{X=direct, M=M_{X=mediated}}]`` with ``M`` every mediator of ``X`` on ``Y``.

        Each variable has its own independent noise, so every parent of ``Y`` other than ``X``
        takes its value in the world ``do(X=mediated)`` (mediators and non-descendants of ``X``
        alike) while ``Y`` reads ``X = direct`` on its direct edge.
        """
        weights = self.joint({treatment: mediated})
        return float(weights @ self._outcome_with_treatment(treatment, outcome, direct))

    def nde(self, treatment: str = "X", outcome: str = "Y") -> float:
        """Pearl's natural direct effect ``E[Y_{X=1, M_{X=0}}] - E[Y_{X=0}]``.

        ``M`` is every mediator (variable on a directed path from X to Y), held at the value it
        would take under ``X=0`` while the direct edge ``X -> Y`` sees ``X=1``. Exact for any
        graph (each variable has independent noise): in the arrowhead, where ``V2`` causes both
        the mediator ``V3`` and ``Y``, it is ``sum_{v2,m} P(v2) P(m | X=0, v2) (P(Y=1 | X=1, m,
        v2) - P(Y=1 | X=0, m, v2))``.
        """
        return self._nested(treatment, outcome, 1, 0) - self._nested(treatment, outcome, 0, 0)

    def nie(self, treatment: str = "X", outcome: str = "Y") -> float:
        """Pearl's natural indirect effect ``E[Y_{X=0, M_{X=1}}] - E[Y_{X=0}]``."""
        return self._nested(treatment, outcome, 0, 1) - self._nested(treatment, outcome, 0, 0)

    # ------------------------------------------------------------------ rung 3
    def _response_types(self, i: int) -> tuple[FloatArray, npt.NDArray[np.int8]]:
        """Weights ``(T,)`` and deterministic response tables ``(T, 2**k)`` of variable ``i``."""
        p = self.cpts[i].reshape(-1)
        cuts = np.unique(np.concatenate([[0.0, 1.0], p]))
        lo, hi = cuts[:-1], cuts[1:]
        width = hi - lo
        keep = width > 0
        tables = (p[None, :] >= hi[keep][:, None]).astype(np.int8)
        return width[keep], tables

    def _response_combinations(
        self,
    ) -> tuple[npt.NDArray[np.int64], FloatArray, list[npt.NDArray[np.int8]]]:
        """Every combination of response types (``(n, C)`` indices), its weight, the tables."""
        if self._responses is None:
            n = len(self.names)
            types = [self._response_types(i) for i in range(n)]
            sizes = [len(w) for w, _ in types]
            total = int(np.prod(sizes))
            if total > _MAX_RESPONSE_COMBINATIONS:
                raise EngineError(
                    f"counterfactual needs {total} response combinations; too many to enumerate"
                )
            combo = np.indices(sizes).reshape(n, -1).astype(np.int64)
            weight = np.ones(combo.shape[1])
            for i, (w, _) in enumerate(types):
                weight *= w[combo[i]]
            self._responses = (combo, weight, [t for _, t in types])
        return self._responses

    def counterfactual(
        self,
        outcome: str,
        value: int,
        do: Mapping[str, int],
        evidence: Mapping[str, int] | None = None,
    ) -> float:
        """``P(outcome_{do} = value | evidence)``: abduction, action, prediction.

        ``evidence`` is observed in the factual world; ``do`` acts in the counterfactual one.
        """
        evidence = dict(evidence or {})
        combo, weight, tables = self._response_combinations()
        do_idx = {self.graph.idx(k): v for k, v in do.items()}

        def solve(intervene: Mapping[int, int]) -> list[npt.NDArray[np.int8]]:
            values: list[npt.NDArray[np.int8]] = []
            for i, pas in enumerate(self.graph.parents):
                if i in intervene:
                    values.append(np.full(combo.shape[1], intervene[i], dtype=np.int8))
                    continue
                cfg = np.zeros(combo.shape[1], dtype=np.int64)
                for p in pas:
                    cfg = cfg * 2 + values[p]
                values.append(tables[i][combo[i], cfg])
            return values

        factual = solve({})
        consistent = np.ones(combo.shape[1], dtype=bool)
        for name, v in evidence.items():
            consistent &= factual[self.graph.idx(name)] == v
        den = float(weight[consistent].sum())
        if den <= 0.0:
            raise EngineError(f"evidence {evidence} has probability zero")
        cf = solve(do_idx)[self.graph.idx(outcome)]
        return float(weight[consistent & (cf == value)].sum()) / den

    # ------------------------------------------------------------------ misc
    def __repr__(self) -> str:
        edges = ",".join(
            f"{self.names[p]}->{n}"
            for n, pas in zip(self.names, self.graph.parents, strict=True)
            for p in pas
        )
        return f"CausalModel({edges!r})"
