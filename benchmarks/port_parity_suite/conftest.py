import platform

import pytest

import textkit

TEXT = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, "
    "it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity. "
) * 40


@pytest.fixture(params=[1, 8], ids=["short", "long"])
def text(request):
    return TEXT * request.param


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["python_implementation"] = platform.python_implementation()


@pytest.hookimpl(tryfirst=True)
def pytest_benchmark_update_json(config, benchmarks, output_json):
    output_json["textkit_version"] = textkit.__version__
