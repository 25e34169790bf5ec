"""The markers, parsed once at collection: ``causal_eval`` and, without pytest-benchmark, its
``@pytest.mark.benchmark`` mapped to ours. A bad key or value stops the run before any test,
naming the test and the key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_causal_eval.markers import MarkerError, merged_kwargs, parse_item_markers
from pytest_causal_eval.measure.timer import SecondsClockTimer
from pytest_causal_eval.porting.mapping import MARKER_KEYS as BENCHMARK_KEYS

pytest_plugins = ["pytester"]

# pytest-benchmark is installed beside us: block it so its marker is ours to read.
ON = (
    "--causal-eval",
    "--causal-eval-warmup=off",
    "--causal-eval-max-time=10ms",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:benchmark",
)


class _Mark:
    def __init__(self, kwargs: dict[str, Any], args: tuple[Any, ...] = ()) -> None:
        self.kwargs = kwargs
        self.args = args


def _node(**marks: list[dict[str, Any]]) -> Any:
    """A stand-in item: markers closest first, as ``iter_markers`` yields them."""
    return SimpleNamespace(iter_markers=lambda name: [_Mark(kw) for kw in marks.get(name, [])])


def test_closest_marker_wins() -> None:
    node = _node(causal_eval=[{"group": "function", "min_rounds": 7}, {"group": "module", "max_rounds": 9}])
    assert merged_kwargs(node) == {"group": "function", "min_rounds": 7, "max_rounds": 9}


def test_values_are_parsed_into_a_typed_config() -> None:
    node = _node(
        causal_eval=[{"min_time": "2ms", "max_time": 0.5, "warmup": "off", "gc": "frozen", "group": "g"}]
    )
    parsed = parse_item_markers(node)
    assert parsed.runner == {"min_time": 0.002, "max_time": 0.5, "warmup": 0.0, "gc": "frozen"}
    assert parsed.group == "g"


def test_benchmark_marker_keys_are_mapped_to_ours_and_ours_win() -> None:
    node = _node(
        benchmark=[
            {"group": "b", "min_rounds": 20, "disable_gc": True, "warmup": True, "warmup_iterations": 5}
        ],
        causal_eval=[{"group": "ours"}],
    )
    parsed = parse_item_markers(node, read_benchmark=True, benchmark_keys=BENCHMARK_KEYS)
    assert parsed.runner == {"min_rounds": 20, "gc": "disabled", "warmup": None}
    assert parsed.group == "ours"
    assert set(parsed.ignored) == {"warmup_iterations"}
    assert "warm-up is a duration here" in parsed.ignored["warmup_iterations"]
    assert (
        parse_item_markers(node, read_benchmark=False, benchmark_keys=BENCHMARK_KEYS).runner == {}
    )  # pytest-benchmark's own marker


def test_a_timer_marker_is_a_clock_in_seconds() -> None:
    parsed = parse_item_markers(
        _node(benchmark=[{"timer": time.process_time}]), read_benchmark=True, benchmark_keys=BENCHMARK_KEYS
    )
    assert isinstance(parsed.timer, SecondsClockTimer)
    ticks = iter([1.0, 1.5])
    timer = SecondsClockTimer(lambda: next(ticks))
    assert timer.wall_ns() == 1_000_000_000 and timer.wall_ns() == 1_500_000_000


@pytest.mark.parametrize(
    ("marks", "message"),
    [
        (
            {"causal_eval": [{"disable_gc": True}]},
            "disable_gc is pytest-benchmark's key; here it is gc='disabled'",
        ),
        (
            {"causal_eval": [{"warmup_iterations": 10}]},
            "warmup_iterations is pytest-benchmark's key and has no",
        ),
        ({"causal_eval": [{"min_rounds": 0}]}, "causal_eval(min_rounds=...): expected a positive integer"),
        ({"causal_eval": [{"warmup": True}]}, "causal_eval(warmup=...): expected auto, off or a duration"),
        (
            {"causal_eval": [{"timer": "fast"}]},
            "causal_eval(timer=...): expected a function returning seconds",
        ),
        ({"benchmark": [{"max_time": "soon"}]}, "@pytest.mark.benchmark(max_time=...): expected a duration"),
        ({"benchmark": [{"colour": 1}]}, "@pytest.mark.benchmark got unknown argument colour"),
    ],
)
def test_bad_keys_and_values_name_the_key(marks: dict[str, list[dict[str, Any]]], message: str) -> None:
    with pytest.raises(MarkerError) as info:
        parse_item_markers(_node(**marks), read_benchmark=True, benchmark_keys=BENCHMARK_KEYS)
    assert message in str(info.value)


BENCHMARK_MARKED = """
import pytest

