"""``causal-eval serve`` spoken to by the official ``openai`` client, on a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from pytest_causal_eval.engine import LocalServer, generate

if TYPE_CHECKING:
    import openai as openai_module

QS = generate("association", 40, seed=11)
LOOKUP = {"task": "association", "seed": 11, "n": 30}  # knows the first 30 questions only


def _openai() -> Any:
    try:
        import openai
    except ImportError:  # a dev dependency: CI installs it, so a missing client fails there
        if os.environ.get("CI") == "true":
            pytest.fail("the openai client is a dev dependency: pip install -e '.[dev]'")
        pytest.skip("the openai client is not installed (pip install -e '.[dev]')")
    return openai


@pytest.fixture(scope="module")
def openai() -> Any:
    return _openai()


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer("oracle", LOOKUP) as srv:
        yield srv


@pytest.fixture
def client(openai: Any, server: LocalServer) -> Iterator[openai_module.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="not-needed", max_retries=0, timeout=30) as c:
        yield c


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": text}]


def test_models_list_and_retrieve(client: openai_module.OpenAI, openai: Any) -> None:
    listed = client.models.list()
    assert [m.id for m in listed] == ["oracle"]
    assert listed.data[0].owned_by == "causal-eval"
    assert client.models.retrieve("oracle").id == "oracle"
    with pytest.raises(openai.NotFoundError, match="not served here"):
        client.models.retrieve("gpt-17")


def test_plain_completion(client: openai_module.OpenAI) -> None:
    for q in QS[:5]:
        reply = client.chat.completions.create(model="oracle", messages=_user(q.prompt))  # type: ignore[arg-type]
        assert reply.choices[0].message.content == q.answer
        assert reply.choices[0].finish_reason == "stop" and reply.object == "chat.completion"
        assert reply.usage is not None and reply.usage.total_tokens > 0


def test_streaming(client: openai_module.OpenAI) -> None:
    """``stream=True`` yields chunks whose deltas add up to the answer (before: no chunk at all)."""
    for q in QS[:5]:
        stream = client.chat.completions.create(model="oracle", messages=_user(q.prompt), stream=True)  # type: ignore[arg-type]
        chunks = list(stream)
        assert len(chunks) >= 3
        assert chunks[0].choices[0].delta.role == "assistant"
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == q.answer
        assert [c.choices[0].finish_reason for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]
        assert {c.id for c in chunks} == {chunks[0].id} and chunks[0].object == "chat.completion.chunk"
    q = QS[0]
    stream = client.chat.completions.create(
        model="oracle",
        messages=_user(q.prompt),  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 1


def test_streaming_with_the_async_client(openai: Any, server: LocalServer) -> None:
    async def ask(prompt: str) -> str:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0) as client:
            stream = await client.chat.completions.create(model="oracle", messages=_user(prompt), stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in stream])

    async def ask_all() -> list[str]:
        return list(await asyncio.gather(*(ask(q.prompt) for q in QS[:8])))

    assert asyncio.run(ask_all()) == [q.answer for q in QS[:8]]


def test_the_wire_format_of_a_stream(server: LocalServer) -> None:
    body = {"model": "oracle", "messages": _user(QS[1].prompt), "stream": True}
    with httpx.stream("POST", f"{server.base_url}/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = response.read().decode()
    events = text.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events[:-1])


def test_errors(client: openai_module.OpenAI, openai: Any) -> None:
    unknown = QS[35].prompt  # beyond what the lookup oracle knows
    with pytest.raises(openai.BadRequestError, match="model cannot answer this prompt"):
        client.chat.completions.create(model="oracle", messages=_user(unknown))  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="model cannot answer this prompt"):
        client.chat.completions.create(model="oracle", messages=_user(unknown), stream=True)  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError, match="not served here") as info:
        client.chat.completions.create(model="gpt-17", messages=_user(QS[0].prompt))  # type: ignore[arg-type]
    assert info.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError, match="no user message"):
        client.chat.completions.create(model="oracle", messages=[{"role": "system", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="one choice"):
        client.chat.completions.create(model="oracle", messages=_user(QS[0].prompt), n=2)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="'stream_options' applies only when 'stream' is true"):
        client.chat.completions.create(
            model="oracle",
            messages=_user(QS[0].prompt),  # type: ignore[arg-type]
            stream_options={"include_usage": True},
        )


def test_injected_faults_reach_the_client_as_its_own_errors(openai: Any) -> None:
    with (
        LocalServer("oracle", LOOKUP, faults="429=1.0", retry_after="0") as limited,
        openai.OpenAI(base_url=limited.base_url, api_key="x", max_retries=0) as client,
        pytest.raises(openai.RateLimitError, match="rate limited"),
    ):
        client.chat.completions.create(model="oracle", messages=_user(QS[0].prompt), stream=True)
