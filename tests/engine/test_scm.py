from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pytest_causal_eval.engine import CausalModel, EngineError, Graph, answer_question, cladder_groundtruth
from pytest_causal_eval.engine.graphs import FAMILIES, family_graph


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


def test_cladder_question_answers(cladder_dir: Path) -> None:
    models = {
        int(m["model_id"]): CausalModel.from_cladder(str(m["structure"]), m["params"])  # type: ignore[arg-type,call-overload]
        for m in _load(cladder_dir / "test-model-meta.json")
    }
    total = 0
    mismatches = []
    for name in ("easy", "hard", "non", "det"):
        for q in _load(cladder_dir / f"test-generate-{name}.json"):
            meta = q["meta"]
            assert isinstance(meta, dict)
            # the engine must not peek at the published answer or groundtruth
            blind = {k: v for k, v in meta.items() if k != "groundtruth"}
            got = answer_question(models[int(meta["model_id"])], blind)
            total += 1
            if got != q["answer"]:
                mismatches.append((name, q["question_id"], meta["query_type"]))
    assert total == 3320
    assert mismatches == []


def test_exact_inference_differs_from_cladder_convention_only_where_documented(cladder_dir: Path) -> None:
    # Arrowhead is the one family where CLadder's decoupled mediator formula differs from exact do().
    for meta in _load(cladder_dir / "test-model-meta.json"):
        model = CausalModel.from_cladder(str(meta["structure"]), meta["params"])  # type: ignore[arg-type]
        published = meta["groundtruth"]
        assert isinstance(published, dict)
        if meta["graph_id"] != "arrowhead":
            assert model.ate() == pytest.approx(published["ATE(Y | X)"], abs=1e-6)
