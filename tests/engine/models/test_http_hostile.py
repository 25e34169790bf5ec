"""The HTTP adapter against servers that misbehave: echoed keys, huge bodies, compression bombs."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from pytest_causal_eval.cli import main
from pytest_causal_eval.engine import EngineError, Evaluator, PartialFailure, create_model, generate

from .scripted_server import Reply, Request, ScriptedServer, completion, error, repeat

QS = generate("association", 20, seed=8)
# Not shaped like an "sk-" key: only the configured value itself can be recognised.
KEY = "Zq4xT9mW2rV8pL6nK3jH7gF5dS1aQ0eRtYu/+="
MIB = 1 << 20


def _echo_key_401(style: str) -> ScriptedServer:
    def reply(request: Request) -> Reply:
        sent = request.authorization  # "Bearer <key>"
        raw = sent.removeprefix("Bearer ")
        shown = {"bearer": sent, "raw": raw, "long": "x " * 80 + sent, "quoted": quote(raw)}[style]
        return Reply(401, error(f"Incorrect API key provided: {shown}. You can find your API key at ..."))

    return ScriptedServer(reply)


@pytest.mark.parametrize("style", ["bearer", "raw", "long", "quoted"])
def test_a_key_echoed_by_the_server_reaches_no_output(
    style: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``long``: the key sits across the point where the server's message is shortened."""
    monkeypatch.setenv("H15_KEY", KEY)
    rows, cache = tmp_path / "rows.jsonl", tmp_path / "cache"
    with _echo_key_401(style) as server:
        argv = ["evaluate", "--model", "openai", "--base-url", server.base_url, "--model-name", "m",
                "--model-arg", "api_key_env=H15_KEY", "--task", "association", "-n", "10",
                "--batch-size", "5", "--cache", str(cache), "--output", str(rows)]  # fmt: skip
        assert main([*argv, "--max-error-rate", "1", "--json"]) == 0
        kept = capsys.readouterr()
        assert main([*argv, "--max-error-rate", "0"]) == 2  # the run aborts: the message goes to stderr
        aborted = capsys.readouterr()
    assert all(r.authorization == f"Bearer {KEY}" for r in server.requests)  # the key was really sent
    assert json.loads(kept.out)["errors"] == 10
    records = [json.loads(line) for line in rows.read_text().splitlines()]
    assert records and all("HTTP 401: Incorrect API key provided:" in r["error"] for r in records)
    assert "check $H15_KEY" in records[0]["error"]
    assert "***" in records[0]["error"] or style == "long"  # long: the redacted key is past the cut
    assert "HTTP 401: Incorrect API key provided:" in aborted.err
    written = [kept.out, kept.err, aborted.out, aborted.err, rows.read_text()]
    written += [p.read_bytes().decode("latin-1") for p in cache.iterdir()]
    for text in written:
        assert KEY not in text and KEY[:5] not in text  # not even the part before a cut
        assert quote(KEY) not in text


def test_a_key_in_a_response_is_not_cached_or_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("H15_KEY", KEY)

    def reply(request: Request) -> Reply:
        return Reply(200, completion(f"yes (you sent {request.authorization}, key {KEY})"))

    rows, cache = tmp_path / "rows.jsonl", tmp_path / "cache"
    with ScriptedServer(reply) as server:
        code = main(
            ["evaluate", "--model", "openai", "--base-url", server.base_url, "--model-name", "m",
             "--model-arg", "api_key_env=H15_KEY", "--task", "association", "-n", "6",
             "--cache", str(cache), "--output", str(rows)]
        )  # fmt: skip
    assert code == 0
    first = json.loads(rows.read_text().splitlines()[0])
    assert first["response"] == "yes (you sent Bearer ***, key ***)"
    for path in [rows, *cache.iterdir()]:
        assert KEY not in path.read_bytes().decode("latin-1")


def test_exceptions_and_pytest_failures_carry_no_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("H15_KEY", KEY)
    with _echo_key_401("raw") as server:
        model = create_model("openai", base_url=server.base_url, model_name="m", api_key_env="H15_KEY")
        try:
            with pytest.raises(PartialFailure) as info:
                model.generate(QS[:3])
        finally:
            model.close()
        assert KEY not in str(info.value) and "HTTP 401" in str(info.value)
        assert all(KEY not in str(e) and KEY not in repr(e) for e in info.value.errors)

        pytester.makepyfile(
            f"""
            def test_eval(causal_engine):
                engine = causal_engine(
                    "openai", base_url="{server.base_url}", model_name="m", api_key_env="H15_KEY",
                    task="association",
                )
                engine.run(10)
            """
        )
        result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "HTTP 401: Incorrect API key provided: ***" in text and KEY not in text


