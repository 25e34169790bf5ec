from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from itertools import count
from pathlib import Path

import pytest

from pytest_causal_eval.engine import (
    ErrorRateExceeded,
    Evaluator,
    ModelOutputError,
    Question,
    SerialExecutor,
    cache_key,
    create_model,
    create_task,
    generate,
    load_dataset,
)


class Flaky:
    """Fails on every ``every``-th call, otherwise answers correctly."""

    name = "flaky"
    fingerprint = "flaky"

    def __init__(self, every: int) -> None:
        self.every = every
        self.calls = 0

    def generate(self, questions: Sequence[Question]) -> list[str]:
        self.calls += 1
        if self.calls % self.every == 0:
            raise TimeoutError("backend timed out")
        return [q.answer for q in questions]


class Short:
    name = "short"
    fingerprint = "short"

    def generate(self, questions: Sequence[Question]) -> list[str]:
        return ["yes"] * (len(questions) - 1)


class Chatty:
    name = "chatty"
    fingerprint = "chatty"

    def generate(self, questions: Sequence[Question]) -> list[str]:
        return [
            f"Thinking... so the answer is {q.answer}." if i % 2 else "no idea"
            for i, q in enumerate(questions)
        ]


def test_oracle_full_marks_and_result_fields() -> None:
    result = Evaluator(create_model("oracle"), batch_size=8).run(
        create_task("association").questions(0), n=100
    )
    assert result.n == 100 and result.accuracy == 1.0 and result.unparsed == 0 and result.errors == 0
    assert result.batches == 13
    assert result.wilson[1] == 1.0 and result.wilson[0] > 0.95
    assert result.breakdowns["task"]["association"].n == 100
    assert result.breakdowns["rung"]["1"].n == 100
    assert sum(s.n for s in result.breakdowns["graph"].values()) == 100
    assert result.throughput > 0 and result.latency.count == 100
    d = json.loads(json.dumps(result.to_dict()))
    assert d["accuracy"] == 1.0 and d["n"] == 100 and "p99_s" in d["latency"]


def test_unparsed_counted_apart() -> None:
    qs = generate("intervention", 40, seed=1)
    result = Evaluator(Chatty(), batch_size=10).run(qs)
    assert result.unparsed == 20 and result.overall.correct == 20 and result.errors == 0
    assert result.accuracy == 0.5 and result.overall.parsed_accuracy == 1.0


def test_failures_recorded_and_run_continues(tmp_path: Path) -> None:
    out = tmp_path / "per_q.jsonl"
    qs = generate("association", 100, seed=2)
    result = Evaluator(Flaky(every=10), batch_size=5, max_error_rate=0.2).run(qs, output_jsonl=out)
    assert result.n == 100 and result.errors == 10 and result.failed_batches == 2
    assert result.overall.correct == 90
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 100
    failed = [r for r in rows if r["error"]]
    assert len(failed) == 10 and all("TimeoutError: backend timed out" in r["error"] for r in failed)
    assert all(r["response"] is None and r["correct"] is False for r in failed)


def test_max_error_rate_raises() -> None:
    qs = generate("association", 200, seed=2)
    with pytest.raises(ErrorRateExceeded, match=r"'flaky' failed on .*max_error_rate.*TimeoutError"):
        Evaluator(Flaky(every=2), batch_size=5, max_error_rate=0.3).run(qs)


def test_wrong_count_names_the_model() -> None:
    with pytest.raises(ModelOutputError, match=r"model 'short' returned 3 answers for a batch of 4"):
        Evaluator(Short(), batch_size=4).run(generate("association", 8))


def test_streaming_jsonl_is_incremental_and_stream_is_lazy() -> None:
    buffer = io.StringIO()
    seen = []

    def progress(done: int) -> None:
        seen.append((done, buffer.getvalue().count("\n")))

    def endless() -> Iterator[Question]:
        for i in count():
            yield Question(id=str(i), prompt=f"p{i}", answer="yes", cluster=str(i // 3))

    result = Evaluator(create_model("constant", answer="yes"), batch_size=7, progress=progress).run(
        endless(), n=50, output_jsonl=buffer
    )
    assert result.n == 50 and result.accuracy == 1.0
    assert seen[0] == (7, 7) and seen[-1] == (50, 50)  # records written batch by batch
    assert result.clusters == 17


def test_cache_hook() -> None:
    class DictCache:
        def __init__(self) -> None:
            self.data: dict[str, str] = {}

        def get(self, key: str) -> str | None:
            return self.data.get(key)

        def put(self, key: str, value: str) -> None:
            self.data[key] = value

    class Counting:
        name = "counting"
        fingerprint = "counting:v1"

        def __init__(self) -> None:
            self.asked = 0

        def generate(self, questions: Sequence[Question]) -> list[str]:
            self.asked += len(questions)
            return [q.answer for q in questions]

    cache = DictCache()
    model = Counting()
    qs = generate("confounding", 30, seed=4)
    ev = Evaluator(model, batch_size=8, cache=cache, generation_settings={"temperature": 0})
    first = ev.run(qs)
    second = ev.run(qs)
    assert model.asked == len({q.prompt for q in qs})
    assert first.accuracy == second.accuracy == 1.0 and second.cache_hits == 30
    assert cache_key("a", "p", {"t": 0}) != cache_key("a", "p", {"t": 1}) != cache_key("b", "p", {"t": 1})


def test_custom_executor_plugs_in() -> None:
    class Recording(SerialExecutor):
        name = "recording"
        batches = 0

        def map_batches(self, model, batches):  # type: ignore[no-untyped-def]
            for outcome in super().map_batches(model, batches):
                Recording.batches += 1
                yield outcome

    result = Evaluator(create_model("oracle"), batch_size=10, executor=Recording()).run(
        generate("association", 25)
    )
    assert Recording.batches == 3 and result.settings["executor"] == "recording"


def test_replay_reproduces_published_accuracy(bbh_dir: Path) -> None:
    path = bbh_dir / "code-davinci-002-direct-outputs.json"
    published = json.loads(
        (bbh_dir / "code-davinci-002-direct-eval-metrics.jsonl").read_text().splitlines()[0]
    )
    result = Evaluator(create_model("replay", path=str(path)), batch_size=16).run(load_dataset(path))
    assert result.n == 187 and result.unparsed == 0 and result.errors == 0
    assert 100 * result.accuracy == pytest.approx(published["accuracy"], abs=1e-9)


def test_bad_settings() -> None:
    from pytest_causal_eval.engine import EngineError

    with pytest.raises(EngineError, match="batch size"):
        Evaluator(create_model("oracle"), batch_size=0)
    with pytest.raises(EngineError, match="extraction"):
        Evaluator(create_model("oracle"), extraction="psychic")
