"""causal_bench end to end, with a fake clock so every number is exact."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from pytest_causal_eval.results import RunResults, results_schema_path

pytest_plugins = ["pytester"]

ARGS = ("--causal-eval", "--causal-eval-warmup=off", "--causal-eval-max-time=10ms", "-p", "no:cacheprovider")


def run_json(pytester: pytest.Pytester, *extra: str, passed: int | None = None) -> dict:  # type: ignore[type-arg]
    out = pytester.path / "results.json"
    result = pytester.runpytest(*ARGS, "--causal-eval-json", str(out), *extra)
    if passed is not None:
        result.assert_outcomes(passed=passed)
    data = json.loads(out.read_text())
    jsonschema.validate(data, json.loads(results_schema_path().read_text()))
    return data  # type: ignore[no-any-return]


def by_id(data: dict) -> dict:  # type: ignore[type-arg]
    return {m["id"]: m for m in data["measurements"]}


@pytest.mark.usefixtures("fake_timer_conftest")
def test_basic_measurement_exact_numbers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_one="""
        def test_work(causal_bench, fake_timer):
            def work(n):
                fake_timer.tick(1000 * n)
                return n + 1
            assert causal_bench(work, 2) == 3
        """
    )
    data = run_json(pytester, passed=1)
    m = by_id(data)["test_one.py::test_work"]
    assert m["mode"] == "auto"
    assert m["iterations"] == 3  # 2 us per call, 5 us rounds (the default min time): ceil(5e3 / 2e3 * 1.05)
    assert m["rounds"] == 1667  # 10 ms budget / 6 us rounds
    assert m["stats"]["median"] == pytest.approx(2e-6)
    assert m["cpu_stats"]["median"] == pytest.approx(1e-6)
    assert m["stats"]["iqr"] == 0
    assert m["extra"]["passed"] is True
    assert m["metrics"]["rss_growth"]["unit"] == "B"
    assert m["extra"]["peak_rss"] > 0
    assert data["environment"]["python"]["version"]
    assert data["schema_version"] == 1


@pytest.mark.usefixtures("fake_timer_conftest")
def test_pedantic_with_setup(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_ped="""
        seen = []

        def test_ped(causal_bench, fake_timer):
            def setup():
                fake_timer.tick(10**6)  # untimed
                return (len(seen),), {"scale": 3}
            def work(i, scale):
                seen.append(i)
                fake_timer.tick(1000 * scale)
                return i
            assert causal_bench.pedantic(work, setup=setup, rounds=6, warmup_rounds=2) == 7
            assert seen == list(range(8))
        """
    )
    m = by_id(run_json(pytester, passed=1))["test_ped.py::test_ped"]
    assert m["mode"] == "pedantic"
    assert m["samples"] == [3e-6] * 6
    assert m["warmup_rounds"] == 2
    assert m["iterations"] == 1


@pytest.mark.usefixtures("fake_timer_conftest")
def test_pedantic_refuses_iterations_with_setup(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_ped(causal_bench):
            causal_bench.pedantic(lambda: None, setup=lambda: None, iterations=3)
        """
    )
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*iterations must be 1 when a setup function is given*"])


@pytest.mark.usefixtures("fake_timer_conftest")
def test_async_several_measurements_and_custom_metrics(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_multi="""
        import asyncio

        def test_multi(causal_bench, fake_timer):
            async def answer():
                fake_timer.tick(4000)
                await asyncio.sleep(0)
                return "yes"

            assert causal_bench.async_(answer) == "yes"
            causal_bench.record("accuracy", 0.875, unit="", better="higher")
            tok = causal_bench.named("tokenize", items=100)
            tok(fake_timer.tick, 1000)
            score = causal_bench.named("score")
            score.record("questions_per_s", 5000.0, unit="q/s", better="higher")
        """
    )
    data = run_json(pytester, passed=1)
    ms = by_id(data)
    assert sorted(ms) == [
        "test_multi.py::test_multi",
        "test_multi.py::test_multi::score",
        "test_multi.py::test_multi::tokenize",
    ]
    main = ms["test_multi.py::test_multi"]
    assert main["mode"] == "async"
    assert main["stats"]["median"] == pytest.approx(4e-6)
    assert main["metrics"]["accuracy"] == {"name": "accuracy", "value": 0.875, "unit": "", "better": "higher"}
    tok = ms["test_multi.py::test_multi::tokenize"]
    assert tok["items"] == 100
    assert tok["metrics"]["throughput"]["value"] == pytest.approx(100 / 1e-6)
    assert tok["metrics"]["throughput"]["better"] == "higher"
    score = ms["test_multi.py::test_multi::score"]
    assert score["stats"] is None and score["rounds"] == 0 and score["mode"] == "metrics"
    assert score["metrics"]["questions_per_s"]["value"] == 5000.0


