"""pytest-benchmark's public surface and what each part becomes in pytest-causal-eval.

One table per kind (fixture attributes, marker keys, command-line options, hooks), used by the
port and readable on its own: it is the migration table of the README in data form. Names on the
right that the plugin does not have yet are the ones the drop-in work adds (``extra_info``,
``stats``, ``fullname``, ``disabled``, ``pedantic(teardown=)``, the marker key ``timer``); they
keep pytest-benchmark's names so ported code reads the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ATTRIBUTES",
    "FIXTURE",
    "HOOKS",
    "MARKER",
    "MARKER_KEYS",
    "OPTIONS",
    "PEDANTIC_POSITIONAL",
    "PLUGIN_MODULE",
    "TARGET_FIXTURE",
    "TARGET_MARKER",
    "TARGET_TYPE",
    "TARGET_TYPE_MODULE",
    "MarkerKey",
    "OptionRule",
]

FIXTURE = "benchmark"
TARGET_FIXTURE = "causal_bench"
MARKER = "benchmark"
TARGET_MARKER = "causal_eval"
PLUGIN_MODULE = "pytest_benchmark"
#: ``from pytest_benchmark.fixture import BenchmarkFixture`` (type annotations) becomes this import.
TARGET_TYPE_MODULE = "pytest_causal_eval"
TARGET_TYPE = "CausalBench"

#: pytest-benchmark's ``pedantic`` parameters in order; ours has no ``teardown`` slot at index 4 of
#: the positional ones, so the port passes everything after ``setup`` by keyword.
PEDANTIC_POSITIONAL = (
    "target",
    "args",
    "kwargs",
    "setup",
    "teardown",
    "rounds",
    "warmup_rounds",
    "iterations",
)

#: Fixture attributes: None means the name stays (same meaning on ``causal_bench``); a string is
#: why a use cannot be ported automatically.
ATTRIBUTES: dict[str, str | None] = {
    "pedantic": None,
    "extra_info": None,
    "stats": None,
    "name": None,
    "fullname": None,
    "group": None,
    "param": None,
    "params": None,
    "disabled": None,
    "enabled": None,
    "weave": "weave/patch (aspectlib) is not supported: call causal_bench(fn, ...) on the function to time",
    "patch": "weave/patch (aspectlib) is not supported: call causal_bench(fn, ...) on the function to time",
    "has_error": "has_error has no equivalent: a workload's exception fails the test and records nothing",
    "skipped": "skipped has no equivalent: read the test's outcome in a pytest_runtest_makereport hook",
    "cprofile_stats": "cProfile stats have no equivalent: --causal-eval-profile=cpu writes pyinstrument "
    "profiles and hotspots",
}


#: Attributes pytest-benchmark lets a test set that are read-only on ``causal_bench``, and why.
READ_ONLY_ATTRIBUTES: dict[str, str] = {
    "name": "a measurement is named after its test; a second one in the test: causal_bench.named('...')",
    "fullname": "a measurement is named after its test; a second one in the test: causal_bench.named('...')",
    "stats": "the statistics are the measurement's own",
    "disabled": "measuring is on with --causal-eval; deselect tests with -m or -k",
    "enabled": "measuring is on with --causal-eval; deselect tests with -m or -k",
    "param": "the parameters are the test's own",
    "params": "the parameters are the test's own",
}


@dataclass(frozen=True)
class MarkerKey:
    """How one ``@pytest.mark.benchmark`` key is written on ``@pytest.mark.causal_eval``.

    ``target`` None drops the key (``reason`` says why); ``if_true``/``if_false`` map a boolean.
    """

    target: str | None
    reason: str = ""
    if_true: str | None = None
    if_false: str | None = None


MARKER_KEYS: dict[str, MarkerKey] = {
    "group": MarkerKey("group"),
    "min_rounds": MarkerKey("min_rounds"),
    "max_time": MarkerKey("max_time"),
    "min_time": MarkerKey("min_time"),
    "timer": MarkerKey("timer"),
    "warmup": MarkerKey("warmup", if_true="auto", if_false="off"),
    "disable_gc": MarkerKey("gc", if_true="disabled", if_false="enabled"),
    "warmup_iterations": MarkerKey(
        None, "warm-up is a duration here, not an iteration count: warmup='200ms' (default auto)"
    ),
    "calibration_precision": MarkerKey(
        None, "calibration keeps clock resolution and read cost under 1% of a round by itself"
    ),
    "precision": MarkerKey(
        None, "rounds run to a time budget; a noisy comparison is re-measured (--causal-eval-remeasure)"
    ),
    "confidence": MarkerKey(
        None, "rounds run to a time budget; a noisy comparison is re-measured (--causal-eval-remeasure)"
    ),
    "cprofile": MarkerKey(None, "profiling is session-wide: --causal-eval-profile=cpu"),
}


@dataclass(frozen=True)
class OptionRule:
    """A ``--benchmark-*`` option: how many values it takes and what it becomes.

    ``arity``: "flag" (none), "one", "optional" (argparse ``nargs='?'``) or "many" (``nargs='+'``).
    ``target`` is our flag (None: the option is dropped). ``values`` maps its value (lower case);
    ``keep_value`` passes the value through; ``fixed_value`` replaces any value. ``note`` is said
    when the port drops it or changes its meaning on purpose (a default of ours already does what
    it did); ``reason`` when it cannot port it.
    """

    arity: str
    target: str | None = None
    keep_value: bool = False
    values: dict[str, str] = field(default_factory=dict)
    fixed_value: str | None = None
    note: str = ""
    reason: str = ""


_DISPLAY = (
    "display option without an equivalent: the summary lists the rows that are not a plain pass; "
    "the full table is in the HTML report (--causal-eval-report) and --causal-eval-markdown"
)
_WARMUP = {"on": "auto", "true": "auto", "yes": "auto", "": "auto", "auto": "auto"} | {
    v: "off" for v in ("off", "false", "no")
}

OPTIONS: dict[str, OptionRule] = {
    "min-time": OptionRule("one", "--causal-eval-min-time", keep_value=True),
    "max-time": OptionRule("one", "--causal-eval-max-time", keep_value=True),
    "min-rounds": OptionRule("one", "--causal-eval-min-rounds", keep_value=True),
    "warmup": OptionRule("optional", "--causal-eval-warmup", values=_WARMUP),
    "disable-gc": OptionRule("flag", "--causal-eval-disable-gc"),
    "enable": OptionRule(
        "flag", "--causal-eval", note="--benchmark-enable became --causal-eval (measure every causal_bench)"
    ),
    "disable": OptionRule(
        "flag", note="--benchmark-disable dropped: without --causal-eval each workload runs once already"
    ),
    "json": OptionRule(
        "one",
        "--causal-eval-json",
        keep_value=True,
        note="--causal-eval-json writes our results format (causal-eval compare reads it)",
    ),
    "cprofile": OptionRule(
        "one", "--causal-eval-profile", fixed_value="cpu", note="cProfile became pyinstrument profiles"
    ),
    "save-data": OptionRule("flag", note="--benchmark-save-data dropped: raw samples are always kept"),
    "compare": OptionRule(
        "optional",
        note="--benchmark-compare dropped: with --causal-eval every measurement is compared with this "
        "machine's baseline",
    ),
    "compare-fail": OptionRule("many", "--causal-eval-threshold"),
    "save": OptionRule(
        "one",
        reason="--benchmark-save in the config would make every run overwrite the baseline instead of "
        "being gated; save with --causal-eval-save on the command line when you mean to",
    ),
    "autosave": OptionRule(
        "flag",
        reason="--benchmark-autosave in the config would make every run overwrite the baseline instead "
        "of being gated; every run is kept in --causal-eval-history; save baselines with "
        "--causal-eval-save on the command line",
    ),
    "timer": OptionRule(
        "one",
        reason="no --causal-eval-timer: wall and process CPU time are both recorded; a custom clock "
        "is the pytest_causal_eval_timer hook, per test @pytest.mark.causal_eval(timer=...)",
    ),
    "precision": OptionRule(
        "one",
        reason="rounds run to a time budget; a noisy comparison is re-measured (--causal-eval-remeasure)",
    ),
    "confidence": OptionRule(
        "one",
        reason="rounds run to a time budget; a noisy comparison is re-measured (--causal-eval-remeasure)",
    ),
    "calibration-precision": OptionRule(
        "one", reason="calibration keeps clock resolution and read cost under 1% of a round by itself"
    ),
    "warmup-iterations": OptionRule(
        "one", reason="warm-up is a duration here: --causal-eval-warmup=auto|off|DURATION"
    ),
    "skip": OptionRule("flag", reason="no equivalent: deselect benchmarks with -m or -k"),
    "only": OptionRule("flag", reason="no equivalent: select benchmarks with -m or -k"),
    "storage": OptionRule(
        "one",
        reason="runs are not stored as files per run: baselines live in --causal-eval-baselines DIR; "
        "turn saved runs into baselines with causal-eval import-pytest-benchmark",
    ),
    "netrc": OptionRule("optional", reason="no Elasticsearch storage"),
    "verbose": OptionRule("flag", reason="no equivalent: the header and summary say what ran"),
    "quiet": OptionRule(
        "flag", reason="no equivalent: the summary lists only rows that are not a plain pass"
    ),
    "sort": OptionRule("one", reason=_DISPLAY),
    "group-by": OptionRule("one", reason=_DISPLAY),
    "columns": OptionRule("one", reason=_DISPLAY),
    "name": OptionRule("one", reason=_DISPLAY),
    "time-unit": OptionRule("one", reason=_DISPLAY),
    "histogram": OptionRule(
        "optional", reason="no SVG histograms: the HTML report (--causal-eval-report) has the charts"
    ),
    "csv": OptionRule(
        "optional", reason="no CSV: --causal-eval-json, --causal-eval-markdown or --causal-eval-prometheus"
    ),
    "cprofile-loops": OptionRule(
        "one", note="--benchmark-cprofile-loops dropped: the profile pass is untimed"
    ),
    "cprofile-top": OptionRule("one", note="--benchmark-cprofile-top dropped: reports show the top hotspots"),
    "cprofile-dump": OptionRule(
        "optional",
        note="--benchmark-cprofile-dump dropped: profiles are written under "
        "--causal-eval-report DIR/profiles",
    ),
}

#: pytest-benchmark's hooks: none has an equivalent with the same arguments. The port keeps the
#: function, marks it ``@pytest.hookimpl(optionalhook=True)`` (so pytest accepts it without
#: pytest-benchmark) and says what to use instead.
HOOKS: dict[str, str] = {
    "pytest_benchmark_scale_unit": "reports choose their units themselves",
    "pytest_benchmark_generate_machine_info": "the machine fingerprint is built in (hard and soft keys); "
    "choose a baseline by hand with --causal-eval-machine KEY",
    "pytest_benchmark_update_machine_info": "the machine fingerprint is built in (hard and soft keys); "
    "choose a baseline by hand with --causal-eval-machine KEY",
    "pytest_benchmark_compare_machine_info": "a hard-key mismatch is refused and a soft-key one warns, "
    "by themselves",
    "pytest_benchmark_generate_commit_info": "baselines record the code they measured by themselves",
    "pytest_benchmark_update_commit_info": "baselines record the code they measured by themselves",
    "pytest_benchmark_group_stats": "groups come from @pytest.mark.causal_eval(group=...) or "
    "causal_bench.group",
    "pytest_benchmark_generate_json": "pytest_causal_eval_session_results(config, results) sees every "
    "measurement; --causal-eval-json writes them",
    "pytest_benchmark_update_json": "pytest_causal_eval_session_results(config, results) sees every "
    "measurement; store extra fields with causal_bench.extra_info",
}
