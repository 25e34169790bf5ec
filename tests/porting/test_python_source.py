"""Porting Python source: each rewrite by exact span, and what is reported instead of guessed."""

from __future__ import annotations

import textwrap

import pytest

from pytest_causal_eval.porting import Finding, PortParseError, port_python


def port(src: str) -> tuple[str, list[Finding]]:
    return port_python("t.py", textwrap.dedent(src))


def ported(src: str) -> str:
    return port(src)[0]


def messages(src: str) -> list[str]:
    return [f.format() for f in port(src)[1]]


def test_the_fixture_parameter_and_its_uses_are_renamed_keeping_comments() -> None:
    src = """\
    def test_x(benchmark, data):  # a comment
        # benchmark stays in comments
        result = benchmark(len, data)   # odd   spacing kept
        return benchmark.extra_info, "benchmark"
    """
    assert ported(src) == textwrap.dedent(
        """\
        def test_x(causal_bench, data):  # a comment
            # benchmark stays in comments
            result = causal_bench(len, data)   # odd   spacing kept
            return causal_bench.extra_info, "benchmark"
        """
    )


def test_a_second_run_changes_nothing() -> None:
    src = textwrap.dedent(
        """\
        import pytest

        @pytest.mark.benchmark(group="g", disable_gc=True, warmup_iterations=3)
        def test_x(benchmark):
            benchmark.pedantic(f, (), {}, None, None, 3)
        """
    )
    once, _ = port_python("t.py", src)
    assert once != src
    assert port_python("t.py", once)[0] == once


def test_closures_are_renamed_but_a_scope_that_rebinds_the_name_is_not() -> None:
    src = """\
    def test_x(benchmark):
        def inner():
            return benchmark.name
        def shadow(benchmark):
            return benchmark
        cb = lambda benchmark=benchmark: benchmark
        items = [benchmark for benchmark in range(3)]
        return inner, shadow, cb, [benchmark for _ in items]
    """
    assert ported(src) == textwrap.dedent(
        """\
        def test_x(causal_bench):
            def inner():
                return causal_bench.name
            def shadow(benchmark):
                return benchmark
            cb = lambda benchmark=causal_bench: benchmark
            items = [benchmark for benchmark in range(3)]
            return inner, shadow, cb, [causal_bench for _ in items]
        """
    )


def test_only_tests_and_fixtures_are_renamed_helpers_keep_their_parameter() -> None:
    src = """\
    import pytest

    def run(benchmark, x):
        return benchmark(x)

    class TestA:
        def test_m(self, benchmark):
            run(benchmark=benchmark, x=1)

    class Helper:
        def test_not_collected(self, benchmark):
            return benchmark

    @pytest.fixture
    def timed(benchmark):
        return benchmark
    """
    out = ported(src)
    assert "def run(benchmark, x):\n    return benchmark(x)" in out
    assert "def test_m(self, causal_bench):\n        run(benchmark=causal_bench, x=1)" in out
    assert "def test_not_collected(self, benchmark):\n        return benchmark" in out
    assert "def timed(causal_bench):\n    return causal_bench" in out


def test_a_fixture_overriding_benchmark_is_renamed_with_its_request() -> None:
    src = """\
    import pytest as pt

    @pt.fixture
    def benchmark(benchmark):
        benchmark.extra_info["v"] = 1
        return benchmark

    @pt.fixture(name="benchmark")
    def _custom(request):
        return 1
    """
    out, found = port(src)
    assert "def causal_bench(causal_bench):\n    causal_bench.extra_info" in out
    assert '@pt.fixture(name="causal_bench")' in out
    assert [f.line for f in found] == [9]
    assert "does not wrap pytest-benchmark's" in found[0].message


