"""Directed acyclic graphs of binary variables and CLadder's graph families.

Pure graph logic: parsing edge lists, topological order, ancestry, mediators and the backdoor
criterion (checked by d-separation with the Bayes-ball style reachability algorithm).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from pytest_causal_eval.engine.errors import EngineError, UnknownNameError

__all__ = ["FAMILIES", "FAMILY_ROLES", "Graph", "family_graph", "parse_structure"]

MAX_VARIABLES = 12

#: Edge lists of CLadder's ten graph families; ``X`` is the treatment and ``Y`` the outcome.
FAMILIES: dict[str, str] = {
    "chain": "X->V2,V2->Y",
    "fork": "X->Y,V2->Y",
    "collision": "X->V3,Y->V3",
    "confounding": "V1->X,V1->Y,X->Y",
    "mediation": "X->V2,X->Y,V2->Y",
    "IV": "V1->X,V2->X,V1->Y,X->Y",
    "arrowhead": "X->V3,V2->V3,X->Y,V2->Y,V3->Y",
    "diamond": "X->V3,X->V2,V2->Y,V3->Y",
    "diamondcut": "V1->V3,V1->X,X->Y,V3->Y",
    "frontdoor": "V1->X,X->V3,V1->Y,V3->Y",
}

#: The story role each non-treatment, non-outcome variable plays in a family.
FAMILY_ROLES: dict[str, dict[str, str]] = {
    "chain": {"V2": "mediator"},
    "fork": {"V2": "other_cause"},
    "collision": {"V3": "collider"},
    "confounding": {"V1": "confounder"},
    "mediation": {"V2": "mediator"},
    "IV": {"V1": "confounder", "V2": "instrument"},
    "arrowhead": {"V2": "other_cause", "V3": "mediator"},
    "diamond": {"V2": "mediator", "V3": "mediator2"},
    "diamondcut": {"V1": "confounder", "V3": "mediator2"},
    "frontdoor": {"V1": "confounder", "V3": "mediator"},
}


def parse_structure(structure: str) -> list[tuple[str, str]]:
    """Parse ``"X->V2,V2->Y"`` into a list of ``(parent, child)`` edges."""
    edges: list[tuple[str, str]] = []
    for part in structure.split(","):
        part = part.strip()
        if not part:
            continue
        pieces = [p.strip() for p in part.split("->")]
        if len(pieces) != 2 or not all(pieces):
            raise EngineError(f"bad edge {part!r} in structure {structure!r}; expected 'A->B'")
        edges.append((pieces[0], pieces[1]))
    if not edges:
        raise EngineError(f"empty structure {structure!r}")
    return edges


@dataclass(frozen=True)
class Graph:
    """A DAG over named variables, stored in a deterministic topological order."""

    names: tuple[str, ...]
    parents: tuple[tuple[int, ...], ...]

    @classmethod
    def from_edges(cls, edges: Iterable[tuple[str, str]], nodes: Sequence[str] = ()) -> Graph:
        edge_list = list(edges)
        order: list[str] = list(dict.fromkeys([*nodes, *(n for e in edge_list for n in e)]))
        pa: dict[str, list[str]] = {n: [] for n in order}
        for a, b in edge_list:
            if a == b:
                raise EngineError(f"self-loop on {a!r}")
            if a not in pa[b]:
                pa[b].append(a)
        topo: list[str] = []
        placed: set[str] = set()
        remaining = list(order)
        while remaining:
            ready = [n for n in remaining if all(p in placed for p in pa[n])]
            if not ready:
                raise EngineError(f"graph has a cycle among {sorted(remaining)}")
            for n in ready:
                topo.append(n)
                placed.add(n)
            remaining = [n for n in remaining if n not in placed]
        if len(topo) > MAX_VARIABLES:
            raise EngineError(f"{len(topo)} variables; exact inference supports at most {MAX_VARIABLES}")
        index = {n: i for i, n in enumerate(topo)}
        return cls(tuple(topo), tuple(tuple(index[p] for p in pa[n]) for n in topo))

    @classmethod
    def from_structure(cls, structure: str) -> Graph:
        return cls.from_edges(parse_structure(structure))

    @cached_property
    def index(self) -> Mapping[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        kids: list[list[int]] = [[] for _ in self.names]
        for child, pas in enumerate(self.parents):
            for p in pas:
                kids[p].append(child)
        return tuple(tuple(k) for k in kids)

    def idx(self, name: str) -> int:
        try:
            return self.index[name]
        except KeyError:
            raise EngineError(f"unknown variable {name!r}; variables: {', '.join(self.names)}") from None

    def parent_names(self, name: str) -> tuple[str, ...]:
        return tuple(self.names[p] for p in self.parents[self.idx(name)])

    def descendants(self, name: str) -> set[str]:
        """Strict descendants of ``name``."""
        out: set[int] = set()
        stack = list(self.children[self.idx(name)])
        while stack:
            i = stack.pop()
            if i not in out:
                out.add(i)
                stack.extend(self.children[i])
        return {self.names[i] for i in out}

    def ancestors(self, name: str) -> set[str]:
        """Strict ancestors of ``name``."""
        out: set[int] = set()
        stack = list(self.parents[self.idx(name)])
        while stack:
            i = stack.pop()
            if i not in out:
                out.add(i)
                stack.extend(self.parents[i])
        return {self.names[i] for i in out}

    def mediators(self, treatment: str, outcome: str) -> tuple[str, ...]:
        """Variables on a directed path from ``treatment`` to ``outcome`` (in topological order)."""
        between = self.descendants(treatment) & self.ancestors(outcome)
        return tuple(n for n in self.names if n in between)

    def d_separated(self, xs: Iterable[str], ys: Iterable[str], given: Iterable[str]) -> bool:
        """Whether ``xs`` and ``ys`` are d-separated given ``given`` (reachability algorithm)."""
        z = {self.idx(n) for n in given}
        targets = {self.idx(n) for n in ys}
        anc_z: set[int] = set(z)
        for n in given:
            anc_z |= {self.idx(a) for a in self.ancestors(n)}
        # states: (node, arrived_from_child) ; from_child=True means travelling "up"
        stack = [(self.idx(n), True) for n in xs]
        seen: set[tuple[int, bool]] = set()
        while stack:
            node, up = stack.pop()
            if (node, up) in seen:
                continue
            seen.add((node, up))
            if node not in z and node in targets:
                return False
            if up and node not in z:
                stack.extend((p, True) for p in self.parents[node])
                stack.extend((c, False) for c in self.children[node])
            elif not up:
                if node not in z:
                    stack.extend((c, False) for c in self.children[node])
                if node in anc_z:
                    stack.extend((p, True) for p in self.parents[node])
        return True

    def is_backdoor_set(self, treatment: str, outcome: str, adjust: Iterable[str]) -> bool:
        """Pearl's backdoor criterion for the effect of ``treatment`` on ``outcome``."""
        z = set(adjust)
        if treatment in z or outcome in z:
            return False
        if z & self.descendants(treatment):
            return False
        # remove the edges out of the treatment, then test d-separation
        t = self.idx(treatment)
        cut = Graph(
            self.names,
            tuple(tuple(p for p in pas if p != t) for pas in self.parents),
        )
        return cut.d_separated([treatment], [outcome], z)


def family_graph(family: str) -> Graph:
    """The graph of a CLadder family by name."""
    try:
        structure = FAMILIES[family]
    except KeyError:
        raise UnknownNameError("graph family", family, FAMILIES) from None
    return Graph.from_structure(structure)
