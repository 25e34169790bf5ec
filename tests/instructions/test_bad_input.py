"""Instruction mode's bad input: each a usage error (exit 4) naming what is wrong, never a traceback;
tests valgrind cannot count are skipped with the reason. None of these needs valgrind."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from pytest_causal_eval.measure.instructions import ENV_OUT_DIR
from pytest_causal_eval.measure.valgrind_launch import ENV_UNDER_CALLGRIND

WORKLOAD = """
def test_work(causal_bench):
    causal_bench(lambda: sum(range(100)))
"""

ON = ("--causal-eval", "--causal-eval-mode=instructions", "-p", "no:cacheprovider")


def usage_error(result: pytest.RunResult) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    text = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in text
    return text


def test_without_valgrind_the_error_names_the_package(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(WORKLOAD)
    empty = tmp_path / "bin"
    empty.mkdir()
    pytester._monkeypatch.setenv("PATH", str(empty))  # the interpreter is run by its absolute path
    text = usage_error(pytester.runpytest_subprocess(*ON))
    assert "needs valgrind, which is not installed" in text
    assert "apt-get install valgrind" in text


def test_an_unsupported_platform_is_named(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(WORKLOAD)
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    text = usage_error(pytester.runpytest_inprocess(*ON))
    assert "not available on Darwin on arm64" in text
    assert "macOS on arm64" in text


def test_xdist_is_refused_with_the_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(WORKLOAD)
    text = usage_error(pytester.runpytest_inprocess(*ON, "-n", "2"))
    assert "cannot be used with pytest-xdist (-n 2)" in text
    assert "drop -n" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--causal-eval-mode=instructions",), "--causal-eval-mode=instructions needs --causal-eval"),
        (("--causal-eval", "--causal-eval-mode=cycles"), "--causal-eval-mode: expected time or instructions"),
        (
            ("--causal-eval", "--causal-eval-cache-sim"),
            "--causal-eval-cache-sim needs --causal-eval-mode=instructions",
        ),
        (
            ("--causal-eval", "--causal-eval-mode=instructions", "--causal-eval-count-timeout=soon"),
            "--causal-eval-count-timeout: expected a duration",
        ),
        (
            ("--causal-eval", "--causal-eval-mode=instructions", "--causal-eval-allocator-cost=measured"),
            "--causal-eval-allocator-cost: expected fixed or executed, got 'measured'",
        ),
    ],
)
def test_bad_option_values_are_usage_errors(
    pytester: pytest.Pytester, args: tuple[str, ...], expected: str
) -> None:
    pytester.makepyfile(WORKLOAD)
    assert expected in usage_error(pytester.runpytest_inprocess(*args, "-p", "no:cacheprovider"))


def test_the_ini_mode_with_the_plugin_off_is_a_plain_run_that_probes_nothing(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makeini("[pytest]\ncausal_eval_mode = instructions\n")
    pytester.makepyfile(WORKLOAD)
    empty = tmp_path / "bin"
    empty.mkdir()
    pytester._monkeypatch.setenv("PATH", str(empty))  # valgrind would not be found: it is not looked for
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "valgrind" not in result.stdout.str() + result.stderr.str()


def test_gpu_tests_and_marked_tests_are_skipped_with_the_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.gpu
        def test_gpu(causal_bench):
            causal_bench(lambda: None)

        @pytest.mark.causal_eval(instructions="an hour under valgrind")
        def test_long(causal_bench):
            causal_bench(lambda: None)

        @pytest.mark.causal_eval(instructions=3)
        def test_bad_marker(causal_bench):
            causal_bench(lambda: None)

        def test_counted(causal_bench):
            causal_bench(lambda: None)
        """
    )
    # As in the re-run (valgrind itself is not there: counting says so instead of crashing).
    monkeypatch.setenv(ENV_UNDER_CALLGRIND, "1")
    monkeypatch.delenv(ENV_OUT_DIR, raising=False)
    result = pytester.runpytest_inprocess(*ON, "-rs")
    out = result.stdout.str()
    assert "it uses the GPU (gpu_env or the gpu marker), whose kernels valgrind does not see" in out
    assert "instruction mode: not counted: an hour under valgrind" in out
    assert "@pytest.mark.causal_eval(instructions=...): expected True, False or a reason string" in out
    assert "this pytest process is not the re-run under valgrind" in out
    assert "Traceback" not in out
    result.assert_outcomes(passed=0, skipped=2, failed=1, errors=1)


def test_a_run_without_instruction_mode_loads_none_of_it(pytester: pytest.Pytester) -> None:
    from pytest_causal_eval.instructions import reexec
    from pytest_causal_eval.measure import instructions, valgrind_launch

    assert reexec.ENV_UNDER_CALLGRIND == valgrind_launch.ENV_UNDER_CALLGRIND
    assert reexec.ENV_OUT_DIR == instructions.ENV_OUT_DIR
    pytester.makepyfile(
        """
        import sys

        def test_work(causal_bench):
            causal_bench(lambda: sum(range(100)))
            heavy = ("measure.instructions", "measure.valgrind", "measure.valgrind_launch",
                     "measure.callgrind", "instructions.plugin")
            loaded = [m for m in heavy if "pytest_causal_eval." + m in sys.modules]
            assert loaded == []
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    pytester.runpytest_subprocess(
        "--causal-eval", "--causal-eval-max-time=20ms", "-p", "no:cacheprovider"
    ).assert_outcomes(passed=1)