def test_the_marker_and_its_keys_are_mapped() -> None:
    src = """\
    import pytest
    from pytest import mark

    @pytest.mark.benchmark(group="g", min_rounds=3, max_time=0.5, min_time=1e-4, timer=clock,
                           disable_gc=True, warmup=False)
    def test_a(benchmark): ...

    @mark.benchmark(disable_gc=SLOW, warmup=True)
    def test_b(benchmark): ...

    pytestmark = [pytest.mark.benchmark(group='m')]
    PARAMS = [pytest.param(1, marks=pytest.mark.benchmark(group="p"))]
    """
    out = ported(src)
    assert (
        '@pytest.mark.causal_eval(group="g", min_rounds=3, max_time=0.5, min_time=1e-4, timer=clock,\n'
        '                       gc="disabled", warmup="off")'
    ) in out
    assert '@mark.causal_eval(gc=("disabled" if SLOW else "enabled"), warmup="auto")' in out
    assert "pytestmark = [pytest.mark.causal_eval(group='m')]" in out
    assert 'marks=pytest.mark.causal_eval(group="p")' in out


def test_marker_keys_without_an_equivalent_are_removed_with_their_comma_and_reported() -> None:
    src = """\
    import pytest

    @pytest.mark.benchmark(
        group="g",
        warmup_iterations=10,  # pytest-benchmark only
        # the next key is for calibration
        calibration_precision=5,
        min_rounds=2,
    )
    def test_a(benchmark): ...

    @pytest.mark.benchmark(precision=0.01)
    def test_b(benchmark): ...

    @pytest.mark.benchmark(group="x", confidence=0.9)
    def test_c(benchmark): ...

    @pytest.mark.benchmark(cprofile=True, group="y")
    def test_d(benchmark): ...

    @pytest.mark.benchmark(group="z", cprofile=True,  # why
                           min_rounds=1)
    def test_e(benchmark): ...
    """
    out, found = port(src)
    assert '@pytest.mark.causal_eval(\n    group="g",\n    min_rounds=2,\n)' in out
    assert "@pytest.mark.causal_eval()" in out
    assert '@pytest.mark.causal_eval(group="x")' in out
    assert '@pytest.mark.causal_eval(group="y")' in out
    assert '@pytest.mark.causal_eval(group="z",  # why\n                       min_rounds=1)' in out
    assert [(f.line, f.message.split(" dropped")[0]) for f in found] == [
        (5, "marker key warmup_iterations=10"),
        (7, "marker key calibration_precision=5"),
        (12, "marker key precision=0.01"),
        (15, "marker key confidence=0.9"),
        (18, "marker key cprofile=True"),
        (21, "marker key cprofile=True"),
    ]


def test_unknown_marker_keys_and_splats_are_reported_not_guessed() -> None:
    found = messages(
        """\
        import pytest

        @pytest.mark.benchmark(rounds=3, **OPTS)
        def test_a(benchmark): ...
        """
    )
    assert found == [
        "t.py:3: not ported: **OPTS in @pytest.mark.benchmark: map its keys by hand",
        "t.py:3: not ported: @pytest.mark.benchmark key 'rounds' is not one pytest-benchmark knows; left",
    ]


def test_strings_that_name_the_fixture_are_renamed() -> None:
    src = """\
    import pytest

    @pytest.mark.usefixtures("tmp_path", 'benchmark')
    def test_a(request):
        bench = request.getfixturevalue("benchmark")

    def pytest_runtest_setup(item):
        if "benchmark" in item.fixturenames and "benchmark" not in item.funcargs:
            return item.funcargs["benchmark"], item.funcargs.get("benchmark")
        unrelated = "benchmark"
    """
    out = ported(src)
    assert "usefixtures(\"tmp_path\", 'causal_bench')" in out
    assert 'getfixturevalue("causal_bench")' in out
    assert '"causal_bench" in item.fixturenames and "causal_bench" not in item.funcargs' in out
    assert 'item.funcargs["causal_bench"], item.funcargs.get("causal_bench")' in out
    assert 'unrelated = "benchmark"' in out


def test_pedantic_arguments_after_setup_go_by_keyword() -> None:
    src = """\
    def test_a(benchmark):
        benchmark.pedantic(f, (1,), None, setup_fn, teardown_fn, 10, 2, 1)
        benchmark.pedantic(f, args=(1,), rounds=3)
        benchmark.pedantic(f, (1,), None, None, None, 5)
    """
    out = ported(src)
    assert "causal_bench.pedantic(f, (1,), None, None, rounds=5)" in out
    assert (
        "causal_bench.pedantic(f, (1,), None, setup_fn, teardown=teardown_fn, rounds=10, "
        "warmup_rounds=2, iterations=1)"
    ) in out
    assert "causal_bench.pedantic(f, args=(1,), rounds=3)" in out


