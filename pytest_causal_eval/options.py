"""Command-line and ini options: one spec per option, parsed once into ``Settings``.

Every flag is ``--causal-eval-*`` with an ini twin (``causal_eval_*``). Values are parsed by small
functions that raise ``ValueError`` with what is allowed; ``resolve_settings`` turns that into a
``pytest.UsageError`` naming the flag or the ini key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "CORE_OPTIONS",
    "MAX_DURATION",
    "OPTION_ALIASES_KEY",
    "DurationTooLongError",
    "OptionAliases",
    "OptionSpec",
    "Settings",
    "add_options",
    "all_option_specs",
    "parse_bool",
    "parse_duration",
    "parse_positive_int",
    "parse_report_dir",
    "resolve_settings",
]


@dataclass(frozen=True)
class OptionSpec:
    """One option: ``dest`` is the key in ``Settings``; the flag is ``--causal-eval-<dest with dashes>``."""

    dest: str
    help: str
    default: Any = None
    parse: Callable[[str], Any] | None = None
    is_flag: bool = False
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--causal-eval" if self.dest == "enabled" else "--causal-eval-" + self.dest.replace("_", "-")

    @property
    def ini(self) -> str:
        return "causal_eval" if self.dest == "enabled" else "causal_eval_" + self.dest


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "min": 60.0}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zµ]*)\s*$")


MAX_DURATION = 86400.0  # a day: no budget, warm-up or limit of one measurement is longer


class DurationTooLongError(ValueError):
    """A well-formed duration beyond ``MAX_DURATION`` (its message is the one to show)."""


def parse_duration(text: str) -> float:
    """'0.5', '500ms', '2s', '100us' -> seconds (> 0, at most a day).

    ``1e400`` parses as infinity, which would make a time budget never end; a day is far beyond any
    measurement's budget and still a number the runner can compute with."""
    m = _DURATION.match(str(text))
    if not m or m.group(2) not in ("", *_UNITS):
        raise ValueError(f"expected a duration such as 0.5, 500ms, 2s or 100us, got {text!r}")
    value = float(m.group(1)) * _UNITS.get(m.group(2) or "s", 1.0)
    if value <= 0:
        raise ValueError(f"expected a positive duration, got {text!r}")
    if not value <= MAX_DURATION:  # also catches inf (and nan, which the pattern cannot produce)
        raise DurationTooLongError(f"expected a duration of at most a day (86400s), got {text!r}")
    return value


