"""pytest-benchmark's hooks, declared when pytest-benchmark is not active so that a conftest.py that
implements them still validates. Nothing calls them: the plugin says so once per run, with what to
use instead (``porting.mapping.HOOKS``). Names, arguments and ``firstresult`` are pytest-benchmark's.
"""

from __future__ import annotations

from typing import Any

import pytest

HOOK_NAMES = (
    "pytest_benchmark_scale_unit",
    "pytest_benchmark_generate_machine_info",
    "pytest_benchmark_update_machine_info",
    "pytest_benchmark_generate_commit_info",
    "pytest_benchmark_update_commit_info",
    "pytest_benchmark_group_stats",
    "pytest_benchmark_generate_json",
    "pytest_benchmark_update_json",
    "pytest_benchmark_compare_machine_info",
)


@pytest.hookspec(firstresult=True)
def pytest_benchmark_scale_unit(
    config: pytest.Config, unit: Any, benchmarks: Any, best: Any, worst: Any, sort: Any
) -> Any:
    """pytest-benchmark's; never called by causal-eval."""


@pytest.hookspec(firstresult=True)
def pytest_benchmark_generate_machine_info(config: pytest.Config) -> Any:
    """pytest-benchmark's; never called by causal-eval."""


@pytest.hookspec
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: Any) -> None:
    """pytest-benchmark's; never called by causal-eval."""


@pytest.hookspec(firstresult=True)
def pytest_benchmark_generate_commit_info(config: pytest.Config) -> Any:
    """pytest-benchmark's; never called by causal-eval."""


@pytest.hookspec
def pytest_benchmark_update_commit_info(config: pytest.Config, commit_info: Any) -> None:
    """pytest-benchmark's; never called by causal-eval."""


@pytest.hookspec(firstresult=True)
def pytest_benchmark_group_stats(config: pytest.Config, benchmarks: Any, group_by: Any) -> Any:
    """pytest-benchmark's; never called by causal-eval."""


@pytest.hookspec(firstresult=True)
def pytest_benchmark_generate_json(
    config: pytest.Config, benchmarks: Any, include_data: Any, machine_info: Any, commit_info: Any
) -> Any:
    """pytest-benchmark's; never called by causal-eval."""


@pytest.hookspec
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: Any) -> None:
    """pytest-benchmark's; never called by causal-eval."""


@pytest.hookspec
def pytest_benchmark_compare_machine_info(
    config: pytest.Config, benchmarksession: Any, machine_info: Any, compared_benchmark: Any
) -> None:
    """pytest-benchmark's; never called by causal-eval."""
