"""A suite's ``--benchmark-*`` options and pytest-benchmark hooks, with pytest-benchmark absent
(read as ours, the rest named once) and present (its own, untouched by ours); and round counts:
min rounds over the time budget, and the summary says when a budget ended a measurement early."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakeclock import FAKE_CLOCK_SOURCE

pytest_plugins = ["pytester"]

HOOKS = """

def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["python_build"] = "x"


@pytest.hookimpl(tryfirst=True)
def pytest_benchmark_update_json(config, benchmarks, output_json):
    output_json["version"] = "1"
"""

ADDOPTS = """
[tool.pytest.ini_options]
addopts = [
    "--benchmark-min-rounds=20",
    "--benchmark-sort=fullname",
    "--benchmark-columns=min,median,ops",
    "--benchmark-warmup", "on",
    "--benchmark-disable-gc",
    "--benchmark-autosave",
    "--benchmark-compare-fail=min:5%",
]
"""

SLOW_TEST = """
def test_slow(causal_bench, fake_timer):
    causal_bench(fake_timer.tick, 300_000_000)  # 0.3 s a call: a 1 s budget holds few rounds
"""


def _project(root: Path, addopts: str = ADDOPTS) -> None:
    (root / "pyproject.toml").write_text(addopts)
    (root / "conftest.py").write_text(FAKE_CLOCK_SOURCE + HOOKS)
    (root / "test_slow.py").write_text(SLOW_TEST)


def _run_without_pytest_benchmark(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest with no plugin auto-loaded but ours: pytest-benchmark is absent as far as pytest knows."""
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "pytest_causal_eval.plugin",
        "-p",
        "no:cacheprovider",
        *args,
    ]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)


ON = ("--causal-eval", "--causal-eval-history=off", "--causal-eval-health-sample=off")


def test_without_pytest_benchmark_its_options_and_hooks_are_accepted_when_off(tmp_path: Path) -> None:
    _project(tmp_path)
    proc = _run_without_pytest_benchmark(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
    assert "causal-eval" not in proc.stdout  # off: nothing said, nothing measured


def test_without_pytest_benchmark_its_options_become_ours_and_the_rest_is_named_once(tmp_path: Path) -> None:
    _project(tmp_path)
    proc = _run_without_pytest_benchmark(tmp_path, *ON, "--causal-eval-json=r.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    measurement = json.loads((tmp_path / "r.json").read_text())["measurements"][0]
    assert measurement["rounds"] == 20  # --benchmark-min-rounds, over the 1 s budget
    assert measurement["gc"] == "disabled"  # --benchmark-disable-gc
    assert "min_rounds=20" in out and "gc=disabled" in out  # the header says what is in force
    for said in (
        "causal-eval: --benchmark-sort=fullname dropped: display option without an equivalent",
        "causal-eval: --benchmark-columns=min,median,ops dropped: display option",
        "causal-eval: --benchmark-autosave dropped: --benchmark-autosave in the config would make every run",
        "causal-eval: --benchmark-compare-fail min:5% became --causal-eval-threshold=5%",
        "causal-eval: pytest_benchmark_update_machine_info (conftest.py) is pytest-benchmark's hook and is "
        "never called without it: the machine fingerprint is built in",
        "causal-eval: pytest_benchmark_update_json (conftest.py) is pytest-benchmark's hook",
    ):
        assert out.count(said) == 1, said
    assert "stopped at the time budget" not in out  # 20 rounds were asked for and taken


def test_what_is_dropped_is_said_in_the_summary_also_with_q(tmp_path: Path) -> None:
    """-q hides the header; the dropped options, marker keys and hooks are said in the summary."""
    _project(tmp_path)
    proc = _run_without_pytest_benchmark(tmp_path, *ON, "-q", "--benchmark-histogram")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.split("causal-eval: left from pytest-benchmark", 1)[1]
    for said in (
        "causal-eval: --benchmark-histogram dropped: no SVG histograms",
        "causal-eval: --benchmark-sort=fullname dropped: display option without an equivalent",
        "causal-eval: pytest_benchmark_update_machine_info (conftest.py) is pytest-benchmark's hook",
    ):
        assert proc.stdout.count(said) == 1 and said in summary, proc.stdout


def test_our_own_flag_wins_over_its_alias(tmp_path: Path) -> None:
    _project(tmp_path)
    proc = _run_without_pytest_benchmark(
        tmp_path, *ON, "--causal-eval-min-rounds=3", "--causal-eval-json=r.json"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        json.loads((tmp_path / "r.json").read_text())["measurements"][0]["rounds"] == 4
    )  # 3, then 1 s spent


def test_a_bad_alias_value_is_a_usage_error_naming_both_flags(tmp_path: Path) -> None:
    _project(tmp_path, ADDOPTS.replace("--benchmark-min-rounds=20", "--benchmark-min-rounds=many"))
    proc = _run_without_pytest_benchmark(tmp_path, *ON)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    assert (
        "--benchmark-min-rounds (as --causal-eval-min-rounds): expected a positive integer, got 'many'"
        in (proc.stderr)
    )


def test_a_budget_that_ends_a_measurement_in_few_rounds_is_said_in_the_summary(tmp_path: Path) -> None:
    _project(tmp_path, "[tool.pytest.ini_options]\n")
    proc = _run_without_pytest_benchmark(tmp_path, *ON, "--causal-eval-json=r.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    measurement = json.loads((tmp_path / "r.json").read_text())["measurements"][0]
    assert measurement["rounds"] == 5  # the default min rounds, though 1 s was spent after 4
    assert (
        "causal-eval: 1 measurement(s) stopped at the time budget with few rounds: "
        "test_slow.py::test_slow (5 rounds in 1s); ask for more with --causal-eval-min-rounds" in proc.stdout
    )


def test_with_pytest_benchmark_its_options_and_marker_stay_its_own(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_benchmark")
    pytester.makepyfile(
        test_both="""
        import pytest

        @pytest.mark.benchmark(group="theirs", calibration_precision=5)
        def test_theirs(benchmark):
            assert benchmark(sum, [1, 2]) == 3

        @pytest.mark.causal_eval(group="ours")
        def test_ours(causal_bench):
            causal_bench(sum, [1, 2])
        """
    )
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        *ON,
        "--causal-eval-max-time=10ms",
        "--benchmark-min-rounds=3",
        "--benchmark-max-time=0.01",
    )
    result.assert_outcomes(passed=2)
    text = result.stdout.str()
    assert "is not used" not in text  # the benchmark marker is pytest-benchmark's, not read by us
    assert "dropped" not in text
