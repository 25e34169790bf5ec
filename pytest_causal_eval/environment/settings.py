"""The environment feature's options (``--causal-eval-xdist``, ``--causal-eval-require-gpu``,
``--causal-eval-health-sample``, ``--causal-eval-max-foreign-load``), apart from its wiring so that
the fixtures can read them without importing the feature (which imports the plugin, which uses the
fixtures)."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_causal_eval.environment.xdist import DEFAULT_XDIST_MODE, XDIST_MODES, parse_xdist_mode
from pytest_causal_eval.measure.load import DEFAULT_MAX_FOREIGN_LOAD, parse_max_foreign_load
from pytest_causal_eval.options import OptionSpec, Settings, parse_bool, parse_duration

__all__ = [
    "DEFAULT_MAX_FOREIGN_LOAD",
    "OPTIONS",
    "EnvironmentSettings",
    "parse_health_sample",
    "parse_max_foreign_load",
]


def parse_health_sample(text: str) -> float:
    """'off' (0: no busy-process sampling) or a duration such as 200ms."""
    lowered = str(text).strip().lower()
    if lowered in ("off", "0", "no", "false"):
        return 0.0
    try:
        value = parse_duration(lowered)
    except ValueError:
        raise ValueError(f"expected off or a duration such as 200ms, got {text!r}") from None
    if value > 10:
        raise ValueError(f"expected at most 10s, got {text!r}")
    return value


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "xdist",
        "Timing under pytest-xdist: serial (timed sections take turns, the rest runs in parallel), "
        f"pin (each worker on its own CPUs), off (no coordination). Default {DEFAULT_XDIST_MODE}.",
        DEFAULT_XDIST_MODE,
        parse_xdist_mode,
        metavar="|".join(XDIST_MODES),
    ),
    OptionSpec(
        "require_gpu",
        "Fail (instead of skip) tests using gpu_env when CUDA is not available.",
        False,
        parse_bool,
        is_flag=True,
    ),
    OptionSpec(
        "health_sample",
        "How long the start-of-run health check watches other processes' CPU use (default 200ms; "
        "off: watch none, read only load, memory and swap).",
        0.2,
        parse_health_sample,
        metavar="DURATION|off",
    ),
    OptionSpec(
        "max_foreign_load",
        "A time regression measured while other processes used more than this share of the "
        "machine's CPUs (read during the timed rounds, or the whole measurement when they are too "
        "short to read) is inconclusive, not regressed; it fails only with --causal-eval-strict "
        f"(default {DEFAULT_MAX_FOREIGN_LOAD:.0%}; off: judge it anyway). The same limit judges each "
        "measurement's health.",
        DEFAULT_MAX_FOREIGN_LOAD,
        parse_max_foreign_load,
        metavar="PERCENT|off",
    ),
)


@dataclass(frozen=True)
class EnvironmentSettings:
    """The environment feature's settings, typed (their defaults are the ``OPTIONS`` above)."""

    xdist: str
    require_gpu: bool
    health_sample: float  # seconds; 0: watch no process
    max_foreign_load: float | None  # a share of the CPUs; None: judge a time regression whatever ran

    @classmethod
    def of(cls, settings: Settings) -> EnvironmentSettings:
        return cls(
            xdist=str(settings["xdist"]),
            require_gpu=bool(settings["require_gpu"]),
            health_sample=float(settings["health_sample"]),
            max_foreign_load=settings["max_foreign_load"],
        )