def parse_positive_int(text: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ValueError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise ValueError(f"expected a positive integer, got {text!r}")
    return value


def parse_bool(text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def parse_warmup(text: str) -> float | None:
    """'auto' (None: a tenth of the time budget, at most 0.1 s; see ``RunnerConfig``), 'off' (0) or a
    duration."""
    lowered = str(text).strip().lower()
    if lowered == "auto":
        return None
    if lowered in ("off", "0", "no", "false"):
        return 0.0
    try:
        return parse_duration(lowered)
    except DurationTooLongError:
        raise
    except ValueError:
        raise ValueError(f"expected auto, off or a duration such as 200ms, got {text!r}") from None


def parse_writable_file(text: str) -> Path:
    """A path whose directory exists (or can be created) and is writable; checked before the run."""
    if not str(text).strip():
        raise ValueError("expected a file path, got an empty value")
    path = Path(os.path.expanduser(str(text)))
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory, expected a file path")
    parent = path.parent if str(path.parent) else Path(".")
    probe_dir = parent
    while not probe_dir.exists():
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir() or not os.access(probe_dir, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {str(path)!r}: directory {str(probe_dir)!r} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"cannot write {str(path)!r}: the file is not writable")
    return path


def parse_writable_dir(text: str) -> Path:
    """A directory that exists and is writable, or can be created under a writable parent."""
    if not str(text).strip():
        raise ValueError("expected a directory path, got an empty value")
    path = Path(os.path.expanduser(str(text)))
    if path.exists() and not path.is_dir():
        raise ValueError(f"{str(path)!r} exists and is not a directory")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(
            f"cannot write under {str(path)!r}: {str(probe)!r} is not writable: it is a file, not a directory"
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write under {str(path)!r}: {str(probe)!r} is not writable")
    return path


DEFAULT_REPORT_DIR = Path(".causal-eval/report")


def parse_report_dir(text: str) -> Path | None:
    """A writable directory, or off/no/false/none (None) to write no HTML report."""
    if str(text).strip().lower() in ("off", "no", "false", "none"):
        return None
    try:
        return parse_writable_dir(text)
    except ValueError as exc:
        raise ValueError(f"{exc} (or off to write no HTML report)") from None


CORE_OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "enabled",
        "Measure causal_bench workloads (off: each runs once as a plain test).",
        False,
        parse_bool,
        is_flag=True,
    ),
    OptionSpec(
        "json", "Write the run's results (versioned JSON) to PATH.", None, parse_writable_file, metavar="PATH"
    ),
    OptionSpec(
        "report",
        "Directory of the HTML report and the profiles (default .causal-eval/report; created only when "
        "written), or off to write no HTML report (profiles then still go to the default directory).",
        Path(".causal-eval/report"),
        parse_report_dir,
        metavar="DIR|off",
    ),
    OptionSpec(
        "min_time",
        "Minimum duration of one round; iterations are calibrated to reach it (default 5us, as "
        "pytest-benchmark's; a round also lasts at least 100x the clock's resolution and read cost, "
        "and max-time/10000).",
        0.000005,
        parse_duration,
        metavar="DURATION",
    ),
    OptionSpec(
        "max_time",
        "Time budget for the rounds of one measurement (default 1s).",
        1.0,
        parse_duration,
        metavar="DURATION",
    ),
    OptionSpec(
        "min_rounds",
        "Minimum number of rounds, even past the time budget (default 5).",
        5,
        parse_positive_int,
        metavar="N",
    ),
    OptionSpec(
        "max_rounds", "Maximum number of rounds (default 10000).", 10_000, parse_positive_int, metavar="N"
    ),
    OptionSpec(
        "warmup",
        "Warm-up before timing: auto (a tenth of the time budget, at most 100ms), off, or a duration "
        "(default auto).",
        None,
        parse_warmup,
        metavar="auto|off|DURATION",
    ),
    OptionSpec(
        "disable_gc", "Disable the garbage collector during timed rounds.", False, parse_bool, is_flag=True
    ),
    OptionSpec(
        "tracemalloc",
        "Also record Python peak memory with tracemalloc in an untimed pass.",
        False,
        parse_bool,
        is_flag=True,
    ),
)


def all_option_specs() -> tuple[OptionSpec, ...]:
    """Every option the plugin owns, core first, then each feature module's own."""
    from pytest_causal_eval.features import feature_modules

    specs = list(CORE_OPTIONS)
    for module in feature_modules():
        specs.extend(module.OPTIONS)
    return tuple(specs)


def add_options(parser: pytest.Parser, specs: Iterable[OptionSpec]) -> None:
    group = parser.getgroup("causal-eval", "causal-eval: benchmark evaluation pipelines and gate regressions")
    for spec in specs:
        text = spec.help.replace("%", "%%")  # argparse formats help strings with %
        if spec.is_flag:
            group.addoption(
                spec.flag,
                action="store_true",
                default=None,
                dest="causal_eval_" + spec.dest,
                help=text + f" [ini: {spec.ini}]",
            )
            parser.addini(spec.ini, spec.help, type="string", default=None)
        else:
            group.addoption(
                spec.flag,
                action="store",
                default=None,
                dest="causal_eval_" + spec.dest,
                metavar=spec.metavar,
                help=text + f" [ini: {spec.ini}]",
            )
            parser.addini(spec.ini, spec.help, type="string", default=None)


@dataclass
class OptionAliases:
    """Other plugins' options read as ours (pytest-benchmark's ``--benchmark-*``, set by the
    plugin when pytest-benchmark is not active): values by our option's ``dest`` (text, or True for
    a flag), the alias each came from, and what to say about the ones without an equivalent."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


OPTION_ALIASES_KEY = pytest.StashKey[OptionAliases]()


class Settings:
    """Parsed option values by ``dest``; ``sources`` says where each came from (flag, ini or default)."""

    def __init__(self, values: dict[str, Any], sources: dict[str, str]) -> None:
        self._values = values
        self.sources = sources

    def __getitem__(self, dest: str) -> Any:
        return self._values[dest]

    def get(self, dest: str, default: Any = None) -> Any:
        return self._values.get(dest, default)

    @property
    def enabled(self) -> bool:
        return bool(self._values.get("enabled"))

    @property
    def json_path(self) -> Path | None:
        value = self._values.get("json")
        return value if isinstance(value, Path) else None

    @property
    def report_dir(self) -> Path:
        """Where the report and profiles go (the default directory when the HTML report is off)."""
        value = self._values.get("report")
        return value if isinstance(value, Path) else DEFAULT_REPORT_DIR

    @property
    def html_report(self) -> bool:
        """Whether to write the HTML report (``--causal-eval-report=off`` turns it off)."""
        return "report" not in self._values or self._values.get("report") is not None

    @property
    def min_time(self) -> float:
        return float(self._values["min_time"])

    @property
    def max_time(self) -> float:
        return float(self._values["max_time"])

    @property
    def min_rounds(self) -> int:
        return int(self._values["min_rounds"])

    @property
    def max_rounds(self) -> int:
        return int(self._values["max_rounds"])

    @property
    def warmup(self) -> float | None:
        """Seconds, or None for auto (resolved per measurement by ``RunnerConfig``)."""
        value = self._values["warmup"]
        return None if value is None else float(value)

    @property
    def disable_gc(self) -> bool:
        return bool(self._values["disable_gc"])

    @property
    def tracemalloc(self) -> bool:
        return bool(self._values["tracemalloc"])


def resolve_settings(config: pytest.Config, specs: Iterable[OptionSpec] | None = None) -> Settings:
    """Read every option from the command line, else the ini file, else its default."""
    aliases = config.stash.get(OPTION_ALIASES_KEY, None) or OptionAliases()
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in specs if specs is not None else all_option_specs():
        cli_value = config.getoption("causal_eval_" + spec.dest, default=None)
        if cli_value is not None:
            if spec.is_flag:
                values[spec.dest] = bool(cli_value)
            else:
                values[spec.dest] = _parse(spec, str(cli_value), spec.flag)
            sources[spec.dest] = spec.flag
            continue
        if spec.dest in aliases.values:
            alias = aliases.sources[spec.dest]
            raw = aliases.values[spec.dest]
            values[spec.dest] = (
                bool(raw) if spec.is_flag else _parse(spec, str(raw), f"{alias} (as {spec.flag})")
            )
            sources[spec.dest] = alias
            continue
        ini_value = config.getini(spec.ini)
        if ini_value not in (None, "", []):
            values[spec.dest] = _parse(spec, str(ini_value).strip(), f"ini option {spec.ini}")
            sources[spec.dest] = spec.ini
            continue
        values[spec.dest] = spec.default
        sources[spec.dest] = "default"
    settings = Settings(values, sources)
    _cross_check(settings)
    return settings


def _parse(spec: OptionSpec, raw: str, where: str) -> Any:
    if spec.parse is None:
        return raw
    try:
        return spec.parse(raw)
    except ValueError as exc:
        raise pytest.UsageError(f"{where}: {exc}") from None


def _cross_check(settings: Settings) -> None:
    save_from = settings.sources.get("save", "default")
    if settings.get("save") and not settings.enabled:
        raise pytest.UsageError(
            f"{'ini option ' if save_from == 'causal_eval_save' else ''}{save_from} needs --causal-eval "
            "(or the ini option causal_eval = true): a baseline is saved from the measurements of this run"
        )
    if settings.get("force_save") and not settings.get("save"):
        force_from = settings.sources.get("force_save", "default")
        where = f"ini option {force_from}" if force_from == "causal_eval_force_save" else force_from
        raise pytest.UsageError(f"{where} only applies with --causal-eval-save")
    if (
        settings.get("min_time") is not None
        and settings.get("max_time") is not None
        and settings.min_time > settings.max_time
    ):
        raise pytest.UsageError(
            f"--causal-eval-min-time ({settings.min_time:g}s) must not exceed "
            f"--causal-eval-max-time ({settings.max_time:g}s)"
        )
    if (
        settings.get("min_rounds") is not None
        and settings.get("max_rounds") is not None
        and settings.min_rounds > settings.max_rounds
    ):
        raise pytest.UsageError(
            f"--causal-eval-min-rounds ({settings.min_rounds}) must not exceed "
            f"--causal-eval-max-rounds ({settings.max_rounds})"
        )
