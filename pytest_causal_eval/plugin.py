"""pytest entry point: options, markers, the ``causal_bench`` fixture, and enabling the session.

Nothing here measures, writes or imports anything heavy unless ``--causal-eval`` (or the ini
option ``causal_eval = true``) is given.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_causal_eval import hookspecs
from pytest_causal_eval.features import feature_modules
from pytest_causal_eval.markers import (
    BENCHMARK_KEYS_KEY,
    ITEM_MARKERS_KEY,
    READ_BENCHMARK_MARKER_KEY,
    MarkerError,
    all_marker_keys,
    parse_item_markers,
)
from pytest_causal_eval.options import OPTION_ALIASES_KEY, add_options, all_option_specs, resolve_settings

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
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser) -> None:
    """Every installed plugin is registered now, the command line not yet parsed: without
    pytest-benchmark, accept its ``--benchmark-*`` options (as ours) and declare its hooks (so a
    conftest.py implementing them validates)."""
    if benchmark_plugin_active(early_config):
        return
    from pytest_causal_eval import benchmark_hookspecs
    from pytest_causal_eval.benchmark_options import ALIASES_KEY, add_aliases

    add_aliases(parser)
    early_config.pluginmanager.add_hookspecs(benchmark_hookspecs)
    early_config.stash[ALIASES_KEY] = True


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
    from pytest_causal_eval.porting.mapping import MARKER_KEYS as BENCHMARK_KEYS

    config.stash[BENCHMARK_KEYS_KEY] = BENCHMARK_KEYS
    if not benchmark_plugin_active(config):
        # pytest-benchmark's marker is ours to read (mapped to causal_eval's keys) and to declare
        config.stash[READ_BENCHMARK_MARKER_KEY] = True
        config.addinivalue_line(
            "markers",
            "benchmark(**options): pytest-benchmark's marker, read by causal-eval as causal_eval "
            "(group, min_rounds, max_time, min_time, timer, disable_gc, warmup)",
        )
    from pytest_causal_eval.benchmark_options import ALIASES_KEY, alias_result

    if config.stash.get(ALIASES_KEY, False):
        config.stash[OPTION_ALIASES_KEY] = alias_result(config)
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


def benchmark_plugin_active(config: pytest.Config) -> bool:
    """Whether pytest-benchmark's plugin is registered in this run (not blocked with -p no:benchmark,
    not left out by PYTEST_DISABLE_PLUGIN_AUTOLOAD)."""
    return any(
        getattr(plugin, "__name__", "").startswith("pytest_benchmark")
        for plugin in config.pluginmanager.get_plugins()
    )


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: only the tests that run are parsed
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Parse each test's markers once, into its stash; a bad key or value stops the run here,
    naming the test and the key."""
    read_benchmark = config.stash.get(READ_BENCHMARK_MARKER_KEY, False)
    keys = config.stash.get(BENCHMARK_KEYS_KEY, None)
    errors: list[str] = []
    ignored: dict[str, tuple[str, int]] = {}
    for item in items:
        try:
            parsed = parse_item_markers(item, read_benchmark=read_benchmark, benchmark_keys=keys)
        except MarkerError as exc:
            errors.append(f"{item.nodeid}: {exc}")
            continue
        item.stash[ITEM_MARKERS_KEY] = parsed
        for key, why in parsed.ignored.items():
            ignored[key] = (why, ignored.get(key, ("", 0))[1] + 1)
    if errors:
        shown = errors[:10] + ([f"... and {len(errors) - 10} more"] if len(errors) > 10 else [])
        raise pytest.UsageError("bad marker arguments:\n  " + "\n  ".join(shown))
    config.stash[IGNORED_BENCHMARK_KEYS] = ignored


IGNORED_BENCHMARK_KEYS = pytest.StashKey[dict[str, tuple[str, int]]]()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker: the ignored marker keys it found at collection go to the controller (the
    controller collects nothing; see ``pytest_testnodedown``)."""
    config = session.config
    output = getattr(config, "workeroutput", None)
    if output is not None and SESSION_KEY in config.stash:
        ignored = config.stash.get(IGNORED_BENCHMARK_KEYS, {})
        output[IGNORED_OUTPUT_KEY] = json.dumps({k: list(v) for k, v in ignored.items()})


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: every worker collects the whole suite, so each reports the same keys and
    counts; they are merged (not added up)."""
    raw = (getattr(node, "workeroutput", None) or {}).get(IGNORED_OUTPUT_KEY)
    if not raw:
        return
    config = node.config
    merged = dict(config.stash.get(IGNORED_BENCHMARK_KEYS, {}))
    for key, (why, count) in json.loads(raw).items():
        merged[key] = (str(why), max(int(count), merged.get(key, ("", 0))[1]))
    config.stash[IGNORED_BENCHMARK_KEYS] = merged


IGNORED_OUTPUT_KEY = "causal_eval_ignored_benchmark_keys"


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Once per run, on the controller (when measuring), in the summary (shown with -q too, unlike
    the header): what the ``--benchmark-*`` options given became and which are not used and why,
    the pytest-benchmark marker keys that have no equivalent, and the pytest-benchmark hooks
    implemented here, which nothing calls."""
    if SESSION_KEY not in config.stash or hasattr(config, "workerinput"):
        return
    lines = _benchmark_leftovers(config)
    if lines:
        terminalreporter.write_sep("-", "causal-eval: left from pytest-benchmark")
        for line in lines:
            terminalreporter.write_line(line)


def _benchmark_leftovers(config: pytest.Config) -> list[str]:
    aliases = config.stash.get(OPTION_ALIASES_KEY, None)
    lines = [f"causal-eval: {note}" for note in aliases.notes] if aliases is not None else []
    ignored = config.stash.get(IGNORED_BENCHMARK_KEYS, {})
    lines += [
        f"causal-eval: @pytest.mark.benchmark({key}=...) is not used "
        f"({count} test{'s' if count > 1 else ''}): {why}"
        for key, (why, count) in sorted(ignored.items())
    ]
    from pytest_causal_eval.benchmark_options import ALIASES_KEY

    if config.stash.get(ALIASES_KEY, False):
        from pytest_causal_eval.benchmark_hookspecs import HOOK_NAMES
        from pytest_causal_eval.porting.mapping import HOOKS

        for name in HOOK_NAMES:
            impls = getattr(config.hook, name).get_hookimpls()
            if impls:
                where = ", ".join(sorted({impl.plugin_name.rpartition("/")[2] for impl in impls}))
                lines.append(
                    f"causal-eval: {name} ({where}) is pytest-benchmark's hook and is never called "
                    f"without it: {HOOKS[name]}"
                )
    return lines


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
        yield InertBench(request.node)
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
