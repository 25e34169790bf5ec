"""The user's pytest command, run again under valgrind's callgrind (instruction mode).

``pytest --causal-eval --causal-eval-mode=instructions ...`` is one command: the plugin's
``pytest_cmdline_main`` (tryfirst) checks that instruction counting can work here, then runs
``valgrind --tool=callgrind ... PYTHON -m pytest SAME-ARGUMENTS`` in the same directory with
``CAUSAL_EVAL_UNDER_CALLGRIND=1`` and returns its exit status. The re-run's output goes straight to
the user's terminal. The parent collects and measures nothing; in the re-run the marker makes this
hook step aside, and the marker is removed from the environment so that a pytest the tests start
themselves is not mistaken for the re-run.

Refused with a usage error (exit 4, no traceback): valgrind missing (naming the package), a platform
valgrind does not support (naming it), and pytest-xdist's ``-n``/``--dist`` (one valgrind process
counts the tests in a fixed order; several workers under valgrind would multiply the start-up cost
and interleave unpredictably).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_causal_eval.measure.valgrind_launch import CallgrindSession

__all__ = ["RERUN_KEY", "instruction_mode_requested", "maybe_rerun", "xdist_requested"]

# In the re-run: the private directory callgrind writes to (read from the environment, then removed).
RERUN_KEY = pytest.StashKey[str]()
# measure.valgrind_launch.ENV_UNDER_CALLGRIND and measure.instructions.ENV_OUT_DIR, spelled out so
# that a run without instruction mode imports neither (a test checks they agree).
ENV_UNDER_CALLGRIND = "CAUSAL_EVAL_UNDER_CALLGRIND"
ENV_OUT_DIR = "CAUSAL_EVAL_CALLGRIND_DIR"

# Options that make pytest print something and stop: no measuring, so no valgrind.
_INFORMATIONAL = ("help", "version", "showfixtures", "show_fixtures_per_test", "markers", "collectonly")


def instruction_mode_requested(config: pytest.Config) -> bool:
    """Cheap: the raw flag or ini value asks for instruction mode (no valgrind probing)."""
    raw = config.getoption("causal_eval_mode", default=None)
    if raw is None:
        try:
            raw = config.getini("causal_eval_mode")
        except ValueError:
            return False
    return str(raw or "").strip().lower() == "instructions"


def xdist_requested(config: pytest.Config) -> str | None:
    """The xdist option in use (``-n 2``, ``--dist load``), or None."""
    numprocesses = config.getoption("numprocesses", default=None)
    if numprocesses not in (None, 0, "0"):
        return f"-n {numprocesses}"
    dist = config.getoption("dist", default="no")
    if dist not in (None, "no"):
        return f"--dist {dist}"
    if config.getoption("tx", default=None):
        return "--tx"
    return None


def maybe_rerun(config: pytest.Config, environ: Mapping[str, str] | None = None) -> int | None:
    """In the user's process: run the session again under valgrind and return its exit status.

    None lets pytest go on in this process: instruction mode not asked for, pytest only printing
    information, or this is the re-run already (its marker is taken out of the environment here).
    """
    env = os.environ if environ is None else environ
    if env.get(ENV_UNDER_CALLGRIND) == "1":
        config.stash[RERUN_KEY] = env.get(ENV_OUT_DIR, "")
        for name in (ENV_UNDER_CALLGRIND, ENV_OUT_DIR):
            os.environ.pop(name, None)
        return None
    if not instruction_mode_requested(config):
        return None
    if any(config.getoption(name, default=False) for name in _INFORMATIONAL):
        return None
    from pytest_causal_eval.options import resolve_settings

    settings = resolve_settings(config)  # bad values are usage errors here, before valgrind starts
    if not settings.enabled:
        if settings.sources.get("mode") == "--causal-eval-mode":
            raise pytest.UsageError(
                "--causal-eval-mode=instructions needs --causal-eval (or the ini option causal_eval = true): "
                "without it each workload runs once, unmeasured"
            )
        return None  # the ini asks for instruction mode but the plugin is off: a plain test run
    used = xdist_requested(config)
    if used is not None:
        raise pytest.UsageError(
            f"--causal-eval-mode=instructions cannot be used with pytest-xdist ({used}): the run is "
            "re-executed under one valgrind process that counts the tests in a fixed order; drop "
            f"{used.split()[0]} (instruction counts do not depend on the machine's load, so there is "
            "nothing to gain from parallel workers)"
        )
    from pytest_causal_eval.instructions.settings import InstructionSettings

    session = _prepare(InstructionSettings.of(settings).cache_sim)
    return _run(config, session)


def _prepare(cache_sim: bool) -> CallgrindSession:
    from pytest_causal_eval.measure.valgrind import UnsupportedPlatformError
    from pytest_causal_eval.measure.valgrind_launch import (
        CallgrindSession,
        InterpreterNotFoundError,
        ValgrindMissingError,
    )

    session = CallgrindSession(cache_sim=cache_sim)
    try:
        session.__enter__()
    except UnsupportedPlatformError as exc:
        raise pytest.UsageError(f"--causal-eval-mode=instructions: {exc}") from None
    except ValgrindMissingError:
        raise pytest.UsageError(
            "--causal-eval-mode=instructions needs valgrind, which is not installed (not on PATH); "
            "on Debian/Ubuntu: sudo apt-get install valgrind; or use --causal-eval-mode=time"
        ) from None
    except InterpreterNotFoundError as exc:
        raise pytest.UsageError(f"--causal-eval-mode=instructions: {exc}") from None
    return session


def _run(config: pytest.Config, prepared: CallgrindSession) -> int:
    args = [str(a) for a in config.invocation_params.args]
    write = sys.stdout.write
    write(
        "causal-eval: instruction mode: running the session again under valgrind --tool=callgrind "
        "(Python starts about 30x slower there; only the measured calls are counted)\n"
    )
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        return prepared.run(["-m", "pytest", *args], cwd=config.invocation_params.dir)
    finally:
        prepared.__exit__(None, None, None)