@pytest.mark.usefixtures("fake_timer_conftest")
def test_aio_inside_a_running_loop(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_aio="""
        import asyncio

        def test_aio(causal_bench, fake_timer):
            async def work():
                fake_timer.tick(2000)
                return 5

            async def main():
                with __import__("pytest").raises(BaseException, match="use `await causal_bench.aio"):
                    causal_bench.async_(work)
                return await causal_bench.aio(work)

            assert asyncio.run(main()) == 5
        """
    )
    m = by_id(run_json(pytester, passed=1))["test_aio.py::test_aio"]
    assert m["stats"]["median"] == pytest.approx(2e-6)


@pytest.mark.usefixtures("fake_timer_conftest")
def test_parametrized_ids_and_params(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_params="""
        import pytest

        @pytest.mark.parametrize("batch", [1, 32])
        @pytest.mark.parametrize("model", ["oracle"])
        def test_eval(causal_bench, fake_timer, batch, model):
            causal_bench(fake_timer.tick, 1000 * batch)
        """
    )
    ms = by_id(run_json(pytester, passed=2))
    m = ms["test_params.py::test_eval[oracle-32]"]
    assert m["params"] == {"batch": "32", "model": "oracle"}
    assert m["stats"]["median"] == pytest.approx(32e-6)


