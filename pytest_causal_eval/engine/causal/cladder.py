"""CLadder's conventions: its published model quantities and the answers to its questions.

Pure logic over a :class:`~.scm.CausalModel`. CLadder computes some quantities with conventions
that differ from exact inference in some graphs, and its published numbers follow them:

* ``P(V=1)`` treats each variable's parents as independent (:meth:`CausalModel.factorized_marginal`);
* the sign of an estimate is read after rounding it to two decimals, except for marginals and
  explaining-away differences, which are compared exactly;
* a "correct" backdoor adjustment set is a minimal one (no valid proper subset);
* when the treatment is a root, ``E[Y | do(X=x)]`` (hence ATE and ETT) is
  ``sum_m P(m | do(X=x)) E[Y | do(X=x, M=m)]`` over the mediators ``M``, and NDE and NIE combine
  the same ingredients (:meth:`CausalModel.mediation_tables`) as if no variable caused both a
  mediator and ``Y``. This decouples the mediators from any mediator-outcome confounder, so it
  differs from exact inference (and from Pearl's natural effects, :meth:`CausalModel.nde`) only
  in the arrowhead family, where ``V2`` causes both ``V3`` and ``Y``. The model metadata lists
  these interventional values under the keys ``P(Y=1 | X=1)`` and ``P(Y=1 | X=0)``.

The one exception: a ``correlation`` question asks about ``P(Y | X)`` as observed, and its ground
truth (and the probabilities its text states) is the exact ``P(Y=1 | X=1) - P(Y=1 | X=0)``
(:meth:`CausalModel.correlation`), in every family including the arrowhead.

:func:`cladder_groundtruth` reproduces the metadata's values; :func:`solve_question` derives a
question's yes/no answer and the value its ``meta.groundtruth`` states from the model and the
question's ``meta`` (never its answer fields); :func:`answer_question` is its yes/no answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_causal_eval.engine.causal.scm import CausalModel
from pytest_causal_eval.engine.errors import EngineError

__all__ = [
    "CladderQuantities",
    "Solution",
    "answer_question",
    "cladder_groundtruth",
    "decided_sign",
    "solve_question",
]


def decided_sign(value: float) -> int:
    """-1, 0 or 1: CLadder rounds an estimate to two decimals before reading its sign."""
    rounded = round(value, 2)
    return 0 if rounded == 0 else (1 if rounded > 0 else -1)


class CladderQuantities:
    """The quantities of one model under CLadder's conventions (computed once, on demand)."""

    def __init__(self, model: CausalModel, treatment: str = "X", outcome: str = "Y") -> None:
        self.model = model
        self.treatment = treatment
        self.outcome = outcome
        self._root = not model.graph.parent_names(treatment)
        self._do: dict[int, float] = {}

    def do_outcome(self, x: int) -> float:
        """CLadder's ``E[Y | do(X=x)]`` (published as ``P(Y=1 | X=x)`` in the model metadata)."""
        if x not in self._do:
            if self._root:
                table, pm0, pm1 = self.model.mediation_tables(self.treatment, self.outcome)
                self._do[x] = float((pm1 if x else pm0) @ table[:, x])
            else:
                self._do[x] = self.model.prob({self.outcome: 1}, {self.treatment: x})
        return self._do[x]

    def correlation(self) -> float:
        """The exact ``P(Y=1 | X=1) - P(Y=1 | X=0)`` (no convention applies to rung 1)."""
        return self.model.correlation(self.treatment, self.outcome)

    def ate(self) -> float:
        if self._root:
            return self.do_outcome(1) - self.do_outcome(0)
        return self.model.ate(self.treatment, self.outcome)

    def ett(self, factual: int = 1) -> float:
        if self._root:
            return self.ate()
        return self.model.ett(self.treatment, self.outcome, factual)

    def nde(self) -> float:
        """``sum_m P(m | do(X=0)) (E[Y | do(X=1, m)] - E[Y | do(X=0, m)])``."""
        table, pm0, _ = self.model.mediation_tables(self.treatment, self.outcome)
        return float(pm0 @ (table[:, 1] - table[:, 0]))

    def nie(self) -> float:
        """``sum_m E[Y | do(X=0, m)] (P(m | do(X=1)) - P(m | do(X=0)))``."""
        table, pm0, pm1 = self.model.mediation_tables(self.treatment, self.outcome)
        return float(table[:, 0] @ (pm1 - pm0))

    def marginal(self, name: str) -> float:
        return self.model.factorized_marginal(name)


def cladder_groundtruth(model: CausalModel, treatment: str = "X", outcome: str = "Y") -> dict[str, float]:
    """The ``groundtruth`` block of CLadder's model metadata, computed from the model."""
    q = CladderQuantities(model, treatment, outcome)
    out = {
        f"ATE({outcome} | {treatment})": q.ate(),
        f"ETT({outcome} | {treatment})": q.ett(),
        f"NDE({outcome} | {treatment})": q.nde(),
        f"NIE({outcome} | {treatment})": q.nie(),
        f"P({outcome}=1 | {treatment}=1)": q.do_outcome(1),
        f"P({outcome}=1 | {treatment}=0)": q.do_outcome(0),
    }
    for name in model.names:
        out[f"P({name}=1)"] = q.marginal(name)
    return out