def _huge_completion(size: int) -> Iterator[bytes]:
    """A 200 body of ``size`` bytes that would be a valid completion if it ever ended."""
    yield b'{"choices":[{"message":{"role":"assistant","content":"'
    yield from repeat(b"y" * 65536, size)
    yield b'"}}]}'


def _peak_while(fn: object) -> tuple[int, BaseException | None]:
    tracemalloc.start()
    try:
        fn()  # type: ignore[operator]
    except Exception as exc:
        return tracemalloc.get_traced_memory()[1], exc
    finally:
        tracemalloc.stop()
    return 0, None


def test_a_huge_body_fails_its_question_and_memory_stays_at_the_cap() -> None:
    body = 48 * MIB
    with ScriptedServer(lambda _: Reply(200, _huge_completion(body))) as server:
        model = create_model("openai", base_url=server.base_url, model_name="m", max_response_bytes=MIB)
        try:
            peak, exc = _peak_while(lambda: model.generate(QS[:2]))
        finally:
            model.close()
        deadline = time.monotonic() + 10
        while server.sent >= body and time.monotonic() < deadline:  # pragma: no cover - bounded wait
            time.sleep(0.01)
    assert isinstance(exc, PartialFailure)
    for err in exc.errors:
        assert "response body exceeds max_response_bytes=1048576 (1 MiB); not retried" in str(err)
    assert peak < 8 * MIB, f"peak {peak / MIB:.1f} MiB for a 1 MiB cap"  # two 1 MiB bodies, not 2 x 48
    assert server.sent < 2 * body // 2  # the client hung up early: the rest was never sent
    assert len(server.requests) == 2  # not retried


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    with ScriptedServer(
        lambda _: Reply(200, _huge_completion(64 * MIB), {"Content-Length": str(64 * MIB + 60)})
    ) as server:
        model = create_model("openai", base_url=server.base_url, model_name="m", max_response_bytes=MIB)
        try:
            peak, exc = _peak_while(lambda: model.generate(QS[:1]))
        finally:
            model.close()
    assert isinstance(exc, PartialFailure)
    assert "response body of 64 MiB (Content-Length) exceeds max_response_bytes=1048576" in str(exc.errors[0])
    assert peak < 4 * MIB


def test_a_compression_bomb_is_inflated_no_further_than_the_cap() -> None:
    bomb = gzip.compress(b'{"choices":[{"message":{"content":"' + b"0" * (64 * MIB) + b'"}}]}')
    assert len(bomb) < MIB // 4
    with ScriptedServer(lambda _: Reply(200, bomb, {"Content-Encoding": "gzip"})) as server:
        model = create_model("openai", base_url=server.base_url, model_name="m", max_response_bytes=MIB)
        try:
            peak, exc = _peak_while(lambda: model.generate(QS[:1]))
        finally:
            model.close()
    assert isinstance(exc, PartialFailure) and "exceeds max_response_bytes=1048576" in str(exc.errors[0])
    assert peak < 8 * MIB
    assert server.requests[0].headers.get("accept-encoding") == "identity"


def test_close_finishes_the_stream_generators_a_capped_read_left_open() -> None:
    """A body read no further than the cap leaves httpx's and httpcore's stream generators
    suspended on the client's loop (only the outermost can be closed where reading stops);
    ``close()`` must close them before it stops the loop, as ``asyncio.run`` does, or they are
    collected unclosed later (``coroutine method 'aclose' ... was never awaited``)."""
    model = create_model("openai", base_url="http://127.0.0.1:9/v1", model_name="m")
    loop = model._ensure_loop()
    closed: list[str] = []

    async def inner() -> AsyncIterator[bytes]:
        try:
            yield b"0" * 1000
            yield b"0" * 1000
        finally:
            closed.append("inner")

    async def outer() -> AsyncIterator[bytes]:  # like httpx's stream over httpcore's
        try:
            async for chunk in inner():
                yield chunk
        finally:
            closed.append("outer")

    async def read_one_chunk() -> AsyncIterator[bytes]:  # returns the stream it started
        stream = outer()
        await stream.__anext__()
        return stream  # suspended mid-body, as the cap leaves it

    stream = asyncio.run_coroutine_threadsafe(read_one_chunk(), loop).result(timeout=10)
    model.close()
    assert sorted(closed) == ["inner", "outer"]
    del stream


def test_bodies_within_the_cap_are_read_compressed_or_not() -> None:
    plain = completion("yes")
    replies = iter([Reply(200, plain), Reply(200, gzip.compress(plain), {"Content-Encoding": "gzip"})])
    with ScriptedServer(lambda _: next(replies)) as server:
        model = create_model("openai", base_url=server.base_url, model_name="m", max_concurrency=1)
        try:
            assert model.generate(QS[:1]) == ["yes"] and model.generate(QS[1:2]) == ["yes"]
        finally:
            model.close()
    assert model.max_response_bytes == 4 * MIB  # the default