@pytest.mark.usefixtures("fake_timer_conftest")
def test_bad_input_non_callable_exception_and_reuse(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
        def test_not_callable(causal_bench):
            causal_bench(42)

        class Boom(Exception):
            pass

        def test_raises(causal_bench, fake_timer):
            def work():
                fake_timer.tick(1000)
                raise Boom("from the workload")
            causal_bench(work)

        def test_twice(causal_bench, fake_timer):
            causal_bench(fake_timer.tick, 1000)
            causal_bench(fake_timer.tick, 1000)

        def test_bad_metric(causal_bench):
            causal_bench.record("acc", float("nan"))

        def test_bad_direction(causal_bench):
            causal_bench.record("acc", 1.0, better="up")
        """
    )
    out = pytester.path / "r.json"
    result = pytester.runpytest(*ARGS, "--causal-eval-json", str(out))
    result.assert_outcomes(failed=5)
    text = result.stdout.str()
    assert "causal_bench: expected a callable to measure, got int 42" in text
    result.stdout.fnmatch_lines(['*raise Boom("from the workload")*', "E*Boom: from the workload"])
    assert "already taken; use causal_bench.named('...')" in text
    assert "value must be a finite number, got nan" in text
    assert "better must be 'lower' or 'higher', got 'up'" in text
    assert "INTERNALERROR" not in text
    ms = by_id(json.loads(out.read_text()))
    assert "test_bad.py::test_raises" not in ms  # nothing recorded from a raising workload
    assert ms["test_bad.py::test_twice"]["extra"]["passed"] is False


ITEMS_TESTS = """
import numpy
import pytest

BAD = [-5, 0, float("nan"), float("inf"), 2.5, 500.0, True, "10", 10**400]


@pytest.mark.parametrize("value", BAD, ids=lambda v: repr(v)[:12])
def test_attribute(causal_bench, fake_timer, value):
    causal_bench.items = value
    causal_bench(fake_timer.tick, 1000)


@pytest.mark.parametrize("value", BAD, ids=lambda v: repr(v)[:12])
def test_named(causal_bench, fake_timer, value):
    causal_bench.named("tok", items=value)(fake_timer.tick, 1000)


@pytest.mark.parametrize("value", BAD, ids=lambda v: repr(v)[:12])
def test_pedantic(causal_bench, fake_timer, value):
    causal_bench.pedantic(fake_timer.tick, args=(1000,), rounds=3, items=value)


@pytest.mark.parametrize("value", [None, 1, 250, numpy.int64(4)], ids=["None", "1", "250", "int64"])
def test_good(causal_bench, fake_timer, value):
    causal_bench.items = value
    causal_bench(fake_timer.tick, 1000)
"""


@pytest.mark.usefixtures("fake_timer_conftest")
@pytest.mark.parametrize("enabled", [True, False], ids=["plugin-on", "plugin-off"])
def test_items_must_be_a_whole_number_of_at_least_one(pytester: pytest.Pytester, enabled: bool) -> None:
    """A negative, zero, fractional, non-finite or boolean item count would make a nonsense throughput;
    the inert fixture refuses the same values, so a suite does not pass off and fail on."""
    pytester.makepyfile(test_items=ITEMS_TESTS)
    out = pytester.path / "r.json"
    args = (*ARGS, "--causal-eval-json", str(out)) if enabled else ("-p", "no:cacheprovider")
    result = pytester.runpytest(*args)
    result.assert_outcomes(failed=27, passed=4)
    text = result.stdout.str()
    assert "Traceback" not in text and "INTERNALERROR" not in text
    for where in (
        "causal_bench.items",
        "causal_bench.named('tok', items=...)",
        "causal_bench.pedantic(items=...)",
    ):
        for shown in ("-5", "0", "nan", "inf", "2.5", "500.0", "True", "'10'", "1" + "0" * 36 + "..."):
            assert (
                f"{where}: expected a whole number from 1 to 2**53 (the items one call processes, for "
                f"throughput) or None, got {shown}"
            ) in text
    if enabled:
        ms = by_id(json.loads(out.read_text()))
        good = {mid.split("[")[1].rstrip("]"): m for mid, m in ms.items() if "test_good" in mid}
        assert "throughput" not in good["None"]["metrics"]
        assert good["250"]["metrics"]["throughput"]["value"] == pytest.approx(250 / 1e-6)
        assert good["int64"]["items"] == 4
        assert all(m["metrics"].get("throughput", {}).get("value", 1) > 0 for m in ms.values())


@pytest.mark.usefixtures("fake_timer_conftest")
def test_marker_overrides_and_unknown_keys(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_mark="""
        import pytest

        @pytest.mark.causal_eval(max_rounds=3, gc="disabled")
        def test_capped(causal_bench, fake_timer):
            causal_bench(fake_timer.tick, 1000)

        @pytest.mark.causal_eval(colour="red")
        def test_unknown(causal_bench, fake_timer):
            causal_bench(fake_timer.tick, 1000)
        """
    )
    out = pytester.path / "r.json"
    result = pytester.runpytest(*ARGS, "--causal-eval-json", str(out))
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # at collection, before any test runs
    result.stderr.fnmatch_lines(
        ["*test_mark.py::test_unknown: @pytest.mark.causal_eval got unknown argument colour; allowed:*"]
    )
    result = pytester.runpytest(*ARGS, "--causal-eval-json", str(out), "-k", "capped")
    m = by_id(json.loads(out.read_text()))["test_mark.py::test_capped"]
    assert m["rounds"] == 3 and m["gc"] == "disabled"


def test_results_round_trip(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(causal_bench):\n    causal_bench(sum, range(100))")
    data = run_json(pytester, passed=1)
    again = RunResults.from_dict(data).to_dict()
    assert again == data


def test_results_loader_errors() -> None:
    from pytest_causal_eval.results import ResultsFormatError

    with pytest.raises(ResultsFormatError, match="newer than this pytest-causal-eval"):
        RunResults.from_dict({"schema_version": 99, "measurements": []})
    with pytest.raises(ResultsFormatError, match="schema_version"):
        RunResults.from_dict({"measurements": []})
    with pytest.raises(ResultsFormatError, match="lacks required field 'id'"):
        RunResults.from_dict({"schema_version": 1, "measurements": [{}]})
    with pytest.raises(ResultsFormatError, match="'better' must be"):
        RunResults.from_dict(
            {
                "schema_version": 1,
                "measurements": [{"id": "a", "metrics": {"x": {"name": "x", "value": 1, "better": "up"}}}],
            }
        )


def test_schema_file_ships_with_the_package() -> None:
    assert results_schema_path().is_file()
    assert Path(results_schema_path()).name == "results-v1.json"


@pytest.mark.usefixtures("fake_timer_conftest")
def test_a_tracer_on_the_thread_is_off_while_measuring_and_back_after(pytester: pytest.Pytester) -> None:
    # pytest-benchmark takes the tracer off while it times; under `pytest --cov` we timed the
    # traced code, 10-20 times slower than pytest-benchmark read the same code.
    pytester.makepyfile(
        test_traced="""
        import sys

        def tracer(frame, event, arg):
            return None

        def test_traced(causal_bench, fake_timer):
            seen = set()

            def work(n):
                seen.add(sys.gettrace())
                fake_timer.tick(1000 * n)

            previous = sys.gettrace()
            sys.settrace(tracer)
            try:
                causal_bench(work, 2)
                after = sys.gettrace()
            finally:
                sys.settrace(previous)
            assert seen == {None}
            assert after is tracer
        """
    )
    run_json(pytester, passed=1)
