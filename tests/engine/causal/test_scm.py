from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pytest_causal_eval.engine import CausalModel, EngineError, Graph, answer_question, cladder_groundtruth
from pytest_causal_eval.engine.causal.cladder import solve_question
from pytest_causal_eval.engine.causal.graphs import FAMILIES, family_graph


def _chain(px: float, pm: list[float], py: list[float]) -> CausalModel:
    return CausalModel(Graph.from_structure("X->M,M->Y"), [np.asarray(px), np.asarray(pm), np.asarray(py)])


def test_chain_by_hand() -> None:
    m = _chain(0.3, [0.2, 0.9], [0.1, 0.6])
    # P(M=1|X=x) then P(Y=1|do(X=x)) = 0.1 + 0.5 * P(M=1|X=x)
    assert m.ate() == pytest.approx((0.1 + 0.5 * 0.9) - (0.1 + 0.5 * 0.2))
    assert m.marginal("M") == pytest.approx(0.7 * 0.2 + 0.3 * 0.9)
    assert m.prob({"Y": 1}, {"X": 1}) == pytest.approx(0.55)
    assert m.nde() == pytest.approx(0.0)
    assert m.nie() == pytest.approx(m.ate())
    assert m.ett() == pytest.approx(m.ate())  # X is a root
    assert m.joint().sum() == pytest.approx(1.0)


def test_confounding_backdoor_by_hand() -> None:
    g = Graph.from_structure("Z->X,Z->Y,X->Y")
    pz, px, py = 0.4, np.array([0.2, 0.7]), np.array([[0.1, 0.5], [0.3, 0.9]])  # py[z][x]
    m = CausalModel(g, [np.asarray(pz), px, py])
    adjusted = sum(w * (py[z][1] - py[z][0]) for z, w in ((0, 1 - pz), (1, pz)))
    assert m.ate() == pytest.approx(adjusted)
    assert m.ate() != pytest.approx(m.correlation())  # confounded
    # effect on the treated weights Z by P(Z | X=1)
    pz1 = pz * px[1] / (pz * px[1] + (1 - pz) * px[0])
    assert m.ett() == pytest.approx((1 - pz1) * (py[0][1] - py[0][0]) + pz1 * (py[1][1] - py[1][0]))
    assert m.do({"X": 1}).marginal("Y") == pytest.approx((1 - pz) * py[0][1] + pz * py[1][1])


def test_counterfactual_deterministic_and_abduction() -> None:
    # Y = X or U, U ~ Bern(0.3): seeing X=1, Y=1 says nothing about U, so Y_{X=0} = U
    g = Graph.from_structure("X->Y,U->Y")
    m = CausalModel(g, [np.asarray(0.5), np.asarray(0.3), np.array([[0.0, 1.0], [1.0, 1.0]])])
    assert m.names.index("Y") > m.names.index("U")
    assert m.counterfactual("Y", 1, {"X": 0}, {"X": 1, "Y": 1}) == pytest.approx(0.3)
    # seeing X=0, Y=1 reveals U=1, so Y_{X=0} stays 1 and Y_{X=1} is 1
    assert m.counterfactual("Y", 1, {"X": 0}, {"X": 0, "Y": 1}) == pytest.approx(1.0)
    with pytest.raises(EngineError, match="probability zero"):
        m.counterfactual("Y", 1, {"X": 0}, {"X": 1, "Y": 0})


def test_graph_errors_and_backdoor() -> None:
    with pytest.raises(EngineError, match="cycle"):
        Graph.from_structure("A->B,B->A")
    with pytest.raises(EngineError, match="bad edge"):
        Graph.from_structure("A-B")
    with pytest.raises(EngineError, match="at most 12"):
        Graph.from_structure(",".join(f"V{i}->V{i + 1}" for i in range(13)))
    with pytest.raises(EngineError, match="shape"):
        CausalModel(Graph.from_structure("X->Y"), [np.asarray(0.5), np.asarray(0.5)])
    g = family_graph("confounding")
    assert g.is_backdoor_set("X", "Y", ["V1"])
    assert not g.is_backdoor_set("X", "Y", [])
    assert not family_graph("mediation").is_backdoor_set("X", "Y", ["V2"])  # descendant of X
    assert family_graph("collision").d_separated(["X"], ["Y"], [])
    assert not family_graph("collision").d_separated(["X"], ["Y"], ["V3"])
    assert set(FAMILIES) == {
        "chain", "fork", "collision", "confounding", "mediation", "IV",
        "arrowhead", "diamond", "diamondcut", "frontdoor",
    }  # fmt: skip


