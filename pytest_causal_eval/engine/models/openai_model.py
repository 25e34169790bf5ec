"""The ``openai`` model: OpenAI-compatible chat completions over HTTP (httpx, asyncio).

One request per question, at most ``max_concurrency`` in flight (shared by every caller of the
model). Each attempt has a ``timeout`` in seconds for the whole exchange (connecting, sending and
reading the body); 429, 5xx, timeouts, connection errors and malformed bodies are retried at most
``max_retries`` times with exponential backoff and full jitter, honouring a ``Retry-After`` header
up to ``max_retry_after`` seconds. A question still failing after that is reported through
:class:`~.failures.PartialFailure`: the evaluator records its error and keeps the other answers.
Other 4xx answers are not retried.

A response body is read as a stream and never held beyond ``max_response_bytes`` (default 4 MiB,
after decompression; a larger ``Content-Length`` is refused before reading): a larger body fails
that question with :class:`ResponseTooLarge` (not retried) and memory stays bounded whatever a
server sends.

The API key is read from the environment variable ``api_key_env`` (default ``OPENAI_API_KEY``) when
the client starts. It is sent as a bearer token and never logged, cached, written, or part of the
fingerprint or repr (only the variable's name is). A server that echoes it back (``HTTP 401:
Incorrect API key provided: Bearer sk-...``) does not leak it either: every error message and every
response text this model returns passes through :func:`~.redaction.redact` with the key.

The client runs on a private event loop in a background thread, so ``generate`` works from any
thread (serial, thread executors) and ``agenerate`` from any event loop (async executor).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import os
import random
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from typing import Any

import httpx

from pytest_causal_eval.engine.data.question import Question
from pytest_causal_eval.engine.errors import EngineError
from pytest_causal_eval.engine.models.base import TextModel
from pytest_causal_eval.engine.models.failures import PartialFailure
from pytest_causal_eval.engine.redaction import redact

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "OpenAIModel",
    "RequestFailed",
    "ResponseTooLarge",
    "backoff_delay",
    "format_bytes",
    "retry_after_seconds",
]

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
_MESSAGE_CHARS = 200  # of a server's error message, after redaction
_ERROR_BODY_BYTES = 64 * 1024  # of an error response: enough for its message, the rest is dropped


class RequestFailed(EngineError):
    """A request that failed for good (after retries, or not retryable)."""


class ResponseTooLarge(RequestFailed):
    """A response body beyond ``max_response_bytes`` (not retried: the next one would be as large)."""


def format_bytes(n: float) -> str:
    """``4 MiB``, ``512 KiB``, ``1.5 GiB``, ``300 B``."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def _option_number(name: str, value: Any, *, integer: bool, minimum: float | None = None) -> Any:
    """``value`` as an int or a finite float, or an :class:`EngineError` naming the option."""
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError
        number = float(value)
        if not math.isfinite(number) or (integer and not number.is_integer()):
            raise ValueError
    except (TypeError, ValueError):
        kind = "an integer" if integer else "a number"
        raise EngineError(f"openai model: {name} must be {kind}, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise EngineError(f"openai model: {name} must be >= {minimum:g}, got {value!r}")
    return int(number) if integer else number


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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if not str(base_url).startswith(("http://", "https://")):
            raise EngineError(
                f"openai model: base_url must start with http:// or https://, got {redact(repr(base_url))}"
            )
        self.base_url = str(base_url).rstrip("/")
        self.model_name = str(model_name)
        self.api_key_env = str(api_key_env)
        self.max_concurrency = _option_number("max_concurrency", max_concurrency, integer=True, minimum=1)
        self.timeout = _option_number("timeout", timeout, integer=False)
        if self.timeout <= 0:
            raise EngineError(f"openai model: timeout must be positive seconds, got {timeout}")
        self.max_retries = _option_number("max_retries", max_retries, integer=True, minimum=0)
        if self.max_retries > 20:
            raise EngineError(f"openai model: max_retries must be within 0..20, got {max_retries}")
        self.backoff_base = _option_number("backoff_base", backoff_base, integer=False, minimum=0)
        self.backoff_cap = _option_number("backoff_cap", backoff_cap, integer=False, minimum=0)
        self.max_retry_after = _option_number("max_retry_after", max_retry_after, integer=False, minimum=0)
        self.temperature = _option_number("temperature", temperature, integer=False)
        self.max_tokens = _option_number("max_tokens", max_tokens, integer=True, minimum=1)
        self.max_response_bytes = _option_number(
            "max_response_bytes", max_response_bytes, integer=True, minimum=1
        )
        self.system_prompt = system_prompt
        self._secret: str | None = None  # the key, for redaction; read with the key, never pickled
        self._rng = random.Random(_option_number("seed", seed, integer=True))
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
        return f"openai:v1:{redact(self.base_url)}:{self.model_name}:{settings}"

    def __repr__(self) -> str:
        return (
            f"OpenAIModel(base_url={redact(self.base_url)!r}, model_name={self.model_name!r}, "
            f"key from ${self.api_key_env})"
        )

    def __getstate__(self) -> dict[str, Any]:  # pickles without loop, client or key
        state = self.__dict__.copy()
        for key in ("_lock", "_loop", "_client", "_sem", "_sleep", "_thread", "_secret"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._loop = self._client = self._sem = self._thread = None
        self._secret = None
        self._sleep = asyncio.sleep

    def _clean(self, text: str) -> str:
        """``text`` without the API key or anything that looks like a credential."""
        return redact(text, (self._secret,))

    # ------------------------------------------------------------------ event loop
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is not None:
                return self._loop
            key = self._read_key()  # before the loop starts: a bad key leaves no thread behind
            self._secret = key
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                ready.set()
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="causal-eval-openai", daemon=True)
            self._thread.start()
            ready.wait()
            headers = {"Accept-Encoding": "identity"}  # compressed bodies could not be capped as sent
            if key:
                headers["Authorization"] = f"Bearer {key}"

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

    def _read_key(self) -> str | None:
        """The key from ``$api_key_env``, without the surrounding whitespace a ``.env`` file or a
        copy-paste leaves; one an HTTP header cannot carry is refused naming the variable only."""
        key = (os.environ.get(self.api_key_env) or "").strip()
        if not key:
            return None
        if not key.isascii() or not key.isprintable():
            raise EngineError(
                f"openai model: ${self.api_key_env} holds characters an HTTP header cannot carry "
                "(non-ASCII or control characters); check how it was set"
            )
        return key

    def close(self) -> None:
        """Close connections and stop the client's event loop (it restarts on next use)."""
        with self._lock:
            loop, client, thread = self._loop, self._client, self._thread
            self._loop = self._client = self._sem = self._thread = None
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(_shut_down(client), loop).result(timeout=10)
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

    async def _exchange(self, body: dict[str, Any]) -> tuple[int, str | None, bytes]:
        """One POST: the status, the ``Retry-After`` header and the body (capped, decoded)."""
        assert self._client is not None
        async with self._client.stream("POST", "/chat/completions", json=body) as response:
            status = response.status_code
            if status == 200:
                data = await _read_capped(response, self.max_response_bytes)
            else:  # only its message matters: a huge error body is cut, and the status still told
                data = await _read_capped(response, min(self.max_response_bytes, _ERROR_BODY_BYTES), cut=True)
            return status, response.headers.get("Retry-After"), data

    async def _one(self, prompt: str) -> str:
        assert self._client is not None and self._sem is not None
        body = self._body(prompt)
        attempt = 0
        while True:
            retry_after: float | None = None
            async with self._sem:
                try:
                    status, retry_header, data = await asyncio.wait_for(self._exchange(body), self.timeout)
                except (httpx.TimeoutException, asyncio.TimeoutError):
                    problem = f"timed out after {self.timeout:g}s"
                except httpx.TransportError as exc:
                    problem = self._clean(f"connection error: {type(exc).__name__}: {exc}")
                except ResponseTooLarge as exc:
                    raise ResponseTooLarge(self._clean(str(exc))) from None
                except _MalformedBody as exc:
                    problem = f"malformed response body ({exc})"
                else:
                    if status == 200:
                        try:
                            return self._clean(_content(json.loads(data)))
                        except (ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
                            problem = f"malformed response body ({type(exc).__name__})"
                    elif status in RETRY_STATUS:
                        problem = f"HTTP {status}{self._message(data)}"
                        retry_after = retry_after_seconds(retry_header)
                    else:
                        hint = f" (check ${self.api_key_env})" if status in (401, 403) else ""
                        raise RequestFailed(f"HTTP {status}{self._message(data)}{hint}; not retried")
            if attempt >= self.max_retries:
                raise RequestFailed(self._clean(f"{problem}; gave up after {attempt + 1} attempts"))
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

    def _message(self, data: bytes) -> str:
        """``": <the server's error message>"``, redacted before it is shortened (a key cut in two
        would no longer be recognised), or "" when the body has none."""
        try:
            message = json.loads(data)["error"]["message"]
        except (ValueError, KeyError, TypeError, IndexError, RecursionError):
            return ""
        text = self._clean(str(message))
        if len(text) > _MESSAGE_CHARS:
            text = text[:_MESSAGE_CHARS] + "..."
        return f": {text}"

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


async def _shut_down(client: httpx.AsyncClient | None) -> None:
    """What ``asyncio.run`` does before it closes its loop, for the client's loop: close the client,
    then every async generator still open and the tasks that close them.

    A body read no further than the cap leaves httpx's and httpcore's stream generators suspended,
    one inside the other (:func:`_read_capped` can close only the outermost); each is closed by a task
    the loop schedules when it is collected, and closing one drops the next. A loop stopped before
    those tasks ran leaves the generators unclosed (``coroutine ... was never awaited``)."""
    if client is not None:
        await client.aclose()
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    for _ in range(16):  # one nesting level a round; httpx and httpcore nest four
        await loop.shutdown_asyncgens()
        pending = [task for task in asyncio.all_tasks() if task is not me]
        if not pending:
            return
        await asyncio.wait(pending, timeout=1.0)


def _content(payload: Any) -> str:
    content = payload["choices"][0]["message"]["content"]
    if not isinstance(content, str):
        raise TypeError("content is not a string")
    return content


class _MalformedBody(Exception):
    """A body that cannot be decoded (bad compression): retried like any malformed body."""


def _too_large(cap: int, detail: str) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"response body {detail} max_response_bytes={cap} ({format_bytes(cap)}); not retried "
        "(raise --max-response-bytes or lower max_tokens if the server is right)"
    )


async def _read_capped(response: httpx.Response, cap: int, *, cut: bool = False) -> bytes:
    """The response body, read chunk by chunk and given up as soon as it exceeds ``cap`` bytes
    (after decompression: a gzip or deflate body is inflated at most ``cap + 1`` bytes at a time).
    ``cut``: return the first ``cap`` bytes instead of raising :class:`ResponseTooLarge`."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        decoder = None
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > cap and not cut:
            raise _too_large(cap, f"of {format_bytes(int(declared))} (Content-Length) exceeds")
    elif encoding in ("gzip", "x-gzip", "deflate"):
        decoder = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib framing
    else:
        raise _MalformedBody(f"unsupported Content-Encoding {encoding!r}")
    body = bytearray()
    chunks = response.aiter_raw()
    try:
        async for chunk in chunks:
            if decoder is None:
                body += chunk
            else:
                data = chunk
                while data and len(body) <= cap:
                    try:
                        body += decoder.decompress(data, cap + 1 - len(body))
                    except zlib.error as exc:
                        raise _MalformedBody(f"bad {encoding} data: {exc}") from None
                    data = decoder.unconsumed_tail
            if len(body) > cap:
                if cut:
                    return bytes(body[:cap])
                raise _too_large(cap, "exceeds")
    finally:  # stopping early: close the stream's generator now, not at garbage collection
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    if decoder is not None:
        try:
            body += decoder.flush()
        except zlib.error as exc:
            raise _MalformedBody(f"bad {encoding} data: {exc}") from None
        if len(body) > cap:
            if cut:
                return bytes(body[:cap])
            raise _too_large(cap, "exceeds")
    return bytes(body)
