import asyncio

import pytest

import textkit


@pytest.mark.benchmark(group="tokenize")
def test_words(benchmark, text):
    benchmark.extra_info["version"] = textkit.__version__
    result = benchmark(textkit.words, text)
    assert result[0] == "it"


@pytest.mark.benchmark(group="count", min_rounds=20)
def test_frequencies(benchmark, text):
    counts = benchmark(textkit.frequencies, text)
    benchmark.extra_info["distinct"] = len(counts)
    assert counts["it"] > 0


@pytest.mark.benchmark(group="count", disable_gc=True)
def test_top(benchmark, text):
    counts = textkit.frequencies(text)
    assert benchmark(textkit.top, counts, 5)[0][0] == "it"


@pytest.mark.benchmark(group="serialize")
def test_to_json(benchmark, text):
    counts = textkit.frequencies(text)
    assert benchmark(textkit.to_json, counts).startswith("{")


@pytest.mark.benchmark(group="serialize", warmup=True, warmup_iterations=100)
def test_from_json_pedantic(benchmark, text):
    encoded = textkit.to_json(textkit.frequencies(text))

    def setup():
        return (encoded,), {}

    result = benchmark.pedantic(textkit.from_json, setup=setup, rounds=50, warmup_rounds=5)
    assert "it" in result


def test_wrap(benchmark, text):
    result = benchmark(textkit.wrap, text, width=72)
    assert "\n" in result


def test_wrap_stats(benchmark, text):
    benchmark(textkit.wrap, text, 40)
    if not benchmark.disabled:
        assert benchmark.stats["min"] <= benchmark.stats["median"]


def test_frequencies_async(benchmark, text):
    chunks = [text[i : i + 500] for i in range(0, len(text), 500)]
    counts = benchmark(lambda: asyncio.run(textkit.frequencies_async(chunks)))
    assert counts["it"] > 0
