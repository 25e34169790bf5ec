"""pytest entry point: options, markers, the ``causal_bench`` fixture, and enabling the session.

Nothing here measures, writes or imports anything heavy unless ``--causal-eval`` (or the ini
option ``causal_eval = true``) is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_causal_eval import hookspecs
from pytest_causal_eval.features import feature_modules
from pytest_causal_eval.markers import all_marker_keys
from pytest_causal_eval.options import add_options, all_option_specs, resolve_settings

if TYPE_CHECKING:
    from pytest_causal_eval.bench import CausalBench, InertBench
    from pytest_causal_eval.engine.fixture import EngineHandle, EnginePool
    from pytest_causal_eval.environment.cpu import CpuEnv
    from pytest_causal_eval.environment.gpu import GpuEnv
    from pytest_causal_eval.session import CausalEvalSession

SESSION_PLUGIN_NAME = "causal_eval_session"
#: The enabled run's session (absent when the plugin is off).
SESSION_KEY: pytest.StashKey[CausalEvalSession] = pytest.StashKey()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser, all_option_specs())


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """Instruction mode: run the whole session again under valgrind and return its exit status.

    Cheap when not asked for: reads one option, probes nothing."""
    from pytest_causal_eval.instructions.reexec import maybe_rerun

    return maybe_rerun(config)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "causal_eval(**options): per-test measuring and gating options; keys: "
        + ", ".join(sorted(all_marker_keys())),
    )
    config.addinivalue_line(
        "markers",
        "causal_engine(model=..., task=..., batch_size=..., executor=..., workers=..., cache=..., http=..., "
        "stream_seed=..., **model_args): defaults for the causal_engine fixture in this test",
    )
    config.addinivalue_line(
        "markers", "gpu: needs a CUDA device; gpu_env skips the test with the reason when CUDA is absent"
    )
    settings = resolve_settings(config)  # a bad value is a UsageError even when the plugin is off
    if not settings.enabled:
        return
    from pytest_causal_eval.session import CausalEvalSession

    session = CausalEvalSession(config, settings)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, SESSION_PLUGIN_NAME)
    session.setup()
    for module in feature_modules():
        module.configure(config, session)


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        config.pluginmanager.unregister(session, SESSION_PLUGIN_NAME)
        del config.stash[SESSION_KEY]


@pytest.fixture
def causal_bench(request: pytest.FixtureRequest) -> Iterator[CausalBench | InertBench]:
    """Measure a workload: ``causal_bench(fn, *args, **kwargs)`` returns ``fn``'s result.

    Off (no ``--causal-eval``): ``fn`` runs once. On: warm-up, calibration, timed rounds.
    """
    from pytest_causal_eval.bench import CausalBench, InertBench

    session = request.config.stash.get(SESSION_KEY, None)
    if session is None:
        yield InertBench()
        return
    yield CausalBench(session, request.node, session.store_for(request.node))


# The fixtures below are thin: their bodies live in modules that load when a test asks for them.


@pytest.fixture
def cpu_env(request: pytest.FixtureRequest) -> Iterator[CpuEnv]:
    """Threads, affinity, gc policy and seeds for this test; all restored afterwards.

    Configure with ``@pytest.mark.causal_eval(threads=2, affinity="0-1", gc="frozen", seed=0)`` or
    ``cpu_env.configure(threads=2, ...)``. Recorded in ``measurement.extra["cpu_env"]`` when on.
    """
    from pytest_causal_eval.environment.fixtures import cpu_env_fixture

    yield from cpu_env_fixture(request)


@pytest.fixture
def gpu_env(request: pytest.FixtureRequest) -> Iterator[GpuEnv]:
    """CUDA device, memory fraction, TF32/cudnn/determinism switches and autocast precision.

    Skipped when CUDA is absent (failed under ``--causal-eval-require-gpu``); one GPU per xdist
    worker; the test's measurements are timed with CUDA events when the plugin is on.
    """
    from pytest_causal_eval.environment.fixtures import gpu_env_fixture

    yield from gpu_env_fixture(request)


@pytest.fixture(scope="session")
def causal_engine_pool(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnginePool]:
    """The session's engines, servers and caches (what ``causal_engine`` builds from); closed at the end."""
    from pytest_causal_eval.engine.fixture import engine_pool_fixture

    yield from engine_pool_fixture(request, tmp_path_factory)


@pytest.fixture
def causal_engine(
    request: pytest.FixtureRequest, causal_engine_pool: EnginePool
) -> Callable[..., EngineHandle]:
    """``causal_engine(model, *, task, batch_size, executor, cache, http, **model_args)``: an engine
    handle bound to the session (see ``pytest_causal_eval.engine.fixture``)."""
    from pytest_causal_eval.engine.fixture import causal_engine_fixture

    return causal_engine_fixture(request, causal_engine_pool)
