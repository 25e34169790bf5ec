"""pytest entry point: options, markers, the ``causal_bench`` fixture, and enabling the session.

Nothing here measures, writes or imports anything heavy unless ``--causal-eval`` (or the ini
option ``causal_eval = true``) is given.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_causal_eval import hookspecs
from pytest_causal_eval.features import FIXTURE_MODULES, feature_modules
from pytest_causal_eval.markers import SESSION_KEY, all_marker_keys
from pytest_causal_eval.options import add_options, all_option_specs, resolve_settings

if TYPE_CHECKING:
    from pytest_causal_eval.bench import CausalBench, InertBench

SESSION_PLUGIN_NAME = "causal_eval_session"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)
    for name in FIXTURE_MODULES:
        if pluginmanager.get_plugin(name) is None:
            pluginmanager.register(importlib.import_module(name), name)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser, all_option_specs())


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
