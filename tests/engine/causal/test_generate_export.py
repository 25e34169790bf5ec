"""``causal-eval generate`` writes each question's causal model; anyone can recompute the answers.

The recomputation here is deliberately independent of the engine: it parses the exported
``structure``/``params`` itself and enumerates joint states with itertools and numpy. It uses
the engine for nothing but writing the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_causal_eval.cli import main

State = dict[str, int]


class Net:
    """A binary Bayesian network read from an exported record, with brute-force enumeration."""

    def __init__(self, record: Mapping[str, Any], tables: Mapping[str, Any] | None = None) -> None:
        edges = [tuple(e.split("->")) for e in record["structure"].split(",")]
        names = sorted({n for e in edges for n in e})
        self.parents: dict[str, list[str]] = {n: [a for a, b in edges if b == n] for n in names}
        self.cpt: dict[str, Any] = {}
        params = tables if tables is not None else record["params"]
        for key, value in params.items():
            m = re.fullmatch(r"p\((\w+)(?: \| ([\w, ]+))?\)", key)
            assert m, key
            order = m.group(2).split(", ") if m.group(2) else []  # the table's axes, in this order
            assert sorted(order) == sorted(self.parents[m.group(1)]), key
            self.parents[m.group(1)] = order
            self.cpt[m.group(1)] = np.asarray(value, dtype=float)
        self.names = names

    def p1(self, name: str, state: Mapping[str, int]) -> float:
        table = self.cpt[name]
        for parent in self.parents[name]:
            table = table[state[parent]]
        return float(table)

    def states(self) -> Iterator[State]:
        for values in product((0, 1), repeat=len(self.names)):
            yield dict(zip(self.names, values, strict=True))

    def weight(self, state: Mapping[str, int], do: Mapping[str, int] | None = None) -> float:
        w = 1.0
        for name in self.names:
            if do and name in do:
                w *= 1.0 if state[name] == do[name] else 0.0
                continue
            p = self.p1(name, state)
            w *= p if state[name] else 1.0 - p
        return w

    def prob(self, event: Mapping[str, int], given: Mapping[str, int] | None = None, do: Any = None) -> float:
        num = den = 0.0
        for s in self.states():
            if given and any(s[k] != v for k, v in given.items()):
                continue
            w = self.weight(s, do)
            den += w
            if all(s[k] == v for k, v in event.items()):
                num += w
        return num / den

    def descendants(self, name: str) -> set[str]:
        out: set[str] = set()
        frontier = [name]
        while frontier:
            n = frontier.pop()
            for child, pas in self.parents.items():
                if n in pas and child not in out:
                    out.add(child)
                    frontier.append(child)
        return out

    def nested(self, direct: int, mediated: int) -> float:
        """E[Y_{X=direct, M=M_{X=mediated}}]: Y's other parents from the world do(X=mediated)."""
        total = 0.0
        for s in self.states():
            w = self.weight(s, {"X": mediated})
            total += w * self.p1("Y", {**s, "X": direct})
        return total

    def ett(self, factual: int, x: int) -> float:
        """E[Y_{X=x} | X=factual], adjusting for X's parents (which block every backdoor path)."""
        pa = self.parents["X"]
        if not pa:
            return self.prob({"Y": 1}, do={"X": x})
        total = 0.0
        for values in product((0, 1), repeat=len(pa)):
            z = dict(zip(pa, values, strict=True))
            total += self.prob(z, {"X": factual}) * self.prob({"Y": 1}, z, do={"X": x})
        return total


def _sign(value: float) -> int:
    r = round(value, 2)
    return (r > 0) - (r < 0)


def _signed_answer(value: float, polarity: bool) -> str:
    sign = _sign(value)
    assert sign != 0
    return "yes" if (sign > 0) == polarity else "no"