_CF_FORM = re.compile(r"^\s*(\w+)_\{(\w+)\s*=\s*([01])\}\s*=\s*([01])\s*\|\s*(.*)$")
_ASSIGN = re.compile(r"(\w+)\s*=\s*([01])")


def _yes(value: float, polarity: bool, *, rounded: bool = True) -> bool:
    sign = decided_sign(value) if rounded else (value > 0) - (value < 0)
    return sign == (1 if polarity else -1)


def _is_minimal_backdoor_set(model: CausalModel, t: str, o: str, adjust: list[str]) -> bool:
    """A valid backdoor set none of whose proper subsets is valid (CLadder's "correct" set)."""
    graph = model.graph
    if not graph.is_backdoor_set(t, o, adjust):
        return False
    return not any(graph.is_backdoor_set(t, o, adjust[:i] + adjust[i + 1 :]) for i in range(len(adjust)))


#: What a question's ``meta.groundtruth`` holds: a number, "yes"/"no", or a set of variables.
GroundTruth = float | str | list[str] | None


@dataclass(frozen=True, slots=True)
class Solution:
    """A question's yes/no ``answer`` and the ``value`` its ``meta.groundtruth`` states.

    ``value`` is a number for estimates (ATE, ETT, NDE, NIE, a correlation, a marginal
    probability, an explaining-away difference) and for a counterfactual (the probability that
    it holds: 0 or 1 in CLadder's deterministic models, which publish it as an integer); it is
    the answer itself for a collider-bias question, and the valid candidate set (``None`` when
    neither or both candidates are valid) for a backdoor question.
    """

    answer: str
    value: GroundTruth


def solve_question(
    model: CausalModel,
    meta: Mapping[str, Any],
    quantities: CladderQuantities | None = None,
) -> Solution:
    """The answer to a CLadder question and its ground-truth value, from the model and ``meta``.

    Uses only the query description (``query_type``, ``polarity``, ``treated``, ``result``, the
    candidate adjustment sets of a backdoor question, the counterfactual's ``formal_form``);
    ``groundtruth`` and ``answer`` are not read.
    """
    qtype = str(meta["query_type"])
    t = str(meta.get("treatment", "X"))
    o = str(meta.get("outcome", "Y"))
    q = quantities or CladderQuantities(model, t, o)
    polarity = bool(meta.get("polarity", True))
    treated = bool(meta.get("treated", True))
    result = bool(meta.get("result", True))
    flip = (1 if treated else -1) * (1 if result else -1)
    yes: bool
    value: GroundTruth
    if qtype == "ate":
        value = q.ate()
        yes = _yes(flip * value, polarity)
    elif qtype == "ett":
        # "For units with X=t, would Y=r be more likely had X been 1-t?"
        value = q.ett(1 if treated else 0)
        yes = _yes(-flip * value if treated else flip * value, polarity)
    elif qtype == "nde":
        value = q.nde()
        yes = _yes(value, polarity)
    elif qtype == "nie":
        value = q.nie()
        yes = _yes(value, polarity)
    elif qtype == "correlation":
        value = q.correlation()
        yes = _yes(flip * value, polarity)
    elif qtype == "marginal":
        value = q.marginal(o)
        yes = _yes((value - 0.5) * (1 if result else -1), polarity, rounded=False)
    elif qtype == "exp_away":
        collider = str(meta.get("collider", "V3"))
        r = 1 if result else 0
        x = 1 if treated else 0
        value = model.prob({o: r}, {t: x, collider: 1}) - model.prob({o: r}, {collider: 1})
        yes = _yes(value, polarity, rounded=False)
    elif qtype == "collider_bias":
        affects = t in model.graph.ancestors(o)
        yes = affects == polarity
        value = "yes" if yes else "no"
    elif qtype == "backadj":
        sets = meta.get("given_info")
        if not isinstance(sets, list) or len(sets) != 2 or not all(isinstance(s, list) for s in sets):
            raise EngineError("backadj question needs two candidate sets in meta.given_info")
        candidates = [[str(v) for v in s] for s in sets]
        valid = [_is_minimal_backdoor_set(model, t, o, s) for s in candidates]
        yes = (valid[0] and not valid[1]) == polarity
        value = candidates[valid.index(True)] if valid.count(True) == 1 else None
    elif qtype == "det-counterfactual":
        m = _CF_FORM.match(str(meta["formal_form"]))
        if m is None:
            raise EngineError(f"cannot parse counterfactual form {meta['formal_form']!r}")
        outcome, treat, action, asked, rest = m.groups()
        evidence = {k: int(v) for k, v in _ASSIGN.findall(rest)}
        value = model.counterfactual(outcome, int(asked), {treat: int(action)}, evidence)
        yes = value > 0.5
    else:
        raise EngineError(f"unsupported CLadder query type {qtype!r}")
    return Solution("yes" if yes else "no", value)


def answer_question(
    model: CausalModel,
    meta: Mapping[str, Any],
    quantities: CladderQuantities | None = None,
) -> str:
    """The yes/no answer to a CLadder question (:func:`solve_question`'s ``answer``)."""
    return solve_question(model, meta, quantities).answer
