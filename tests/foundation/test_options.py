"""Options: one group, --causal-eval-* flags with ini twins, bad values as usage errors."""

from __future__ import annotations

import ast
import os
import stat
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import pytest

from pytest_causal_eval.options import (
    CORE_OPTIONS,
    OptionSpec,
    Settings,
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
    result.stdout.fnmatch_lines(["causal-eval 0.1.0: min_time=5us, max_time=20ms, *warmup=0s*"])


def test_flag_wins_over_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncausal_eval_max_time = 3s\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--causal-eval", "--causal-eval-max-time", "50ms")
    result.stdout.fnmatch_lines(["*max_time=50ms*"])


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
    from pytest_causal_eval.instructions.settings import InstructionSettings
    from pytest_causal_eval.options import resolve_settings
    from pytest_causal_eval.profiling.settings import ProfilingSettings
    from pytest_causal_eval.report.settings import ReportSettings
    from pytest_causal_eval.shard.settings import ShardSettings
    from pytest_causal_eval.stats.thresholds import DEFAULT_THRESHOLD

    settings = resolve_settings(pytestconfig)
    assert EnvironmentSettings.of(settings) == EnvironmentSettings(
        xdist="serial", require_gpu=False, health_sample=0.2, max_foreign_load=0.25
    )
    assert BaselineSettings.of(settings) == BaselineSettings(
        baselines=None,
        save=False,
        force_save=False,
        machine=None,
        threshold=DEFAULT_THRESHOLD,
        strict=False,
        remeasure=2,
        remeasure_busy=1,
        confirm=1,
    )
    assert ProfilingSettings.of(settings) == ProfilingSettings(profile="off", on_regression=True)
    assert ReportSettings.of(settings) == ReportSettings(
        history=Path(".causal-eval/history.sqlite"), markdown=None, prometheus=None
    )
    assert ShardSettings.of(settings) == ShardSettings(shard=None, durations=None)
    assert InstructionSettings.of(settings) == InstructionSettings(
        mode="time", cache_sim=False, allocator_cost="fixed", count_timeout=600.0
    )


def _typed_settings() -> list[tuple[Any, tuple[OptionSpec, ...]]]:
    """Each feature's typed settings class with the options it owns."""
    from pytest_causal_eval.baseline import feature as baseline
    from pytest_causal_eval.baseline.settings import BaselineSettings
    from pytest_causal_eval.environment import settings as environment
    from pytest_causal_eval.environment.settings import EnvironmentSettings
    from pytest_causal_eval.instructions import feature as instructions
    from pytest_causal_eval.instructions.settings import InstructionSettings
    from pytest_causal_eval.profiling import feature as profiling
    from pytest_causal_eval.profiling.settings import ProfilingSettings
    from pytest_causal_eval.report import feature as report
    from pytest_causal_eval.report.settings import ReportSettings
    from pytest_causal_eval.shard import feature as shard
    from pytest_causal_eval.shard.settings import ShardSettings

    return [
        (EnvironmentSettings, environment.OPTIONS),
        (BaselineSettings, baseline.OPTIONS),
        (ProfilingSettings, profiling.OPTIONS),
        (ReportSettings, report.OPTIONS),
        (ShardSettings, shard.OPTIONS),
        (InstructionSettings, instructions.OPTIONS),
    ]


class _ReadSettings(Settings):
    """Settings that record which options are read, and refuse ``get`` (whose default would be a
    second one)."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__(values, dict.fromkeys(values, "default"))
        self.read: list[str] = []

    def __getitem__(self, dest: str) -> Any:
        self.read.append(dest)
        return super().__getitem__(dest)

    def get(self, dest: str, default: Any = None) -> Any:
        raise AssertionError(f"settings.get({dest!r}, ...) in a typed settings class")


@pytest.mark.parametrize("cls", [cls for cls, _ in _typed_settings()], ids=lambda cls: cls.__name__)
def test_typed_settings_write_no_default_of_their_own(cls: Any) -> None:
    """A typed settings class reads every option of its feature from the resolved settings, by
    subscript, and knows no default: a field with a default, a ``get`` with a fallback, or an option
    left unread would be a second place for a default."""
    specs = dict(_typed_settings())[cls]
    assert all(f.default is MISSING and f.default_factory is MISSING for f in fields(cls)), cls
    settings = _ReadSettings({spec.dest: spec.default for spec in specs})
    cls.of(settings)
    assert sorted(settings.read) == sorted(spec.dest for spec in specs)
    for spec in specs:  # an option missing from the settings is an error, not a fallback
        with pytest.raises(KeyError):
            cls.of(_ReadSettings({s.dest: s.default for s in specs if s is not spec}))


#: Files whose ``settings.get(`` is not a feature reading its options: the Settings class itself (its
#: cross-checks also run on partly resolved settings), a CpuEnv's own dict, an evaluation's settings.
_NOT_FEATURE_READS = {
    "options.py",
    "environment/cpu.py",
    "cli/engine_cmds.py",
}


def test_features_read_their_settings_through_their_typed_class() -> None:
    import pytest_causal_eval

    root = Path(pytest_causal_eval.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel in _NOT_FEATURE_READS or rel.startswith("engine/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            receiver = node.func.value
            named = receiver.id if isinstance(receiver, ast.Name) else getattr(receiver, "attr", "")
            if node.func.attr == "get" and named == "settings":
                found.append(f"{rel}:{node.lineno}")
    assert found == [], "read through the feature's typed settings class (X.of(settings)): " + ", ".join(
        found
    )