def test_the_cap_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = tmp_path / "rows.jsonl"
    with ScriptedServer(lambda _: Reply(200, completion("yes " + "y" * 5000))) as server:
        base = ["evaluate", "--model", "openai", "--base-url", server.base_url, "--model-name", "m",
                "--task", "association", "-n", "4", "--max-error-rate", "1", "--json"]  # fmt: skip
        assert main([*base, "--max-response-bytes", "1000", "--output", str(rows)]) == 0
        assert json.loads(capsys.readouterr().out)["errors"] == 4
        assert "max_response_bytes=1000" in json.loads(rows.read_text().splitlines()[0])["error"]
        assert main([*base, "--max-response-bytes", "100000"]) == 0
        assert json.loads(capsys.readouterr().out)["errors"] == 0
        assert main([*base, "--model-arg", "max_response_bytes=1000"]) == 0
        assert json.loads(capsys.readouterr().out)["errors"] == 4
    assert main([*base, "--max-response-bytes", "0"]) == 2
    assert "--max-response-bytes must be a positive number of bytes" in capsys.readouterr().err
    oracle = ["evaluate", "--model", "oracle", "--task", "association", "--max-response-bytes", "10"]
    assert main(oracle) == 2 and "apply to --model openai only" in capsys.readouterr().err
    for bad in ("-1", "abc", "1.5", "true", "[1]"):
        with pytest.raises(EngineError, match="max_response_bytes must be"):
            create_model(
                "openai",
                base_url="http://127.0.0.1:9/v1",
                model_name="m",
                max_response_bytes=json.loads(bad) if bad not in ("abc",) else bad,
            )


def test_a_body_dripped_byte_by_byte_times_out_as_a_whole() -> None:
    def drip() -> Iterator[bytes]:
        yield b'{"choices":[{"message":{"content":"'
        for _ in range(400):  # 20 s at most: the server stops by itself
            time.sleep(0.05)
            yield b"y"

    with ScriptedServer(lambda _: Reply(200, drip())) as server:
        model = create_model("openai", base_url=server.base_url, model_name="m", timeout=0.5, max_retries=0)
        try:
            result = Evaluator(model, batch_size=1, max_error_rate=1.0).run(QS[:1])
        finally:
            model.close()
    assert result.errors == 1 and server.sent < 200  # gave up long before the drip ended


def test_a_key_with_stray_whitespace_is_cleaned_and_an_unsendable_one_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with ScriptedServer(lambda _: Reply(200, completion("yes"))) as server:
        monkeypatch.setenv("H15_KEY", f"  {KEY}\r\n")  # a .env file written on Windows
        model = create_model("openai", base_url=server.base_url, model_name="m", api_key_env="H15_KEY")
        try:
            assert model.generate(QS[:1]) == ["yes"]
        finally:
            model.close()
        assert server.requests[0].authorization == f"Bearer {KEY}"
        monkeypatch.setenv("H15_KEY", KEY + "\u00e9")
        model = create_model("openai", base_url=server.base_url, model_name="m", api_key_env="H15_KEY")
        try:
            result = Evaluator(model, max_error_rate=1.0).run(QS[:2])
        finally:
            model.close()
    assert result.errors == 2 and len(server.requests) == 1  # refused before sending anything
    with pytest.raises(EngineError, match=r"\$H15_KEY holds characters an HTTP header cannot carry") as info:
        model.generate(QS[:1])
    assert KEY not in str(info.value)


def test_a_huge_error_body_still_tells_the_status(monkeypatch: pytest.MonkeyPatch) -> None:
    def reply(request: Request) -> Reply:
        return Reply(401, _huge_completion(64 * MIB))

    with ScriptedServer(reply) as server:
        model = create_model("openai", base_url=server.base_url, model_name="m")
        try:
            peak, exc = _peak_while(lambda: model.generate(QS[:1]))
        finally:
            model.close()
    assert isinstance(exc, PartialFailure)
    assert str(exc.errors[0]).startswith("HTTP 401 (check $OPENAI_API_KEY); not retried")
    assert peak < 4 * MIB


def test_credentials_in_the_base_url_stay_out_of_names() -> None:
    model = create_model("openai", base_url="http://alice:hunter2pass@127.0.0.1:9/v1", model_name="m")
    assert "hunter2pass" not in model.fingerprint and "hunter2pass" not in repr(model)
    assert "http://***@127.0.0.1:9/v1" in model.fingerprint
