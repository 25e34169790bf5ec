"""Async tests as pytest-asyncio's users write them (strict and auto mode, async fixtures) and as
anyio's plugin runs them: ``await causal_bench.aio(...)`` measures inside the test's running loop,
with the plugin off and on; the xdist timing lock is waited for without blocking that loop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from fakeclock import FAKE_CLOCK_SOURCE

from pytest_causal_eval.environment.xdist import TimingLockProbe

pytest_plugins = ["pytester"]

pytest.importorskip("pytest_asyncio")

ON = ("--causal-eval", "--causal-eval-warmup=off", "--causal-eval-max-time=10ms", "--causal-eval-history=off")

INI = """
[tool.pytest.ini_options]
asyncio_mode = "{mode}"
asyncio_default_fixture_loop_scope = "function"
"""

STRICT = """
import asyncio

import pytest
import pytest_asyncio


@pytest_asyncio.fixture
async def service():
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0)
    yield {"loop": loop, "calls": []}


async def handle(service, fake_timer, n):
    assert asyncio.get_running_loop() is service["loop"]  # inside the test's loop
    service["calls"].append(n)
    fake_timer.tick(2000)
    await asyncio.sleep(0)
    return n * 2


@pytest.mark.asyncio
async def test_handle(causal_bench, service, fake_timer):
    assert await causal_bench.aio(handle, service, fake_timer, 21) == 42
    assert service["calls"]
    if causal_bench.enabled:
        assert causal_bench.stats["median"] == pytest.approx(2e-6)
"""

AUTO = """
import asyncio

import pytest


@pytest.fixture
async def service():
    yield {"loop": asyncio.get_running_loop()}


async def handle(service, fake_timer):
    assert asyncio.get_running_loop() is service["loop"]
    fake_timer.tick(1000)
    return "ok"


async def test_handle(causal_bench, service, fake_timer):
    assert await causal_bench.aio(handle, service, fake_timer) == "ok"
"""


@pytest.mark.parametrize("flags", [(), ON], ids=["off", "on"])
@pytest.mark.parametrize(("mode", "source"), [("strict", STRICT), ("auto", AUTO)], ids=["strict", "auto"])
def test_pytest_asyncio_tests_measure_inside_their_loop(
    pytester: pytest.Pytester, mode: str, source: str, flags: tuple[str, ...]
) -> None:
    pytester.makepyprojecttoml(INI.format(mode=mode))
    pytester.makeconftest(FAKE_CLOCK_SOURCE)
    pytester.makepyfile(test_async=source)
    out = pytester.path / "r.json"
    json_flags = ("--causal-eval-json", str(out)) if flags else ()
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "asyncio", "-W", "error", *flags, *json_flags
    )
    result.assert_outcomes(passed=1)
    if flags:
        (measurement,) = json.loads(out.read_text())["measurements"]
        assert measurement["mode"] == "async"
        assert measurement["rounds"] >= 5


def test_anyio_tests_measure_inside_their_loop(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(INI.format(mode="strict"))
    pytester.makeconftest(FAKE_CLOCK_SOURCE)
    pytester.makepyfile(
        test_anyio="""
        import asyncio

        import pytest


        @pytest.fixture
        def anyio_backend():
            return "asyncio"


        @pytest.mark.anyio
        async def test_handle(causal_bench, fake_timer):
            loop = asyncio.get_running_loop()

            async def handle():
                assert asyncio.get_running_loop() is loop
                fake_timer.tick(1000)

            await causal_bench.aio(handle)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "asyncio", "-W", "error", *ON)
    result.assert_outcomes(passed=1)


async def _wait_while_held(lock_file: Path) -> tuple[int, bool]:
    from filelock import FileLock

    holder = FileLock(str(lock_file))
    holder.acquire()
    probe = TimingLockProbe(FileLock(str(lock_file)))
    ticks = 0

    async def other_work() -> None:
        nonlocal ticks
        for _ in range(5):  # runs only if the waiting probe leaves the loop free
            ticks += 1
            await asyncio.sleep(0)
        holder.release()

    worker = asyncio.create_task(other_work())
    await asyncio.wait_for(probe.start_async(), timeout=30)
    await worker
    acquired = probe._lock.is_locked
    probe._lock.release()
    return ticks, acquired


def test_the_timing_lock_is_waited_for_without_blocking_the_event_loop(tmp_path: Path) -> None:
    ticks, acquired = asyncio.run(_wait_while_held(tmp_path / "timing.lock"))
    assert ticks == 5 and acquired


def test_aio_starts_probes_without_blocking_the_loop(pytester: pytest.Pytester) -> None:
    """A probe that can wait asynchronously (the xdist timing lock) is awaited by ``aio``; its
    blocking ``start`` is not called inside the running loop."""
    pytester.makepyprojecttoml(INI.format(mode="auto"))
    pytester.makeconftest(
        FAKE_CLOCK_SOURCE
        + """

class AsyncProbe:
    started = []

    def start(self):
        raise AssertionError("blocking start() called inside the running event loop")

    async def start_async(self):
        AsyncProbe.started.append("async")

    def stop(self, measurement):
        measurement.extra["probe"] = AsyncProbe.started[-1]


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    session = config.pluginmanager.get_plugin("causal_eval_session")
    session.add_probe(lambda item, measurement: AsyncProbe())
"""
    )
    pytester.makepyfile(
        test_probe="""
        async def test_handle(causal_bench, fake_timer):
            async def handle():
                fake_timer.tick(1000)
            await causal_bench.aio(handle)
        """
    )
    out = pytester.path / "r.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "asyncio", *ON, "--causal-eval-json", str(out)
    )
    result.assert_outcomes(passed=1)
    assert json.loads(out.read_text())["measurements"][0]["extra"]["probe"] == "async"
