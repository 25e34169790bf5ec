"""``causal_bench.aio`` measurements get the same untimed profiling passes as synchronous ones,
awaited inside the test's running event loop (real pytest-asyncio): hotspots in the results and
the HTML report, the hotspot diff in a regression's message, memory and leak passes; and a
regression found after the test is profiled in that same loop."""

from __future__ import annotations

import asyncio
import contextvars
import json

import pytest

from pytest_causal_eval.measure.passes import LoopWorkload, Steps, drive, drive_async

from .fake_timer_project import CONFTEST

pytest_plugins = ["pytester"]

pytest.importorskip("pytest_asyncio")

PYPROJECT = """
[tool.pytest.ini_options]
asyncio_mode = "strict"
asyncio_default_fixture_loop_scope = "function"
"""

TESTS = """
import asyncio
import os

import pytest
import pytest_asyncio
from conftest import FakeTimer

CALLS = []


def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def added_work(n):
    total = 0
    for i in range(n):
        total -= i * i
    return total


async def work(service):
    assert asyncio.get_running_loop() is service["loop"]  # every run, profiled ones too, in the test's loop
    CALLS.append(1)
    cost = int(os.environ["COST_US"])
    FakeTimer.now += cost * 1000 + (len(CALLS) % 7) * 10_000
    await asyncio.sleep(0)
    payload = [bytearray(1000) for _ in range(200)]  # an allocation site of this file
    if cost > 1000:  # the slower revision really does more, so the profiles differ
        added_work(4000)
    return spin(2000)


@pytest_asyncio.fixture
async def service():
    yield {"loop": asyncio.get_running_loop()}


@pytest.mark.asyncio
async def test_gate(causal_bench, service):
    await causal_bench.aio(work, service)
"""

ARGS = (
    "-p",
    "no:cacheprovider",
    "-p",
    "asyncio",
    "-W",
    "error",
    "--causal-eval",
    "--causal-eval-warmup=off",
    "--causal-eval-max-rounds=30",
    "--causal-eval-min-rounds=30",
    # the clock is fake, the workload real: the machine's real load must not make it inconclusive
    "--causal-eval-max-foreign-load=off",
    "--causal-eval-history=off",
)
HEADER = "hotspot changes against the baseline (biggest contribution to the change in time per call first):"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyprojecttoml(PYPROJECT)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_gate=TESTS)
    return pytester


