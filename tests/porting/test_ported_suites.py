"""The committed suites are real: they pass under pytest-benchmark as written, and the ported
serialization and Markdown suites pass under this plugin, off and on (the Markdown one uses the
fixture's whole surface: ``extra_info``, ``stats``, ``name``, ``from pytest_causal_eval import
CausalBench``)."""

from __future__ import annotations

import shutil

import pytest

from .conftest import FIXTURES

# Small budgets: these runs check outcomes, never speed.
QUICK = (
    "--causal-eval",
    "--causal-eval-max-time=2ms",
    "--causal-eval-min-time=50us",
    "--causal-eval-min-rounds=1",
    "--causal-eval-warmup=off",
    "--causal-eval-health-sample=off",
    "--causal-eval-history=off",
)
PASSED = {"serialization": 54, "markdown": 14}


def _project(pytester: pytest.Pytester, name: str, which: str) -> None:
    shutil.copytree(
        FIXTURES / which / name,
        pytester.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PASSED))
def test_the_original_suite_passes_under_pytest_benchmark(pytester: pytest.Pytester, name: str) -> None:
    _project(pytester, name, "input")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--benchmark-disable")
    result.assert_outcomes(passed=PASSED[name])


@pytest.mark.slow
@pytest.mark.parametrize("flags", [(), QUICK], ids=["plugin-off", "plugin-on"])
def test_the_ported_serialization_suite_passes_without_pytest_benchmark(
    pytester: pytest.Pytester, flags: tuple[str, ...]
) -> None:
    _project(pytester, "serialization", "expected")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:benchmark", *flags)
    result.assert_outcomes(passed=PASSED["serialization"])


@pytest.mark.slow
def test_the_ported_markdown_suite_passes_without_pytest_benchmark(pytester: pytest.Pytester) -> None:
    _project(pytester, "markdown", "expected")
    for flags in ((), QUICK):
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:benchmark", *flags)
        result.assert_outcomes(passed=PASSED["markdown"])