def test_an_awaited_call_becomes_aio_and_says_so() -> None:
    src = """\
    async def test_a(benchmark):
        await benchmark(fetch, 1)
        benchmark(sync_fn)

    async def helper(benchmark):
        return await benchmark(fetch)
    """
    out, found = port(src)
    assert "await causal_bench.aio(fetch, 1)\n    causal_bench(sync_fn)" in out
    assert "return await benchmark.aio(fetch)" in out
    assert [(f.line, f.ported) for f in found] == [(2, True), (6, True)]
    assert port_python("t.py", out)[0] == out


def test_unsupported_attributes_are_reported() -> None:
    found = messages(
        """\
        def test_a(benchmark, benchmark_weave):
            benchmark.weave(target)
            if benchmark.has_error or benchmark._mode:
                pass
            return benchmark.stats["mean"], benchmark.fullname
        """
    )
    assert found == [
        "t.py:1: not ported: the benchmark_weave fixture (aspectlib) is not supported: time the function "
        "with causal_bench(fn, ...)",
        "t.py:2: not ported: benchmark.weave: weave/patch (aspectlib) is not supported: call "
        "causal_bench(fn, ...) on the function to time",
        "t.py:3: not ported: benchmark._mode is private to pytest-benchmark: no equivalent",
        "t.py:3: not ported: benchmark.has_error: has_error has no equivalent: a workload's exception fails "
        "the test and records nothing",
        "t.py:5: note: causal_bench.stats is None without --causal-eval (plain pytest runs each workload "
        "once), as pytest-benchmark's is when disabled: read it under `if not causal_bench.disabled:`",
    ]


def test_setting_an_attribute_that_is_read_only_here_is_reported() -> None:
    """pytest-benchmark's fixture attributes are plain; ours that are read-only fail when set."""
    found = messages(
        """\
        def test_a(benchmark):
            benchmark.name = "short"
            benchmark.group = "g"
            benchmark.extra_info = {"v": "1"}
            print(benchmark.name)
        """
    )
    assert found == [
        "t.py:2: not ported: benchmark.name cannot be set on causal_bench: a measurement is named after "
        "its test; a second one in the test: causal_bench.named('...')"
    ]


def test_an_unguarded_stats_read_is_noted_once_a_guarded_one_is_not() -> None:
    """``stats`` is None without --causal-eval (as pytest-benchmark's when disabled): a read not
    under a check of ``disabled``/``enabled`` gets one note a file."""
    guarded = """\
        import pytest

        def test_a(benchmark):
            benchmark(f)
            if not benchmark.disabled:
                assert benchmark.stats["min"] > 0
            median = benchmark.stats["median"] if benchmark.enabled else None

        def test_b(benchmark):
            if benchmark.disabled:
                pytest.skip("not measuring")
            assert benchmark.stats.stats.mean > 0
        """
    assert messages(guarded) == []
    found = messages(
        """\
        def test_a(benchmark):
            benchmark(f)
            if benchmark.disabled:
                print("off")
            assert benchmark.stats.stats.mean > 0
            assert benchmark.stats["median"] > 0
        """
    )
    assert found == [
        "t.py:5: note: causal_bench.stats is None without --causal-eval (plain pytest runs each workload "
        "once), as pytest-benchmark's is when disabled: read it under `if not causal_bench.disabled:`"
    ]


def test_the_fixture_type_import_is_replaced_and_its_uses_renamed() -> None:
    src = """\
    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from pytest_benchmark.fixture import BenchmarkFixture

    def test_a(benchmark: "BenchmarkFixture") -> None: ...
    def test_b(benchmark: BenchmarkFixture) -> None: ...
    """
    out = ported(src)
    assert "    from pytest_causal_eval import CausalBench\n" in out
    assert 'def test_a(causal_bench: "CausalBench") -> None' in out
    assert "def test_b(causal_bench: CausalBench) -> None" in out