def test_aio_gets_the_profile_pass_in_its_loop_and_a_regression_shows_the_hotspot_diff(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = (*ARGS, "--causal-eval-profile=all", "--causal-eval-tracemalloc", "--causal-eval-json=out.json")
    monkeypatch.setenv("COST_US", "1000")
    saved = project.runpytest_subprocess(*args, "--causal-eval-save")
    saved.assert_outcomes(passed=1)
    (m,) = json.loads((project.path / "out.json").read_text())["measurements"]
    assert m["mode"] == "async"
    assert any(h["function"] == "spin" for h in m["extra"]["hotspots"])
    assert m["extra"]["profile"]["cpu"]["runs"] >= 1
    assert {"cpu_html", "speedscope", "memory_flamegraph"} <= set(m["extra"]["profile_artifacts"])
    assert {"mem_peak", "leak_per_iter", "python_peak"} <= set(m["metrics"])
    sites = m["extra"]["memory"]["sites"]  # the Python stacks of the runs in the loop are seen
    assert any(s["file"] == "test_gate.py" and s["function"] in ("work", "<listcomp>") for s in sites), sites
    assert "health" in m["extra"]  # the environment's after-measure reading, as for sync measurements
    assert not m["extra"].get("profile_notes")

    monkeypatch.setenv("COST_US", "3000")
    result = project.runpytest_subprocess(*args, "--causal-eval-markdown=verdicts.md")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "regressed" in text and HEADER in text
    assert " added_work  +" in text
    assert "cpu_html: .causal-eval/report/profiles/test_gate.py_test_gate-" in text
    html = (project.path / ".causal-eval" / "report" / "index.html").read_text()
    assert HEADER in html and "added_work" in html.split('<pre class="why">')[1]
    assert 'href="profiles/test_gate.py_test_gate-' in html
    assert 'href="profiles/baseline/' in html and ">CPU profile (pyinstrument)</a>, baseline<" in html


def test_an_aio_regression_is_profiled_after_the_test_in_its_loop(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --causal-eval-profile: the regression, found after the test function returned, is
    profiled on the test's (still open, idle) event loop, as a synchronous one is re-run."""
    monkeypatch.setenv("COST_US", "1000")
    project.runpytest_subprocess(*ARGS, "--causal-eval-save").assert_outcomes(passed=1)
    monkeypatch.setenv("COST_US", "3000")
    result = project.runpytest_subprocess(*ARGS, "--causal-eval-json=out.json")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "no re-runnable workload" not in text
    assert " added_work " in text
    assert "cpu_html: .causal-eval/report/profiles/test_gate.py_test_gate-" in text
    (m,) = json.loads((project.path / "out.json").read_text())["measurements"]
    assert any(h["function"] == "added_work" for h in m["extra"]["hotspots"])


# -- the pass driver (pure) ------------------------------------------------------------------------


def _two_passes(log: list[str]) -> Steps[list[str]]:
    """A pass made of two: the first fails with the workload and is noted, the second still runs."""
    try:
        yield None
        log.append("first done")
    except ValueError as exc:
        log.append(f"first failed: {exc}")
    yield None
    log.append("second done")
    return log


def test_a_failing_run_is_thrown_into_the_pass_which_goes_on_sync_and_in_the_loop() -> None:
    calls: list[int] = []

    def workload() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("boom")

    assert drive(_two_passes([]), workload) == ["first failed: boom", "second done"]
    calls.clear()

    async def coro_workload() -> None:
        workload()
        await asyncio.sleep(0)

    assert asyncio.run(drive_async(_two_passes([]), coro_workload)) == ["first failed: boom", "second done"]


def test_a_kept_aio_workload_runs_in_its_idle_loop_else_in_a_new_one() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    loop = asyncio.new_event_loop()
    seen: list[tuple[asyncio.AbstractEventLoop, str]] = []

    async def workload() -> int:
        seen.append((asyncio.get_running_loop(), var.get()))
        return 7

    async def in_test() -> LoopWorkload:
        var.set("the test's")
        return LoopWorkload(workload, asyncio.get_running_loop(), contextvars.copy_context())

    kept = loop.run_until_complete(in_test())
    assert kept.unavailable() is None
    assert kept() == 7
    assert seen == [(loop, "the test's")]
    loop.close()  # anyio closes its loop after a test that no async fixture holds it for
    assert kept.unavailable() is None
    assert kept() == 7
    assert seen[1][0] is not loop and seen[1][1] == "the test's"

    async def running() -> str | None:
        return LoopWorkload(workload, asyncio.get_running_loop()).unavailable()

    assert asyncio.run(running()) == "cannot run the async workload again: the test's event loop is running"


def test_async_from_a_sync_test_is_profiled_in_one_private_loop(pytester: pytest.Pytester) -> None:
    """``causal_bench.async_`` times its rounds in one private loop; its profile pass does the same,
    so the profile shows the workload, not a loop made and closed around every run."""
    pytester.makeconftest(
        """
        import pytest

        PHASE = {"now": "measure"}

        @pytest.hookimpl(tryfirst=True)
        def pytest_causal_eval_after_measure(item, measurement, workload):
            PHASE["now"] = "profile"
        """
    )
    pytester.makepyfile(
        test_private="""
        import asyncio
        import json

        from conftest import PHASE

        SEEN = {"measure": [0, 0], "profile": [0, 0]}  # [runs, loops never seen before]


        async def work():
            loop = asyncio.get_running_loop()
            seen = SEEN[PHASE["now"]]
            seen[0] += 1
            if not getattr(loop, "_causal_eval_test_seen", False):
                loop._causal_eval_test_seen = True
                seen[1] += 1
            await asyncio.sleep(0)


        def test_private(causal_bench):
            causal_bench.async_(work)
            with open("seen.json", "w") as fh:
                json.dump(SEEN, fh)
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", *ARGS[4:], "--causal-eval-profile=cpu", "--causal-eval-json=out.json"
    )
    result.assert_outcomes(passed=1)
    seen = json.loads((pytester.path / "seen.json").read_text())
    assert seen["measure"][1] == 1 and seen["profile"][0] > 1
    assert seen["profile"][1] == 1, seen
    (m,) = json.loads((pytester.path / "out.json").read_text())["measurements"]
    assert m["mode"] == "async" and m["extra"]["hotspots"]


ANYIO_TESTS = """
import asyncio
import os

import pytest
from conftest import FakeTimer


@pytest.fixture
def anyio_backend():
    return "asyncio"


def added_work(n):
    total = 0
    for i in range(n):
        total -= i * i
    return total


async def work():
    FakeTimer.now += int(os.environ["COST_US"]) * 1000
    await asyncio.sleep(0)
    if int(os.environ["COST_US"]) > 1000:
        added_work(4000)


@pytest.mark.anyio
async def test_gate(causal_bench):
    await causal_bench.aio(work)
"""


def test_an_anyio_regression_is_profiled_though_its_loop_is_closed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """anyio closes the test's loop when no async fixture holds it: the regression found after the
    test is profiled in a new loop (in the test's context) instead of not at all."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_gate=ANYIO_TESTS)
    args = ("-p", "no:cacheprovider", *ARGS[4:])
    monkeypatch.setenv("COST_US", "1000")
    pytester.runpytest_subprocess(*args, "--causal-eval-save").assert_outcomes(passed=1)
    monkeypatch.setenv("COST_US", "3000")
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "no CPU profile" not in text
    assert " added_work " in text
