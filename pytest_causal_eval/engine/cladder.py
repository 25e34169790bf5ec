"""CLadder's conventions: its published model quantities and the answers to its questions.

Pure logic over a :class:`~.scm.CausalModel`. CLadder computes two kinds of quantity with
conventions that differ from exact inference in some graphs, and its published numbers follow
them:

* ``P(V=1)`` treats each variable's parents as independent (:meth:`CausalModel.factorized_marginal`);
* the sign of an estimate is read after rounding it to two decimals, except for marginals and
  explaining-away differences, which are compared exactly;
* a "correct" backdoor adjustment set is a minimal one (no valid proper subset);
* when the treatment is a root, ``E[Y | do(X=x)]`` (hence ATE, ETT and ``P(Y | X)``) is
  ``sum_m P(m | do(X=x)) E[Y | do(X=x, M=m)]`` over the mediators ``M``, which decouples the
  mediators from any mediator-outcome confounder (this differs from exact inference only in the
  arrowhead family).

:func:`cladder_groundtruth` reproduces the published values; :func:`answer_question` derives a
question's yes/no answer from the model and the question's ``meta`` (never its answer fields).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import EngineError
from .scm import CausalModel

__all__ = ["CladderQuantities", "answer_question", "cladder_groundtruth", "decided_sign"]


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
        self._cond: dict[int, float] = {}

    def conditional(self, x: int) -> float:
        """``P(Y=1 | X=x)``."""
        if x not in self._cond:
            if self._root:
                table, pm0, pm1 = self.model.mediation_tables(self.treatment, self.outcome)
                self._cond[x] = float((pm1 if x else pm0) @ table[:, x])
            else:
                self._cond[x] = self.model.prob({self.outcome: 1}, {self.treatment: x})
        return self._cond[x]

    def ate(self) -> float:
        if self._root:
            return self.conditional(1) - self.conditional(0)
        return self.model.ate(self.treatment, self.outcome)

    def ett(self, factual: int = 1) -> float:
        if self._root:
            return self.ate()
        return self.model.ett(self.treatment, self.outcome, factual)

    def nde(self) -> float:
        return self.model.nde(self.treatment, self.outcome)

    def nie(self) -> float:
        return self.model.nie(self.treatment, self.outcome)

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
        f"P({outcome}=1 | {treatment}=1)": q.conditional(1),
        f"P({outcome}=1 | {treatment}=0)": q.conditional(0),
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


def answer_question(
    model: CausalModel,
    meta: Mapping[str, Any],
    quantities: CladderQuantities | None = None,
) -> str:
    """The yes/no answer to a CLadder question, from the model and the question's ``meta``.

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
    if qtype == "ate":
        yes = _yes(flip * q.ate(), polarity)
    elif qtype == "ett":
        # "For units with X=t, would Y=r be more likely had X been 1-t?"
        effect = q.ett(1 if treated else 0)
        yes = _yes(-flip * effect if treated else flip * effect, polarity)
    elif qtype == "nde":
        yes = _yes(q.nde(), polarity)
    elif qtype == "nie":
        yes = _yes(q.nie(), polarity)
    elif qtype == "correlation":
        yes = _yes(flip * (q.conditional(1) - q.conditional(0)), polarity)
    elif qtype == "marginal":
        p = q.marginal(o)
        yes = _yes((p - 0.5) * (1 if result else -1), polarity, rounded=False)
    elif qtype == "exp_away":
        collider = str(meta.get("collider", "V3"))
        r = 1 if result else 0
        x = 1 if treated else 0
        diff = model.prob({o: r}, {t: x, collider: 1}) - model.prob({o: r}, {collider: 1})
        yes = _yes(diff, polarity, rounded=False)
    elif qtype == "collider_bias":
        affects = t in model.graph.ancestors(o)
        yes = affects == polarity
    elif qtype == "backadj":
        sets = meta.get("given_info")
        if not isinstance(sets, list) or len(sets) != 2:
            raise EngineError("backadj question needs two candidate sets in meta.given_info")
        valid = [_is_minimal_backdoor_set(model, t, o, [str(v) for v in s]) for s in sets]
        yes = (valid[0] and not valid[1]) == polarity
    elif qtype == "det-counterfactual":
        m = _CF_FORM.match(str(meta["formal_form"]))
        if m is None:
            raise EngineError(f"cannot parse counterfactual form {meta['formal_form']!r}")
        outcome, treat, action, value, rest = m.groups()
        evidence = {k: int(v) for k, v in _ASSIGN.findall(rest)}
        p = model.counterfactual(outcome, int(value), {treat: int(action)}, evidence)
        yes = p > 0.5
    else:
        raise EngineError(f"unsupported CLadder query type {qtype!r}")
    return "yes" if yes else "no"