def test_other_pytest_benchmark_imports_are_reported_and_importorskip_is_redirected() -> None:
    src = """\
    import pytest
    import pytest_benchmark
    from pytest_benchmark.stats import Metadata
    from pytest_benchmark.fixture import BenchmarkFixture as BF

    pytest.importorskip("pytest_benchmark")

    def test_a(benchmark: BF): ...
    """
    out, found = port(src)
    assert 'pytest.importorskip("pytest_causal_eval")' in out
    assert "from pytest_causal_eval import CausalBench as BF" in out
    assert [f.format() for f in found] == [
        "t.py:2: not ported: imports pytest_benchmark: nothing of it is ported; remove the import",
        "t.py:3: not ported: imports Metadata from pytest_benchmark.stats: not ported; remove the import",
    ]


def test_hooks_become_optional_hooks_and_are_reported() -> None:
    src = """\
    \"\"\"Conftest.\"\"\"
    from __future__ import annotations

    import platform


    def pytest_benchmark_update_machine_info(config, machine_info):
        machine_info["node"] = platform.node()


    @other
    def pytest_benchmark_update_json(config, benchmarks, output_json):
        pass
    """
    out, found = port(src)
    assert out.startswith(
        '"""Conftest."""\nfrom __future__ import annotations\n\nimport pytest\nimport platform\n'
    )
    assert "\n@pytest.hookimpl(optionalhook=True)\ndef pytest_benchmark_update_machine_info(" in out
    assert "\n@pytest.hookimpl(optionalhook=True)\n@other\ndef pytest_benchmark_update_json(" in out
    assert [f.line for f in found] == [7, 12]
    assert "pytest_causal_eval_session_results" in found[1].message
    assert port_python("t.py", out)[0] == out


@pytest.mark.parametrize(
    ("decorator", "expected"),
    [
        ("@pytest.hookimpl", "@pytest.hookimpl(optionalhook=True)"),
        ("@pytest.hookimpl()", "@pytest.hookimpl(optionalhook=True)"),
        ("@pytest.hookimpl(tryfirst=True)", "@pytest.hookimpl(tryfirst=True, optionalhook=True)"),
        ("@pytest.hookimpl(optionalhook=True)", "@pytest.hookimpl(optionalhook=True)"),
    ],
)
def test_an_existing_hookimpl_gains_optionalhook(decorator: str, expected: str) -> None:
    src = f"import pytest\n\n{decorator}\ndef pytest_benchmark_generate_json(config):\n    pass\n"
    assert (
        ported(src) == f"import pytest\n\n{expected}\ndef pytest_benchmark_generate_json(config):\n    pass\n"
    )


def test_marker_readers_and_option_reads() -> None:
    src = """\
    def pytest_runtest_setup(item):
        mark = item.get_closest_marker("benchmark")
        if item.config.getoption("--benchmark-disable") or item.config.getoption("benchmark_min_rounds"):
            pass
    """
    out, found = port(src)
    assert 'item.get_closest_marker("causal_eval")' in out
    assert [(f.line, f.ported) for f in found] == [(2, True), (3, False), (3, False)]
    assert "the closest is --causal-eval-min-rounds" in found[2].message


def test_crlf_line_endings_and_non_ascii_columns_are_kept() -> None:
    src = 'def test_ü(benchmark):  # ünïcode\r\n    return benchmark("é", "ß")\r\n'
    out, _ = port_python("t.py", src)
    assert out == 'def test_ü(causal_bench):  # ünïcode\r\n    return causal_bench("é", "ß")\r\n'


def test_a_name_clash_is_reported_not_renamed() -> None:
    src = "def test_a(benchmark, causal_bench):\n    return benchmark\n"
    out, found = port_python("t.py", src)
    assert out == src
    assert "already uses the name causal_bench" in found[0].message


def test_a_file_that_does_not_parse_raises_with_file_line_and_reason() -> None:
    with pytest.raises(PortParseError) as info:
        port_python("suite/test_bad.py", "def test_a(benchmark):\n    return (\n")
    assert str(info.value).startswith("suite/test_bad.py:2: cannot parse: ")
    assert "never closed" in info.value.reason
