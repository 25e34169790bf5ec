"""The mapping tables cover pytest-benchmark's whole public surface (the installed version's)."""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

import pytest

from pytest_causal_eval.porting.mapping import ATTRIBUTES, HOOKS, MARKER_KEYS, OPTIONS, PEDANTIC_POSITIONAL

plugin = pytest.importorskip("pytest_benchmark.plugin")
hookspec = pytest.importorskip("pytest_benchmark.hookspec")
fixture = pytest.importorskip("pytest_benchmark.fixture")


def _their_options() -> list[str]:
    names: list[str] = []

    class Group:
        def addoption(self, *flags: str, **_: Any) -> None:
            names.extend(flags)

    class Parser:
        def getgroup(self, *_: Any, **__: Any) -> Group:
            return Group()

    plugin.pytest_addoption(Parser())
    return names


def test_every_option_has_a_rule() -> None:
    theirs = {name.removeprefix("--benchmark-") for name in _their_options()}
    assert theirs - set(OPTIONS) == set()


def test_every_hook_has_advice() -> None:
    theirs = {name for name in dir(hookspec) if name.startswith("pytest_benchmark_")}
    assert theirs == set(HOOKS)


def test_every_marker_key_has_a_rule() -> None:
    """The keys pytest-benchmark's marker accepts are the tuple its setup hook checks against."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(plugin.pytest_runtest_setup)))
    tuples = [n for n in ast.walk(tree) if isinstance(n, ast.Tuple) and len(n.elts) > 5]
    allowed = {e.value for e in tuples[0].elts if isinstance(e, ast.Constant)}
    assert allowed == set(MARKER_KEYS)


def test_pedantic_order_and_public_attributes_match() -> None:
    params = list(inspect.signature(fixture.BenchmarkFixture.pedantic).parameters)[1:]
    assert tuple(params) == PEDANTIC_POSITIONAL
    init = ast.parse(textwrap.dedent(inspect.getsource(fixture.BenchmarkFixture.__init__)))
    assigned = {
        n.attr for n in ast.walk(init) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)
    }
    methods = set(vars(fixture.BenchmarkFixture))
    public = {n for n in assigned | methods if not n.startswith("_")}
    # cprofile* settings are internal options, not the fixture's user-facing surface
    public -= {"cprofile", "cprofile_loops", "cprofile_dump"}
    assert public - set(ATTRIBUTES) == set()
