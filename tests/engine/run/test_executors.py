from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from pytest_causal_eval.engine import (
    EngineError,
    Evaluator,
    ModelSpec,
    ProcessExecutor,
    Question,
    UnknownNameError,
    create_executor,
    create_model,
    generate,
    model_spec,
)

from ..services import unavailable

QUESTIONS = generate("intervention", 60, seed=3) + generate("counterfactual", 60, seed=3)


def _run(executor: str, batch_size: int, tmp_path: Path, model: str = "random", **options: object) -> tuple:
    out = tmp_path / f"{executor}-{batch_size}.jsonl"
    workers = None if executor == "serial" else 2
    result = Evaluator(
        create_model(model, **options), batch_size=batch_size, executor=executor, workers=workers
    ).run(iter(QUESTIONS), output_jsonl=out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    answers = [(r["id"], r["response"], r["parsed"], r["correct"]) for r in rows]
    d = result.to_dict()
    summary = (
        d["n"],
        d["correct"],
        d["accuracy"],
        json.dumps(d["breakdowns"], sort_keys=True),
        tuple(d["cluster_bootstrap_95"]),
    )
    return summary, answers, result


@pytest.mark.parametrize("executor", ["thread", "process", "async"])
def test_identical_results_for_every_executor_and_batch_size(executor: str, tmp_path: Path) -> None:
    reference, ref_answers, _ = _run("serial", 16, tmp_path)
    assert len(ref_answers) == len(QUESTIONS) and 0.3 < reference[2] < 0.7
    for batch_size in (1, 7, 64):
        summary, answers, result = _run(executor, batch_size, tmp_path)
        assert summary == reference
        assert answers == ref_answers  # same order, same responses
        assert result.settings["executor"] == executor and result.settings["workers"] == 2


def test_spin_model_same_answers_across_processes(tmp_path: Path) -> None:
    serial, s_answers, _ = _run("serial", 8, tmp_path, model="spin", work=50)
    proc, p_answers, _ = _run("process", 8, tmp_path, model="spin", work=50)
    assert serial == proc and s_answers == p_answers


def test_model_spec_attached_and_rebuildable() -> None:
    model = create_model("spin", work=3)
    spec = model_spec(model)
    assert spec == ModelSpec("spin", {"work": 3})
    assert spec.build().fingerprint == model.fingerprint


class _Unpicklable:
    name = "local"
    fingerprint = "local"

    def __init__(self) -> None:
        self.fn = lambda: None

    def generate(self, questions: Sequence[Question]) -> list[str]:
        return ["yes"] * len(questions)


def test_process_executor_refuses_a_model_it_cannot_send() -> None:
    with (
        ProcessExecutor(workers=1) as ex,
        pytest.raises(EngineError, match=r"cannot send model 'local'.*create_model"),
    ):
        Evaluator(_Unpicklable(), executor=ex).run(QUESTIONS[:4])


class _Dies:
    name = "dies"
    fingerprint = "dies"

    def generate(self, questions: Sequence[Question]) -> list[str]:
        import os

        os._exit(3)


def test_a_worker_that_dies_becomes_recorded_errors() -> None:
    with ProcessExecutor(workers=1, start_method="fork") as ex:
        result = Evaluator(_Dies(), executor=ex, batch_size=4, max_error_rate=1.0).run(QUESTIONS[:12])
    assert result.errors == 12 and result.failed_batches == 3


def test_executor_names_and_bad_options() -> None:
    with pytest.raises(UnknownNameError, match="valid executors: async, process, ray, serial, thread"):
        Evaluator(create_model("oracle"), executor="warp")
    with pytest.raises(EngineError, match="workers must be at least 1"):
        create_executor("thread", workers=0)
    with pytest.raises(EngineError, match="serial executor runs one worker"):
        create_executor("serial", workers=2)


@pytest.mark.parametrize("name", ["serial", "thread", "process", "async"])
def test_every_named_executor_is_a_context_manager_with_workers(name: str) -> None:
    """What ``create_executor`` promises for each name: ``with`` closes it, ``workers`` counts."""
    with create_executor(name, workers=1) as ex:
        outcomes = list(ex.map_batches(create_model("oracle"), [QUESTIONS[:3], []]))
        assert ex.name == name and ex.workers == 1
    assert [o.answers for o in outcomes] == [[q.answer for q in QUESTIONS[:3]], []]


def test_error_rate_abort_stops_a_concurrent_executor() -> None:
    class Failing:
        name = "failing"
        fingerprint = "failing"

        def generate(self, questions: Sequence[Question]) -> list[str]:
            raise TimeoutError("down")

    def endless() -> Iterator[Question]:
        while True:
            yield from QUESTIONS

    from pytest_causal_eval.engine import ErrorRateExceeded

    with pytest.raises(ErrorRateExceeded, match="TimeoutError: down"):
        Evaluator(Failing(), executor="thread", workers=2, batch_size=4).run(endless())


@pytest.fixture(scope="module")
def ray_session() -> Iterator[object]:
    try:
        import ray
    except ImportError:
        unavailable("ray not installed (extra 'ray')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_executor_matches_serial(ray_session: object, tmp_path: Path) -> None:
    reference, ref_answers, _ = _run("serial", 16, tmp_path)
    for batch_size in (5, 32):
        summary, answers, result = _run("ray", batch_size, tmp_path)
        assert summary == reference and answers == ref_answers
        assert result.settings["executor"] == "ray"
    import ray

    assert ray.is_initialized()  # the executor does not shut down a Ray it did not start
