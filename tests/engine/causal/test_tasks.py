from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from itertools import islice

import pytest

from pytest_causal_eval.engine import (
    TASKS,
    CausalModel,
    Question,
    UnknownNameError,
    create_task,
    generate,
    task_names,
)
from pytest_causal_eval.engine.causal.sampling import sample_model

ALL_TASKS = ["association", "causal_attribution", "confounding", "counterfactual", "intervention"]


def test_registry_names() -> None:
    assert task_names() == ALL_TASKS
    assert set(TASKS) == set(ALL_TASKS)
    with pytest.raises(UnknownNameError) as info:
        create_task("telepathy")
    message = str(info.value)
    assert "telepathy" in message
    for name in ALL_TASKS:
        assert name in message
    with pytest.raises(UnknownNameError, match="difficulty"):
        create_task("association", difficulty="nightmare")


@pytest.mark.parametrize("name", ALL_TASKS)
def test_questions_are_complete_and_balanced(name: str) -> None:
    qs = generate(name, 400, seed=3)
    assert len(qs) == 400
    counts = Counter(q.answer for q in qs)
    assert counts["yes"] == counts["no"] == 200  # balanced by construction (pairs)
    for i in range(2, 401, 2):  # balanced at every even prefix
        prefix = Counter(q.answer for q in qs[:i])
        assert prefix["yes"] == prefix["no"]
    rung = TASKS[name].rung
    for q in qs:
        assert q.task == name and q.rung == rung
        assert q.graph in TASKS[name].default_families
        assert q.cluster and q.id.startswith(q.cluster)
        assert q.prompt.endswith("Answer yes or no.")
        assert "Question:" in q.prompt
    assert len({q.id for q in qs}) == 400
    # several questions per causal model, and many models
    clusters = Counter(q.cluster for q in qs)
    assert 1 < len(clusters) < 400


def test_same_seed_same_questions_other_seed_differs() -> None:
    a = generate("intervention", 50, seed=11)
    b = generate("intervention", 50, seed=11)
    c = generate("intervention", 50, seed=12)
    assert a == b
    assert [q.prompt for q in a] != [q.prompt for q in c]


def test_determinism_across_processes() -> None:
    code = (
        "import json, sys\n"
        "from pytest_causal_eval.engine import generate\n"
        "out = {t: [q.to_dict() for q in generate(t, 30, seed=5)] for t in sys.argv[1:]}\n"
        "print(json.dumps(out))\n"
    )
    env_hash = {"PYTHONHASHSEED": "random"}
    import os

    proc = subprocess.run(
        [sys.executable, "-c", code, *ALL_TASKS],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env_hash},
        timeout=60,
    )
    theirs = json.loads(proc.stdout)
    for name in ALL_TASKS:
        ours = [q.to_dict() for q in generate(name, 30, seed=5)]
        assert theirs[name] == json.loads(json.dumps(ours)), name


def test_answers_follow_from_the_structured_fields() -> None:
    for q in generate("intervention", 200, seed=2):
        value, polarity = q.fields["value"], q.fields["polarity"]
        assert round(value, 2) != 0
        assert (q.answer == "yes") == ((value > 0) == polarity)


def test_question_roundtrip() -> None:
    q = next(create_task("counterfactual").questions(0))
    assert Question.from_dict(json.loads(json.dumps(q.to_dict()))) == q


def test_difficulty_controls_effect_sizes() -> None:
    import numpy as np

    def spread(difficulty: str) -> float:
        gaps = []
        for k in range(200):
            m: CausalModel = sample_model("chain", np.random.default_rng(k), difficulty).model
            gaps.append(abs(float(m.cpts[1][1] - m.cpts[1][0])))
        return float(np.mean(gaps))

    assert spread("easy") > spread("medium") > spread("hard")


def test_task_family_selection() -> None:
    qs = list(islice(create_task("association", families=["fork"]).questions(0), 20))
    assert {q.graph for q in qs} == {"fork"}
    with pytest.raises(UnknownNameError, match="fork"):
        create_task("confounding", families=["fork"])
