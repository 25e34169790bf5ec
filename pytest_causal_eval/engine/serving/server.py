"""An OpenAI-compatible HTTP front for any engine model (starlette app, run by uvicorn).

Routes: ``POST /v1/chat/completions`` (the prompt is the last user message; text only),
``GET /v1/models``, ``GET /v1/models/{id}``, ``GET /health``. Concurrent requests are gathered
into batches for one model call at a time (models need not be thread-safe; batched models such as
torch get real batches).

``"stream": true`` answers as the OpenAI API streams: server-sent events, one
``chat.completion.chunk`` per piece of the answer (the first carries the role, the last the
``finish_reason``), a usage chunk when ``stream_options.include_usage`` is set, then
``data: [DONE]``. The answer is computed before the stream starts, so a request the model cannot
answer fails with an ordinary HTTP error, never a broken stream. Errors are OpenAI-shaped
(``{"error": {"message", "type", "param", "code"}}``) so official clients raise the matching
exception (``BadRequestError``, ``NotFoundError``, ``RateLimitError``, ...).

The oracle reads structured answers a server never sees, so ``serving_model("oracle", task=...,
seed=..., n=...)`` serves :class:`~.reference.LookupModel` instead: the same questions are
regenerated from task + seed and answered by prompt lookup. Without those options the oracle is
refused.

Fault injection (off unless given): :class:`FaultPlan` answers a seeded random share of requests
with 429 (with ``Retry-After``), 500, a stall longer than any sane client timeout, or a malformed
200 body - so clients are tested against real failures.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from pytest_causal_eval.engine.data.question import Question
from pytest_causal_eval.engine.errors import EngineError
from pytest_causal_eval.engine.models.base import Model, TextModel
from pytest_causal_eval.engine.models.registry import create_model

__all__ = ["FAULT_KINDS", "FaultPlan", "create_app", "parse_faults", "serving_model"]

FAULT_KINDS = ("429", "500", "timeout", "malformed")


@dataclass
class FaultPlan:
    """Seeded fault injection: ``rates`` maps a kind in :data:`FAULT_KINDS` to a probability."""

    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    stall_s: float = 30.0
    retry_after: str = "1"

    def __post_init__(self) -> None:
        for kind, rate in self.rates.items():
            if kind not in FAULT_KINDS:
                raise EngineError(f"unknown fault {kind!r}; valid faults: {', '.join(FAULT_KINDS)}")
            if not 0.0 <= rate <= 1.0:
                raise EngineError(f"fault rate for {kind} must be within [0, 1], got {rate}")
        if sum(self.rates.values()) > 1.0:
            raise EngineError("fault rates add up to more than 1")
        self._rng = random.Random(self.seed)
        self.counts: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)

    def draw(self) -> str | None:
        x = self._rng.random()
        edge = 0.0
        for kind in FAULT_KINDS:
            edge += self.rates.get(kind, 0.0)
            if x < edge:
                self.counts[kind] += 1
                return kind
        return None


def parse_faults(text: str) -> dict[str, float]:
    """``"429=0.1,500=0.05,timeout=0.02,malformed=0.02"`` -> rates."""
    rates: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        kind, sep, value = part.partition("=")
        kind = kind.strip()
        try:
            rate = float(value)
        except ValueError:
            rate = -1.0
        if not sep or kind not in FAULT_KINDS or not 0.0 <= rate <= 1.0:
            raise EngineError(
                f"bad fault {part.strip()!r}: expected KIND=RATE with KIND in {', '.join(FAULT_KINDS)} "
                "and RATE within [0, 1]"
            )
        rates[kind] = rate
    return rates


def serving_model(name: str, options: Mapping[str, Any]) -> Model:
    """The model a server answers with (the oracle becomes a prompt-lookup oracle)."""
    if name == "oracle":
        if "task" not in options:
            raise EngineError(
                "the oracle reads structured answers a server never sees: serve it with "
                "--model-arg task=NAME[,NAME] [--model-arg seed=S --model-arg n=N] so the server can "
                "regenerate those questions and answer by prompt lookup"
            )
        return create_model("lookup", **options)
    return create_model(name, **options)


class _Batcher:
    """Gathers concurrent prompts into one model call at a time."""

    def __init__(self, model: Model, max_batch: int) -> None:
        self.model = model
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[str, asyncio.Future[str]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def answer(self, prompt: str) -> str:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._serve(self._queue))
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((prompt, fut))
        return await fut

    def _generate(self, prompts: list[str]) -> list[str]:
        if isinstance(self.model, TextModel):
            return self.model.generate_text(prompts)
        return self.model.generate([Question(id="", prompt=p, answer="") for p in prompts])

    async def _serve(self, queue: asyncio.Queue[tuple[str, asyncio.Future[str]]]) -> None:
        while True:
            items = [await queue.get()]
            while len(items) < self.max_batch and not queue.empty():
                items.append(queue.get_nowait())
            prompts = [p for p, _ in items]
            try:
                answers = await run_in_threadpool(self._generate, prompts)
                if len(answers) != len(prompts):
                    raise EngineError(f"model returned {len(answers)} answers for {len(prompts)} prompts")
            except Exception:
                # answer one by one so a prompt the model rejects fails alone
                for prompt, fut in items:
                    try:
                        one = await run_in_threadpool(self._generate, [prompt])
                        if not fut.done():
                            fut.set_result(one[0])
                    except Exception as exc:
                        if not fut.done():
                            fut.set_exception(exc)
                continue
            for (_, fut), answer in zip(items, answers, strict=True):
                if not fut.done():
                    fut.set_result(answer)


def _error(
    status: int,
    message: str,
    kind: str,
    headers: Mapping[str, str] | None = None,
    *,
    param: str | None = None,
    code: str | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _stream_options(body: Mapping[str, Any]) -> tuple[bool, bool]:
    """``(stream, include_usage)`` of a request; ``ValueError`` for values of the wrong type."""
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise ValueError("'stream' must be true or false")
    options = body.get("stream_options")
    if options is None:
        return stream, False
    if not isinstance(options, dict):
        raise ValueError("'stream_options' must be an object")
    if not stream:
        raise ValueError("'stream_options' applies only when 'stream' is true")
    usage = options.get("include_usage", False)
    if not isinstance(usage, bool):
        raise ValueError("'stream_options.include_usage' must be true or false")
    return True, usage


_PIECES = re.compile(r"\s*\S+|\s+")


def _sse(payload: Mapping[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


def _prompt_of(body: Any) -> str:
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):  # content parts: text only
                texts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
                if texts and all(isinstance(t, str) for t in texts):
                    return "\n".join(str(t) for t in texts)
            raise ValueError("the last user message has no text content")
    raise ValueError("no user message in 'messages'")


def create_app(
    model: Model, *, served_name: str | None = None, faults: FaultPlan | None = None, max_batch: int = 64
) -> Starlette:
    """The ASGI app serving ``model``."""
    name = served_name or model.name
    batcher = _Batcher(model, max_batch)
    ids = itertools.count(1)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "model": name, "fingerprint": model.fingerprint})

    card = {"id": name, "object": "model", "created": 0, "owned_by": "causal-eval"}

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [card]})

    async def model_card(request: Request) -> Response:
        requested = request.path_params["model"]
        if requested != name:
            return _error(
                404,
                f"model {requested!r} not served here; this server serves {name!r}",
                "invalid_request_error",
                param="model",
                code="model_not_found",
            )
        return JSONResponse(card)

    def usage(prompt: str, answer: str) -> dict[str, int]:
        p, c = len(prompt.split()), len(answer.split())
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    async def chunks(
        cid: str, created: int, prompt: str, answer: str, include_usage: bool, malformed: bool
    ) -> AsyncIterator[bytes]:
        def chunk(delta: dict[str, str], finish: str | None) -> dict[str, Any]:
            return {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        yield _sse(chunk({"role": "assistant", "content": ""}, None))
        if malformed:
            yield b'data: {"id": "chatcmpl-x", "choices": [{"delta": \n\n'
        for piece in _PIECES.findall(answer):
            yield _sse(chunk({"content": piece}, None))
        yield _sse(chunk({}, "stop"))
        if include_usage:
            yield _sse(
                {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": name,
                    "choices": [],
                    "usage": usage(prompt, answer),
                }
            )
        yield _sse("[DONE]")

    async def chat(request: Request) -> Response:
        fault = faults.draw() if faults is not None else None
        if faults is not None and fault == "429":
            headers = {"Retry-After": faults.retry_after}
            return _error(429, "rate limited (injected)", "rate_limit_error", headers)
        if fault == "500":
            return _error(500, "internal error (injected)", "server_error")
        if faults is not None and fault == "timeout":
            await asyncio.sleep(faults.stall_s)
        try:
            body = json.loads(await request.body())
            prompt = _prompt_of(body)
            stream, include_usage = _stream_options(body)
        except ValueError as exc:
            return _error(400, f"bad request: {exc}", "invalid_request_error")
        requested = body.get("model")
        if requested not in (None, name):
            return _error(
                404,
                f"model {requested!r} not served here; this server serves {name!r}",
                "invalid_request_error",
                param="model",
                code="model_not_found",
            )
        n = body.get("n", 1)
        if n not in (None, 1):
            return _error(
                400,
                f"bad request: n={n!r}; this server answers with one choice",
                "invalid_request_error",
                param="n",
            )
        try:
            answer = await batcher.answer(prompt)
        except LookupError as exc:
            return _error(400, f"model cannot answer this prompt: {exc}", "invalid_request_error")
        except Exception as exc:
            return _error(500, f"model failed: {type(exc).__name__}: {exc}", "server_error")
        cid, created = f"chatcmpl-{next(ids)}", int(time.time())
        if stream:
            return StreamingResponse(
                chunks(cid, created, prompt, answer, include_usage, fault == "malformed"),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        if fault == "malformed":
            return Response(
                '{"id": "chatcmpl-x", "choices": [{"message": {"content": ', media_type="application/json"
            )
        return JSONResponse(
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": name,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
                ],
                "usage": usage(prompt, answer),
            }
        )

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/models/{model:path}", model_card, methods=["GET"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
        ]
    )
