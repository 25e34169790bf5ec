"""Rendering causal models, mechanisms and questions as English text (pure string building)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from pytest_causal_eval.engine.causal.graphs import FAMILY_ROLES, Graph
from pytest_causal_eval.engine.causal.sampling import Mechanism
from pytest_causal_eval.engine.causal.scm import CausalModel
from pytest_causal_eval.engine.causal.stories import Story, Variable

__all__ = [
    "ANSWER_INSTRUCTION",
    "PREAMBLE",
    "assemble",
    "conjunction",
    "describe_mechanisms",
    "describe_structure",
    "describe_tables",
    "story_variables",
]

PREAMBLE = "Consider a closed, hypothetical world in which only the following causal relationships exist"
ANSWER_INSTRUCTION = "Answer yes or no."


def story_variables(family: str, story: Story) -> dict[str, Variable]:
    """Variable name -> story variable, by the role each variable plays in the family."""
    roles = {"X": "treatment", "Y": "outcome", **FAMILY_ROLES[family]}
    return {name: story.variable(role) for name, role in roles.items()}


def conjunction(items: Sequence[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def describe_structure(graph: Graph, names: Mapping[str, Variable]) -> str:
    """One sentence per cause, e.g. ``Rainfall has a direct effect on irrigation and harvest.``"""
    out: list[str] = []
    for i, name in enumerate(graph.names):
        kids = [names[graph.names[c]].noun for c in graph.children[i]]
        if kids:
            noun = names[name].noun
            out.append(f"{noun[0].upper()}{noun[1:]} has a direct effect on {conjunction(kids)}.")
    return " ".join(out)


def _pct(p: float) -> str:
    return f"{round(p * 100.0):d}%"


def describe_tables(model: CausalModel, names: Mapping[str, Variable]) -> str:
    """Every conditional probability of the model, one sentence each."""
    out: list[str] = []
    graph = model.graph
    for i, name in enumerate(graph.names):
        var = names[name]
        pas = [graph.names[p] for p in graph.parents[i]]
        table = model.cpts[i].reshape(-1)
        if not pas:
            out.append(f"The probability that {var.on} is {_pct(float(table[0]))}.")
            continue
        for cfg, p in enumerate(table.tolist()):
            bits = np.unravel_index(cfg, (2,) * len(pas))
            cond = " and ".join(names[pa].clause(int(b)) for pa, b in zip(pas, bits, strict=True))
            out.append(f"When {cond}, the probability that {var.on} is {_pct(p)}.")
    return " ".join(out)


def describe_mechanisms(mechanisms: Iterable[Mechanism], names: Mapping[str, Variable]) -> str:
    """Deterministic mechanisms, e.g. ``The harvest is large exactly when A or B.``"""
    out: list[str] = []
    for mech in mechanisms:
        lits = [names[p].clause(0 if neg else 1) for p, neg in zip(mech.parents, mech.negated, strict=True)]
        word = "or" if mech.op == "or" else "and"
        head = names[mech.variable].on
        out.append(f"{head[0].upper()}{head[1:]} exactly when {conjunction(lits, word)}.")
    return " ".join(out)


def assemble(structure: str, given: str, question: str) -> str:
    """The full prompt text."""
    given_part = f" {given}" if given else ""
    return f"{PREAMBLE}: {structure}{given_part}\nQuestion: {question}\n{ANSWER_INSTRUCTION}"
