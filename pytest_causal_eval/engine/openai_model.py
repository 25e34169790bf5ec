"""The ``openai`` model: OpenAI-compatible chat completions over HTTP (httpx, asyncio).

One request per question, at most ``max_concurrency`` in flight (shared by every caller of the
model). Each request has a ``timeout``; 429, 5xx, timeouts, connection errors and malformed bodies
are retried at most ``max_retries`` times with exponential backoff and full jitter, honouring a
``Retry-After`` header up to ``max_retry_after`` seconds. A question still failing after that is
reported through :class:`~.failures.PartialFailure`: the evaluator records its error and keeps the
other answers. Other 4xx answers are not retried.

The API key is read from the environment variable ``api_key_env`` (default ``OPENAI_API_KEY``) when
the client starts. It is sent as a bearer token and never logged, cached, written, or part of the
fingerprint or repr (only the variable's name is).

The client runs on a private event loop in a background thread, so ``generate`` works from any
thread (serial, thread executors) and ``agenerate`` from any event loop (async executor).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from typing import Any

import httpx

from .errors import EngineError
from .failures import PartialFailure
from .models import TextModel
from .question import Question

__all__ = ["OpenAIModel", "RequestFailed", "backoff_delay", "retry_after_seconds"]

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class RequestFailed(EngineError):
    """A request that failed for good (after retries, or not retryable)."""


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def backoff_delay(
    attempt: int,
    base: float,
    cap: float,
    retry_after: float | None,
    max_retry_after: float,
    rng: random.Random,
) -> float:
    """The wait before retry ``attempt`` (1-based): full-jitter exponential backoff, or the server's
    ``Retry-After`` capped at ``max_retry_after``."""
    if retry_after is not None:
        return min(retry_after, max_retry_after)
    return rng.uniform(0.0, min(cap, base * (2 ** (attempt - 1))))


class OpenAIModel(TextModel):
    """Options: ``base_url`` (e.g. ``http://127.0.0.1:8000/v1``), ``model_name``; see the module doc."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model_name: str,
        api_key_env: str = "OPENAI_API_KEY",
        max_concurrency: int = 32,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff_base: float = 0.25,
        backoff_cap: float = 8.0,
        max_retry_after: float = 30.0,
        temperature: float = 0.0,
        max_tokens: int = 16,
        system_prompt: str | None = None,
        seed: int = 0,
    ) -> None:
        if not str(base_url).startswith(("http://", "https://")):
            raise EngineError(f"openai model: base_url must start with http:// or https://, got {base_url!r}")
        if max_concurrency < 1:
            raise EngineError(f"openai model: max_concurrency must be >= 1, got {max_concurrency}")
        if not 0 <= max_retries <= 20:
            raise EngineError(f"openai model: max_retries must be within 0..20, got {max_retries}")
        if timeout <= 0:
            raise EngineError(f"openai model: timeout must be positive seconds, got {timeout}")
        self.base_url = str(base_url).rstrip("/")
        self.model_name = str(model_name)
        self.api_key_env = str(api_key_env)
        self.max_concurrency = int(max_concurrency)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff_base = float(backoff_base)
        self.backoff_cap = float(backoff_cap)
        self.max_retry_after = float(max_retry_after)
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.system_prompt = system_prompt
        self._rng = random.Random(seed)
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._thread: threading.Thread | None = None
        self._sem: asyncio.Semaphore | None = None
        self.retries = 0  # retries made so far (all questions)

    # ------------------------------------------------------------------ identity
    @property
    def settings(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "system_prompt": self.system_prompt,
        }

    @property
    def fingerprint(self) -> str:
        settings = json.dumps(self.settings, sort_keys=True)
        return f"openai:v1:{self.base_url}:{self.model_name}:{settings}"

    def __repr__(self) -> str:
        return (
            f"OpenAIModel(base_url={self.base_url!r}, model_name={self.model_name!r}, "
            f"key from ${self.api_key_env})"
        )

    def __getstate__(self) -> dict[str, Any]:  # pickles without loop, client or key
        state = self.__dict__.copy()
        for key in ("_lock", "_loop", "_client", "_sem", "_sleep", "_thread"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._loop = self._client = self._sem = self._thread = None
        self._sleep = asyncio.sleep

    # ------------------------------------------------------------------ event loop
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is not None:
                return self._loop
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                ready.set()
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="causal-eval-openai", daemon=True)
            self._thread.start()
            ready.wait()
            key = os.environ.get(self.api_key_env)
            headers = {"Authorization": f"Bearer {key}"} if key else {}

            async def setup() -> None:
                self._sem = asyncio.Semaphore(self.max_concurrency)
                limits = httpx.Limits(
                    max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency
                )
                self._client = httpx.AsyncClient(
                    base_url=self.base_url, headers=headers, timeout=self.timeout, limits=limits
                )

            asyncio.run_coroutine_threadsafe(setup(), loop).result()
            self._loop = loop
            return loop

    def close(self) -> None:
        """Close connections and stop the client's event loop (it restarts on next use)."""
        with self._lock:
            loop, client, thread = self._loop, self._client, self._thread
            self._loop = self._client = self._sem = self._thread = None
        if loop is None:
            return
        if client is not None:
            asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
        loop.close()

    # ------------------------------------------------------------------ requests
    def _body(self, prompt: str) -> dict[str, Any]:
        messages = [{"role": "user", "content": prompt}]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        return {
            "model": self.model_name,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    async def _one(self, prompt: str) -> str:
        assert self._client is not None and self._sem is not None
        body = self._body(prompt)
        attempt = 0
        while True:
            retry_after: float | None = None
            async with self._sem:
                try:
                    response = await self._client.post("/chat/completions", json=body)
                except httpx.TimeoutException:
                    problem = f"timed out after {self.timeout:g}s"
                except httpx.TransportError as exc:
                    problem = f"connection error: {type(exc).__name__}: {exc}"
                else:
                    status = response.status_code
                    if status == 200:
                        try:
                            return _content(response.json())
                        except (ValueError, KeyError, IndexError, TypeError) as exc:
                            problem = f"malformed response body ({type(exc).__name__})"
                    elif status in RETRY_STATUS:
                        problem = f"HTTP {status}{_message(response)}"
                        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                    else:
                        hint = f" (check ${self.api_key_env})" if status in (401, 403) else ""
                        raise RequestFailed(f"HTTP {status}{_message(response)}{hint}; not retried")
            if attempt >= self.max_retries:
                raise RequestFailed(f"{problem}; gave up after {attempt + 1} attempts")
            attempt += 1
            self.retries += 1
            delay = backoff_delay(
                attempt, self.backoff_base, self.backoff_cap, retry_after, self.max_retry_after, self._rng
            )
            await self._sleep(delay)

    async def _many(self, prompts: Sequence[str]) -> list[str | BaseException]:
        results = await asyncio.gather(*(self._one(p) for p in prompts), return_exceptions=True)
        return list(results)

    @staticmethod
    def _collect(results: Sequence[str | BaseException]) -> list[str]:
        if all(isinstance(r, str) for r in results):
            return [r for r in results if isinstance(r, str)]
        responses: list[str | None] = []
        errors: list[BaseException | None] = []
        for r in results:
            if isinstance(r, str):
                responses.append(r)
                errors.append(None)
            else:
                responses.append(None)
                errors.append(r if isinstance(r, EngineError) else RequestFailed(f"{type(r).__name__}: {r}"))
        raise PartialFailure(responses, errors)

    def _submit(self, prompts: Sequence[str]) -> Future[list[str | BaseException]]:
        loop = self._ensure_loop()
        return asyncio.run_coroutine_threadsafe(self._many(list(prompts)), loop)

    def generate_text(self, prompts: Sequence[str]) -> list[str]:
        if not prompts:
            return []
        return self._collect(self._submit(prompts).result())

    async def agenerate(self, questions: Sequence[Question]) -> list[str]:
        """``generate`` for callers on another event loop (the async executor)."""
        if not questions:
            return []
        results = await asyncio.wrap_future(self._submit([q.prompt for q in questions]))
        return self._collect(results)


def _content(payload: Any) -> str:
    content = payload["choices"][0]["message"]["content"]
    if not isinstance(content, str):
        raise TypeError("content is not a string")
    return content


def _message(response: httpx.Response) -> str:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return ""
    return f": {str(message)[:200]}"
