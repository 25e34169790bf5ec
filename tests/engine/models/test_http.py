from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pytest_causal_eval.engine import (
    EngineError,
    Evaluator,
    LocalServer,
    MemoryCache,
    create_model,
    free_port,
    generate,
)
from pytest_causal_eval.engine.models.openai_model import backoff_delay, retry_after_seconds

QS = generate("association", 120, seed=5)
LOOKUP = {"task": "association", "seed": 5, "n": 100}  # knows the first 100 questions only


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer("oracle", LOOKUP) as srv:
        yield srv


@pytest.fixture(scope="module")
def faulty() -> Iterator[LocalServer]:
    faults = "429=0.1,500=0.05,timeout=0.03,malformed=0.03"
    with LocalServer("oracle", LOOKUP, faults=faults, fault_seed=1, fault_stall_s=5, retry_after="0") as srv:
        yield srv


def test_endpoints(server: LocalServer) -> None:
    assert httpx.get(f"{server.url}/health").json()["status"] == "ok"
    models = httpx.get(f"{server.base_url}/models").json()
    assert [m["id"] for m in models["data"]] == ["oracle"]
    q = QS[0]
    body = {
        "model": "oracle",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": q.prompt}],
    }
    reply = httpx.post(f"{server.base_url}/chat/completions", json=body).json()
    assert reply["choices"][0]["message"]["content"] == q.answer
    bad = httpx.post(f"{server.base_url}/chat/completions", content=b"{not json")
    assert bad.status_code == 400 and "bad request" in bad.json()["error"]["message"]
    none = httpx.post(
        f"{server.base_url}/chat/completions", json={"messages": [{"role": "system", "content": "x"}]}
    )
    assert none.status_code == 400 and "no user message" in none.text


def test_openai_model_against_the_server_keeps_good_answers(server: LocalServer, tmp_path: Path) -> None:
    model = create_model("openai", base_url=server.base_url, model_name="oracle", max_concurrency=8)
    out = tmp_path / "per_q.jsonl"
    try:
        result = Evaluator(model, batch_size=16, max_error_rate=0.5).run(QS, output_jsonl=out)
    finally:
        model.close()
    # questions 100..119 are unknown to the server: 400, not retried, recorded per question
    assert result.n == 120 and result.errors == 20 and result.overall.correct == 100
    assert model.retries == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    failed = [r for r in rows if r["error"]]
    assert [r["id"] for r in failed] == [q.id for q in QS[100:]]
    assert all("HTTP 400" in r["error"] and "not retried" in r["error"] for r in failed)


@pytest.mark.parametrize("executor", ["serial", "thread", "async"])
def test_injected_faults_are_retried_to_the_same_answers(faulty: LocalServer, executor: str) -> None:
    model = create_model(
        "openai",
        base_url=faulty.base_url,
        model_name="oracle",
        timeout=0.5,
        max_retries=8,
        backoff_base=0.005,
        backoff_cap=0.05,
    )
    try:
        workers = None if executor == "serial" else 2
        result = Evaluator(model, batch_size=20, executor=executor, workers=workers).run(QS[:100])
    finally:
        model.close()
    assert result.accuracy == 1.0 and result.errors == 0
    assert model.retries > 0  # faults were injected and survived


def test_server_down_gives_bounded_per_question_errors(tmp_path: Path) -> None:
    model = create_model(
        "openai",
        base_url=f"http://127.0.0.1:{free_port()}/v1",
        model_name="m",
        timeout=0.5,
        max_retries=2,
        backoff_base=0.01,
    )
    start = time.monotonic()
    try:
        result = Evaluator(model, batch_size=8, max_error_rate=1.0).run(QS[:16])
    finally:
        model.close()
    assert time.monotonic() - start < 30  # bounded: no hang (generous for a loaded machine)
    assert result.errors == 16 and model.retries == 32


def test_slow_server_times_out_per_question() -> None:
    with LocalServer("oracle", LOOKUP, faults="timeout=1.0", fault_stall_s=5) as srv:
        model = create_model(
            "openai",
            base_url=srv.base_url,
            model_name="oracle",
            timeout=0.2,
            max_retries=1,
            backoff_base=0.01,
        )
        try:
            result = Evaluator(model, batch_size=4, max_error_rate=1.0).run(QS[:4])
        finally:
            model.close()
    assert result.errors == 4
    assert result.overall.errors == 4


def test_retry_after_and_backoff_are_bounded() -> None:
    rng = random.Random(0)
    assert retry_after_seconds("3") == 3.0 and retry_after_seconds("junk") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert backoff_delay(1, 0.5, 8.0, 120.0, 30.0, rng) == 30.0  # Retry-After honoured within the cap
    delays = [backoff_delay(a, 0.5, 8.0, None, 30.0, rng) for a in range(1, 30)]
    assert all(0.0 <= d <= 8.0 for d in delays) and max(delays[:2]) <= 1.0
    with pytest.raises(EngineError, match="max_retries"):
        create_model("openai", base_url="http://x/v1", model_name="m", max_retries=1000)


def test_api_key_never_leaks(server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-do-not-leak-1234567890"
    monkeypatch.setenv("MY_KEY", secret)
    model = create_model("openai", base_url=server.base_url, model_name="oracle", api_key_env="MY_KEY")
    cache = MemoryCache()
    out = tmp_path / "rows.jsonl"
    try:
        result = Evaluator(model, cache=cache, max_error_rate=0.5).run(QS[95:105], output_jsonl=out)
        assert model._client is not None and model._client.headers["authorization"] == f"Bearer {secret}"
    finally:
        model.close()
    assert result.n == 10
    texts = [
        repr(model),
        model.fingerprint,
        json.dumps(result.to_dict()),
        out.read_text(),
        json.dumps(model.model_spec.to_dict()),
        repr(list(cache._data.items())),
    ]
    assert all(secret not in t for t in texts)
    assert "MY_KEY" in repr(model)


def test_serve_refuses_a_bare_oracle() -> None:
    with pytest.raises(EngineError, match="--model-arg task=NAME"):
        LocalServer("oracle", startup_timeout_s=30).start()
