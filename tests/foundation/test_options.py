"""Options: one group, --causal-eval-* flags with ini twins, bad values as usage errors."""

from __future__ import annotations

import os
import stat

import pytest

from pytest_causal_eval.options import (
    CORE_OPTIONS,
    parse_bool,
    parse_duration,
    parse_positive_int,
    parse_warmup,
)

pytest_plugins = ["pytester"]


def test_help_lists_the_group_and_every_flag(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["causal-eval: benchmark evaluation pipelines and gate regressions:"])
    out = result.stdout.str()
    for spec in CORE_OPTIONS:
        assert spec.flag in out, spec.flag
        assert spec.ini in out, spec.ini
        assert spec.flag == "--causal-eval" or spec.flag.startswith("--causal-eval-")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--causal-eval-min-time", "fast"], "--causal-eval-min-time: expected a duration*"),
        (["--causal-eval-max-time=-1s"], "--causal-eval-max-time: expected a duration*"),
        (["--causal-eval-min-rounds", "0"], "--causal-eval-min-rounds: expected a positive integer*"),
        (["--causal-eval-max-rounds", "many"], "--causal-eval-max-rounds: expected a positive integer*"),
        (["--causal-eval-warmup", "sometimes"], "--causal-eval-warmup: expected auto, off or a duration*"),
        (["--causal-eval-min-time", "2s", "--causal-eval-max-time", "1s"], "*must not exceed*"),
        # 1e400 parses as infinity: a budget that never ends, a warm-up that overflows the runner
        (["--causal-eval-max-time=1e400"], "--causal-eval-max-time: expected a duration of at most a day*"),
        (["--causal-eval-warmup=1e400"], "--causal-eval-warmup: expected a duration of at most a day*"),
        (["--causal-eval-max-time=2000min"], "--causal-eval-max-time: expected a duration of at most a day*"),
    ],
)
def test_bad_values_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--causal-eval", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_bad_ini_value_names_the_key(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncausal_eval = true\ncausal_eval_max_time = soon\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: ini option causal_eval_max_time: expected a duration*"])


def test_bad_ini_bool(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncausal_eval = perhaps\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: ini option causal_eval: expected true or false, got 'perhaps'"])


def test_ini_enables_and_configures(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncausal_eval = true\ncausal_eval_max_time = 20ms\ncausal_eval_warmup = off\n")
    pytester.makepyfile(
        "def test_x(causal_bench):\n    assert causal_bench.enabled\n    causal_bench(sum, [1])"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["causal-eval 0.1.0: min_time=0.001s, max_time=0.02s, *warmup=0s*"])


def test_flag_wins_over_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncausal_eval_max_time = 3s\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--causal-eval", "--causal-eval-max-time", "50ms")
    result.stdout.fnmatch_lines(["*max_time=0.05s*"])


def test_unwritable_json_path_fails_at_start(pytester: pytest.Pytester) -> None:
    if os.geteuid() == 0:
        pytester.makefile(".txt", notadir="")  # root may write anywhere; a file cannot hold files
        target = str(pytester.path / "notadir.txt" / "out.json")
    else:
        locked = pytester.mkdir("locked")
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        target = str(locked / "out.json")
    pytester.makepyfile("""
        def test_x():
            open("ran.txt", "w").close()
    """)
    result = pytester.runpytest("--causal-eval", "--causal-eval-json", target)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --causal-eval-json: cannot write*"])
    assert not (pytester.path / "ran.txt").exists()


def test_json_path_that_is_a_directory(pytester: pytest.Pytester) -> None:
    pytester.mkdir("out")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--causal-eval", "--causal-eval-json", "out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --causal-eval-json: 'out' is a directory*"])


def test_report_dir_under_a_file(pytester: pytest.Pytester) -> None:
    pytester.makefile(".txt", notadir="")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--causal-eval", "--causal-eval-report", "notadir.txt/report")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --causal-eval-report: *'notadir.txt' is not writable: it is a file, not a directory*"]
    )


def test_plugin_can_be_disabled_with_p_no(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("-p", "no:causal_eval")
    result.assert_outcomes(passed=1)
    assert "causal-eval" not in result.stdout.str()
    help_out = pytester.runpytest("-p", "no:causal_eval", "--help").stdout.str()
    assert "--causal-eval" not in help_out


@pytest.mark.parametrize(
    ("text", "seconds"), [("0.5", 0.5), ("500ms", 0.5), ("2s", 2.0), ("100us", 1e-4), ("1e-3", 1e-3)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "0", "-1", "1 hour", "ms"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_small_parsers() -> None:
    assert parse_positive_int(" 3 ") == 3
    assert parse_bool("Yes") is True and parse_bool("off") is False
    assert parse_warmup("auto") is None and parse_warmup("off") == 0.0 and parse_warmup("200ms") == 0.2
    for bad, fn in (("x", parse_positive_int), ("maybe", parse_bool)):
        with pytest.raises(ValueError):
            fn(bad)


def test_feature_settings_are_typed_with_the_defaults_of_their_options(pytestconfig: pytest.Config) -> None:
    """Each feature reads its settings through one typed record whose defaults are its OptionSpecs'."""
    from pytest_causal_eval.baseline.settings import BaselineSettings
    from pytest_causal_eval.environment.settings import EnvironmentSettings
    from pytest_causal_eval.options import resolve_settings
    from pytest_causal_eval.stats.thresholds import DEFAULT_THRESHOLD

    settings = resolve_settings(pytestconfig)
    assert EnvironmentSettings.of(settings) == EnvironmentSettings(
        xdist="serial", require_gpu=False, health_sample=0.2
    )
    assert BaselineSettings.of(settings) == BaselineSettings(
        baselines=None,
        save=False,
        force_save=False,
        machine=None,
        threshold=DEFAULT_THRESHOLD,
        strict=False,
        remeasure=2,
    )