@pytest.mark.benchmark(group="render", min_rounds=7, max_time=0.001, disable_gc=True,
                       warmup=False, calibration_precision=10)
def test_render(causal_bench, fake_timer):
    causal_bench(fake_timer.tick, 1_000_000)
    assert causal_bench.group == "render"

@pytest.mark.benchmark(calibration_precision=5)
def test_other(causal_bench, fake_timer):
    causal_bench(fake_timer.tick, 1000)
"""


@pytest.mark.usefixtures("fake_timer_conftest")
def test_the_benchmark_marker_is_honoured_without_pytest_benchmark(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_b=BENCHMARK_MARKED)
    out = pytester.path / "r.json"
    result = pytester.runpytest(*ON, "-W", "error", "--causal-eval-json", str(out))
    result.assert_outcomes(passed=2)
    measurement = {m["id"]: m for m in json.loads(out.read_text())["measurements"]}["test_b.py::test_render"]
    assert measurement["group"] == "render"
    assert measurement["rounds"] == 7  # min_rounds over a 1 ms budget, with 1 ms calls
    assert measurement["gc"] == "disabled"
    assert measurement["warmup_rounds"] == 0
    text = result.stdout.str()
    # the ignored key is named once for the run, with how many tests gave it and why
    assert text.count("@pytest.mark.benchmark(calibration_precision=...) is not used (2 tests):") == 1


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["plain", "xdist"])
def test_the_ignored_keys_and_hooks_are_said_once_in_the_summary(
    tmp_path: Path, workers: tuple[str, ...]
) -> None:
    """Under xdist the workers collect, not the controller: what they found is said once, by the
    controller, with the suite's counts (each worker collects the whole suite)."""
    from fakeclock import FAKE_CLOCK_SOURCE

    (tmp_path / "conftest.py").write_text(
        FAKE_CLOCK_SOURCE + "\n\ndef pytest_benchmark_update_machine_info(config, machine_info):\n    pass\n"
    )
    (tmp_path / "test_b.py").write_text(BENCHMARK_MARKED)
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [sys.executable, "-m", "pytest", "-p", "pytest_causal_eval.plugin", "-p", "xdist.plugin"]
    proc = subprocess.run(
        [*command, *ON[:-2], "--causal-eval-history=off", "-W", "error", *workers],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "2 passed" in out
    summary = out.split("causal-eval: left from pytest-benchmark", 1)[1]
    for said in (
        "causal-eval: @pytest.mark.benchmark(calibration_precision=...) is not used (2 tests):",
        "causal-eval: pytest_benchmark_update_machine_info (conftest.py) is pytest-benchmark's hook",
    ):
        assert out.count(said) == 1, out
        assert said in summary


def test_the_benchmark_marker_is_declared_when_the_plugin_is_off(tmp_path: Path) -> None:
    """pytest-benchmark not loaded at all (no plugin auto-loaded but ours): its marker still passes
    --strict-markers."""
    (tmp_path / "test_b.py").write_text(
        "import pytest\n\n@pytest.mark.benchmark(group='g')\ndef test_b():\n    pass\n"
    )
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [sys.executable, "-m", "pytest", "-p", "pytest_causal_eval.plugin", "-p", "no:cacheprovider"]
    proc = subprocess.run(
        [*command, "--strict-markers", "-W", "error"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_a_bad_marker_is_a_collection_error_naming_the_test_and_the_key(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.causal_eval(disable_gc=True)
        def test_ported_halfway(causal_bench):
            causal_bench(sum, [1])

        @pytest.mark.causal_eval(max_time="soon")
        def test_typo(causal_bench):
            causal_bench(sum, [1])

        def test_fine(causal_bench):
            causal_bench(sum, [1])
        """
    )
    for flags in (ON, ("-p", "no:cacheprovider")):
        result = pytester.runpytest(*flags)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            [
                "ERROR: bad marker arguments:",
                "*test_bad.py::test_ported_halfway: @pytest.mark.causal_eval(disable_gc=...): disable_gc is "
                "pytest-benchmark's key; here it is gc='disabled' (or gc='enabled')",
                "*test_bad.py::test_typo: @pytest.mark.causal_eval(max_time=...): expected a duration*",
            ]
        )
        assert "Traceback" not in result.stdout.str() + result.stderr.str()
