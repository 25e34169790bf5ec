"""pytest-benchmark's fixture surface on ``causal_bench``: ``extra_info``, ``stats``, ``name``,
``fullname``, ``group``, ``disabled``, ``weave``; the same behaviour with the plugin off and on."""

from __future__ import annotations

import json

import jsonschema
import pytest

from pytest_causal_eval.bench import CausalBench, InertBench
from pytest_causal_eval.results import Measurement, ResultsFormatError, results_schema_path
from pytest_causal_eval.stats.fixture_view import FixtureStats, fixture_stats

pytest_plugins = ["pytester"]

ON = ("--causal-eval", "--causal-eval-warmup=off", "--causal-eval-max-time=10ms", "-p", "no:cacheprovider")
OFF = ("-p", "no:cacheprovider")


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_the_inert_and_the_measuring_fixture_have_the_same_surface() -> None:
    expected = {
        "aio",
        "async_",
        "disabled",
        "enabled",
        "extra_info",
        "fullname",
        "group",
        "items",
        "name",
        "named",
        "patch",
        "pedantic",
        "record",
        "stats",
        "weave",
    }
    assert _public(InertBench) == _public(CausalBench) == expected


def test_the_fixture_type_is_importable_from_the_package() -> None:
    import pytest_causal_eval

    assert pytest_causal_eval.CausalBench is CausalBench


def test_stats_have_pytest_benchmarks_shape() -> None:
    data = [1.0, 2.0, 3.0, 4.0, 100.0]
    stats = fixture_stats(data)
    view = FixtureStats(stats, "test_x", "t.py::test_x", "g")
    assert view["median"] == stats.median == 3.0
    assert view["rounds"] == 5
    assert view["total"] == 110.0
    assert view["iqr_outliers"] == 1  # 100 is beyond q3 + 1.5 iqr
    assert view["hd15iqr"] == 4.0
    assert view["outliers"] == f"{stats.stddev_outliers};1"
    assert dict(view)["min"] == 1.0
    assert stats.data == tuple(data)
    with pytest.raises(KeyError, match="the keys are min, max"):
        view["p50"]


def test_extra_info_is_checked_when_loaded_from_a_results_file() -> None:
    m = Measurement(id="a", test_id="a", extra_info={"version": "1.2", "chars": 10})
    assert Measurement.from_dict(m.to_dict()).extra_info == {"version": "1.2", "chars": 10}
    bad = m.to_dict() | {"extra_info": {"list": [1, 2]}}
    with pytest.raises(ResultsFormatError, match=r"extra_info\['list'\] must be a string, a number"):
        Measurement.from_dict(bad)


SURFACE_TESTS = """
import pytest

@pytest.mark.causal_eval(group="render")
@pytest.mark.parametrize("size", [3])
def test_surface(causal_bench, size):
    assert causal_bench.stats is None  # before the call, as pytest-benchmark
    causal_bench.extra_info["version"] = "0.4.1"
    causal_bench.extra_info.update(chars=size, ratio=0.5, cached=True)
    assert causal_bench(sum, range(size)) == 3
    assert causal_bench.name == "test_surface[3]"
    assert causal_bench.fullname == "test_surface.py::test_surface[3]"
    assert causal_bench.group == "render"
    assert causal_bench.disabled is (not causal_bench.enabled)
    named = causal_bench.named("second")
    assert named.name == "test_surface[3]::second"
    assert named.fullname == "test_surface.py::test_surface[3]::second"
    assert named.extra_info is causal_bench.extra_info
    if causal_bench.enabled:
        assert causal_bench.stats["median"] == causal_bench.stats.stats.median > 0
        assert causal_bench.stats["rounds"] == causal_bench.stats.stats.rounds >= 1
        assert causal_bench.stats.fullname == causal_bench.fullname
    else:
        assert causal_bench.stats is None

def test_group_set_on_the_fixture(causal_bench):
    causal_bench.group = "parse"
    causal_bench(sum, [1])
    assert causal_bench.group == "parse"

def test_second_unnamed_call(causal_bench):
    causal_bench(sum, [1])
    causal_bench(sum, [2])

def test_a_raising_call_leaves_the_name_free(causal_bench):
    with pytest.raises(ZeroDivisionError):
        causal_bench(lambda: 1 / 0)
    assert causal_bench(sum, [4]) == 4

def test_extra_info_assigned_as_a_dict(causal_bench):
    causal_bench.extra_info["old"] = 1
    causal_bench.extra_info = {"lib": "2.0", "n": 3}  # pytest-benchmark's is a plain dict attribute
    assert causal_bench.extra_info == {"lib": "2.0", "n": 3}
    causal_bench(sum, [1])

def test_extra_info_bad_value(causal_bench):
    causal_bench.extra_info["shape"] = [1, 2]

def test_weave(causal_bench):
    causal_bench.weave(sum)

def test_pedantic_teardown_after_each_round(causal_bench):
    log = []

    def setup():
        log.append("setup")
        return (log.count("setup"),), {}

    def target(n):
        log.append(("run", n))
        return n

    def teardown(n):
        log.append(("down", n))

    causal_bench.pedantic(target, setup=setup, teardown=teardown, rounds=3, warmup_rounds=1, items=4)
    rounds = log.count("setup")
    assert rounds == (4 if causal_bench.enabled else 1)
    assert log == [step for n in range(1, rounds + 1) for step in ("setup", ("run", n), ("down", n))]
    assert causal_bench.items == 4
"""


@pytest.mark.parametrize("flags", [OFF, ON], ids=["off", "on"])
def test_the_surface_behaves_the_same_with_the_plugin_off_and_on(
    pytester: pytest.Pytester, flags: tuple[str, ...]
) -> None:
    pytester.makepyfile(test_surface=SURFACE_TESTS)
    result = pytester.runpytest(*flags, "-p", "no:benchmark")
    result.assert_outcomes(passed=5, failed=3)
    text = result.stdout.str()
    assert "the unnamed measurement of this test was already taken" in text
    assert (
        "causal_bench.extra_info['shape'] must be a string, a number or a boolean (stored in the "
        "results JSON), got list [1, 2]" in text
    )
    assert "causal_bench.weave/patch (pytest-benchmark's aspectlib weaving) is not supported" in text
    assert "Traceback" not in text


def test_extra_info_and_group_are_stored_with_the_measurements(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_surface=SURFACE_TESTS)
    out = pytester.path / "r.json"
    pytester.runpytest(*ON, "-p", "no:benchmark", "--causal-eval-json", str(out), "-k", "surface or group")
    data = json.loads(out.read_text())
    jsonschema.validate(data, json.loads(results_schema_path().read_text()))
    ms = {m["id"]: m for m in data["measurements"]}
    surface = ms["test_surface.py::test_surface[3]"]
    assert surface["extra_info"] == {"version": "0.4.1", "chars": 3, "ratio": 0.5, "cached": True}
    assert surface["group"] == "render"
    assert ms["test_surface.py::test_group_set_on_the_fixture"]["group"] == "parse"