def test_twelve_variables_is_fast_enough() -> None:
    edges = ",".join(f"V{i}->V{i + 1}" for i in range(11)) + ",V0->V11"
    g = Graph.from_structure(edges)
    cpts = [np.full((2,) * len(p), 0.5) for p in g.parents]
    m = CausalModel(g, cpts)
    assert len(m.joint()) == 4096
    assert m.ate("V0", "V11") == pytest.approx(0.0)


def _load(path: Path) -> list[dict[str, object]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


def test_cladder_models_groundtruth(cladder_dir: Path) -> None:
    models = _load(cladder_dir / "test-model-meta.json")
    checked = 0
    for meta in models:
        model = CausalModel.from_cladder(str(meta["structure"]), meta["params"])  # type: ignore[arg-type]
        ours = cladder_groundtruth(model)
        published = meta["groundtruth"]
        assert isinstance(published, dict)
        for key, value in published.items():
            assert ours[key] == pytest.approx(value, abs=1e-6), (meta["model_id"], key)
            checked += 1
    assert len(models) == 396
    assert checked == 3742


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def test_cladder_question_answers_and_numbers(cladder_dir: Path) -> None:
    """Every question of the four shipped files: the yes/no answer, and the number (or set, or
    yes/no) its ``meta.groundtruth`` states, recomputed from the model without reading either."""
    models = {
        int(m["model_id"]): CausalModel.from_cladder(str(m["structure"]), m["params"])  # type: ignore[arg-type,call-overload]
        for m in _load(cladder_dir / "test-model-meta.json")
    }
    totals: dict[str, int] = {}
    numeric: dict[str, int] = {}
    mismatches = []
    for name in ("easy", "hard", "non", "det"):
        for q in _load(cladder_dir / f"test-generate-{name}.json"):
            meta = q["meta"]
            assert isinstance(meta, dict)
            # the engine must not peek at the published answer or groundtruth
            blind = {k: v for k, v in meta.items() if k != "groundtruth"}
            got = solve_question(models[int(meta["model_id"])], blind)
            assert got.answer == answer_question(models[int(meta["model_id"])], blind)
            totals[name] = totals.get(name, 0) + 1
            expected = meta["groundtruth"]
            if got.answer != q["answer"]:
                mismatches.append((name, q["question_id"], meta["query_type"], "answer"))
            if _is_number(expected):
                numeric[name] = numeric.get(name, 0) + 1
                assert _is_number(got.value)
                if abs(float(got.value) - float(expected)) > 1e-6:  # type: ignore[arg-type]
                    mismatches.append((name, q["question_id"], meta["query_type"], expected, got.value))
            elif isinstance(expected, list):
                assert isinstance(got.value, list) and sorted(got.value) == sorted(expected), q["question_id"]
            else:
                assert got.value == expected, q["question_id"]
    assert totals == {"easy": 844, "hard": 844, "non": 1120, "det": 512}
    assert numeric == {"easy": 680, "hard": 680, "non": 900, "det": 512}
    assert mismatches == []


def _arrowhead() -> CausalModel:
    # X->V3, V2->V3, X->Y, V2->Y, V3->Y with V2 pushing V3 and Y in opposite directions
    return CausalModel.from_cladder(
        FAMILIES["arrowhead"],
        {
            "p(X)": 0.4,
            "p(V2)": 0.7,
            "p(V3 | X, V2)": [[0.1, 0.8], [0.5, 0.95]],
            "p(Y | X, V2, V3)": [[[0.2, 0.6], [0.7, 0.1]], [[0.5, 0.9], [0.3, 0.4]]],
        },
    )


def test_arrowhead_correlation_is_the_exact_conditional_difference() -> None:
    m = _arrowhead()
    pv2 = 0.7
    pv3 = {(0, 0): 0.1, (0, 1): 0.8, (1, 0): 0.5, (1, 1): 0.95}
    py = [[[0.2, 0.6], [0.7, 0.1]], [[0.5, 0.9], [0.3, 0.4]]]  # py[x][v2][v3]

    def p_y_given_x(x: int) -> float:
        total = 0.0
        for v2, w2 in ((0, 1 - pv2), (1, pv2)):
            for v3 in (0, 1):
                w3 = pv3[(x, v2)] if v3 else 1 - pv3[(x, v2)]
                total += w2 * w3 * py[x][v2][v3]
        return total

    exact = p_y_given_x(1) - p_y_given_x(0)
    meta = {"query_type": "correlation", "treated": True, "result": True, "polarity": True}
    value = solve_question(m, meta).value
    assert isinstance(value, float)
    assert value == pytest.approx(exact, abs=1e-12)
    assert m.ate() == pytest.approx(exact, abs=1e-12)
    # CLadder's own ATE (decoupled mediator formula) is a different number in this family
    assert cladder_groundtruth(m)["ATE(Y | X)"] != pytest.approx(exact, abs=1e-3)


def test_natural_effects_are_pearls_in_the_arrowhead() -> None:
    """NDE/NIE hold the mediator at its value in the other world *together with* V2, which
    causes both the mediator V3 and Y: Pearl's mediation formula, not the decoupled one."""
    m = _arrowhead()
    pv2 = 0.7
    pv3 = {(0, 0): 0.1, (0, 1): 0.8, (1, 0): 0.5, (1, 1): 0.95}
    py = [[[0.2, 0.6], [0.7, 0.1]], [[0.5, 0.9], [0.3, 0.4]]]  # py[x][v2][v3]

    def nested(direct: int, mediated: int) -> float:  # E[Y_{X=direct, V3=V3_{X=mediated}}]
        total = 0.0
        for v2, w2 in ((0, 1 - pv2), (1, pv2)):
            for v3 in (0, 1):
                w3 = pv3[(mediated, v2)] if v3 else 1 - pv3[(mediated, v2)]
                total += w2 * w3 * py[direct][v2][v3]
        return total

    nde, nie = nested(1, 0) - nested(0, 0), nested(0, 1) - nested(0, 0)
    assert m.nde() == pytest.approx(nde, abs=1e-12)
    assert m.nie() == pytest.approx(nie, abs=1e-12)
    assert m.ate() == pytest.approx(nested(1, 1) - nested(0, 0), abs=1e-12)
    # CLadder's published NDE/NIE use the decoupled formula; its ground truth still matches
    published = cladder_groundtruth(m)
    assert published["NDE(Y | X)"] != pytest.approx(nde, abs=1e-3)
    assert published["NIE(Y | X)"] != pytest.approx(nie, abs=1e-3)


def test_natural_effects_equal_the_mediation_formula_without_a_mediator_outcome_confounder() -> None:
    for family in ("chain", "mediation", "diamond", "frontdoor"):
        rng = np.random.default_rng(7)
        g = family_graph(family)
        m = CausalModel(g, [rng.uniform(0.05, 0.95, size=(2,) * len(p)) for p in g.parents])
        table, pm0, pm1 = m.mediation_tables("X", "Y")
        assert m.nde() == pytest.approx(float(pm0 @ (table[:, 1] - table[:, 0])), abs=1e-12), family
        assert m.nie() == pytest.approx(float(table[:, 0] @ (pm1 - pm0)), abs=1e-12), family


def test_exact_inference_differs_from_cladder_convention_only_where_documented(cladder_dir: Path) -> None:
    # Arrowhead is the one family where CLadder's decoupled mediator formula differs from exact do().
    differs = 0
    for meta in _load(cladder_dir / "test-model-meta.json"):
        model = CausalModel.from_cladder(str(meta["structure"]), meta["params"])  # type: ignore[arg-type]
        published = meta["groundtruth"]
        assert isinstance(published, dict)
        exact = {
            "ATE(Y | X)": model.ate(),
            "NDE(Y | X)": model.nde(),
            "NIE(Y | X)": model.nie(),
            "P(Y=1 | X=1)": model.prob({"Y": 1}, {"X": 1}) if not model.graph.parent_names("X") else None,
        }
        for key, value in exact.items():
            if value is None:
                continue
            if meta["graph_id"] != "arrowhead":
                assert value == pytest.approx(published[key], abs=1e-6), (meta["model_id"], key)
            elif abs(value - published[key]) > 1e-6:
                differs += 1
    assert differs > 0


def test_to_cladder_round_trips(cladder_dir: Path) -> None:
    for meta in _load(cladder_dir / "test-model-meta.json")[:60]:
        model = CausalModel.from_cladder(str(meta["structure"]), meta["params"])  # type: ignore[arg-type]
        exported = json.loads(json.dumps(model.to_cladder()))
        again = CausalModel.from_cladder(exported["structure"], exported["params"])
        assert again.names == model.names
        for a, b in zip(again.cpts, model.cpts, strict=True):
            assert np.array_equal(a, b)
        assert cladder_groundtruth(again) == cladder_groundtruth(model)