def _recompute(record: Mapping[str, Any]) -> tuple[str, float | None]:
    """(answer, value) from the exported model and the question's query fields alone."""
    f = record["fields"]
    query = f["query"]
    model = record["model"]
    if query == "backdoor":
        return _backdoor(model, f["adjust"]), None
    net = Net(model)
    if query == "correlation":
        t, r = f["treated"], f["result"]
        value = net.prob({"Y": r}, {"X": t}) - net.prob({"Y": r}, {"X": 1 - t})
    elif query == "marginal":
        value = net.prob({"Y": 1}) - 0.5
    elif query == "ate":
        flip = (1 if f["treated"] else -1) * (1 if f["result"] else -1)
        value = flip * (net.prob({"Y": 1}, do={"X": 1}) - net.prob({"Y": 1}, do={"X": 0}))
    elif query == "do_probability":
        value = net.prob({"Y": 1}, do={"X": f["action"]}) - 0.5
    elif query == "ett":  # E[Y_{1-t} - Y_t | X = t]
        t = f["treated"]
        value = net.ett(t, 1 - t) - net.ett(t, t)
    elif query == "nde":
        value = net.nested(1, 0) - net.nested(0, 0)
    elif query == "nie":
        value = net.nested(0, 1) - net.nested(0, 0)
    elif query == "counterfactual":
        # deterministic mechanisms, every root observed: the world is pinned down
        world = dict(f["evidence"])
        world["X"] = f["action"]
        for _ in net.names:
            for name in net.names:
                if name not in world and all(p in world for p in net.parents[name]):
                    world[name] = int(net.p1(name, world) > 0.5)
        return ("yes" if world["Y"] == f["asked"] else "no"), None
    else:
        raise AssertionError(f"unknown query {query!r}")
    return _signed_answer(value, f["polarity"]), value


def _backdoor(model: Mapping[str, Any], adjust: list[str]) -> str:
    """Valid iff the adjustment formula gives E[Y | do(X)] for generic (random) tables."""
    net = Net(model, {})  # structure only: the confounding task's answers depend on the graph
    rng = np.random.default_rng(0)
    tables = {}
    for name in net.names:
        k = len(net.parents[name])
        key = f"p({name} | {', '.join(net.parents[name])})" if k else f"p({name})"
        tables[key] = rng.uniform(0.1, 0.9, size=(2,) * k).tolist() if k else float(rng.uniform(0.1, 0.9))
    net = Net(model, tables)
    valid = True
    for x in (0, 1):
        truth = net.prob({"Y": 1}, do={"X": x})
        adjusted = 0.0
        for values in product((0, 1), repeat=len(adjust)):
            z = dict(zip(adjust, values, strict=True))
            adjusted += net.prob(z) * net.prob({"Y": 1}, {"X": x, **z})
        valid &= abs(adjusted - truth) < 1e-9
    return "yes" if valid else "no"


@pytest.mark.parametrize(
    ("task", "difficulty"),
    [
        ("association", "medium"),
        ("intervention", "hard"),
        ("causal_attribution", "easy"),
        ("causal_attribution", "medium"),
        ("counterfactual", "medium"),
        ("confounding", "medium"),
    ],
)
def test_exported_models_reproduce_every_answer(tmp_path: Path, task: str, difficulty: str) -> None:
    out = tmp_path / "q.jsonl"
    argv = ["generate", "--task", task, "-n", "80", "--seed", "9", "--difficulty", difficulty, "-o", str(out)]
    assert main(argv) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 80
    queries: set[str] = set()
    for record in records:
        model = record["model"]
        assert model["cluster"] == record["cluster"] and model["family"] == record["graph"]
        assert set(model["variables"]) >= {"X", "Y"}
        assert ("params" in model) == (task != "confounding")
        answer, value = _recompute(record)
        assert answer == record["answer"], record["id"]
        if value is not None:
            assert value == pytest.approx(record["fields"]["value"], abs=1e-9), record["id"]
        queries.add(record["fields"]["query"])
    expected = {
        "association": {"correlation", "marginal"},
        "intervention": {"ate", "do_probability"},
        "causal_attribution": {"ett", "nde", "nie"},
        "counterfactual": {"counterfactual"},
        "confounding": {"backdoor"},
    }[task]
    assert queries == expected


def test_arrowhead_natural_effects_are_pearls(tmp_path: Path) -> None:
    """In the arrowhead (V2 causes both the mediator V3 and Y) the 'leaving aside any influence
    that passes through ...' questions carry Pearl's NDE; before, they carried CLadder's
    decoupled formula, up to 0.34 away on easy models."""
    from pytest_causal_eval.engine import create_task

    task = create_task("causal_attribution", difficulty="easy", families=["arrowhead"])
    checked = 0
    for cluster in task.clusters(seed=4):
        record = cluster.model_record()
        net = Net(record)
        for q in cluster.questions:
            if q.fields["query"] == "nde":
                assert q.fields["value"] == pytest.approx(net.nested(1, 0) - net.nested(0, 0), abs=1e-12)
                assert "Leaving aside any influence that passes through" in q.prompt
                checked += 1
            elif q.fields["query"] == "nie":
                assert q.fields["value"] == pytest.approx(net.nested(0, 1) - net.nested(0, 0), abs=1e-12)
                checked += 1
        if checked >= 40:
            break
    assert checked >= 40
