"""The package's import graph has no cycles, and the engine is a library the plugin uses.

Every import counts: module level, inside functions and under ``if TYPE_CHECKING:`` (see
:mod:`importgraph`). A failure prints one shortest cycle per strongly connected component.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import pytest_causal_eval

from .importgraph import Graph, describe_cycles, import_graph, strongly_connected, subgraph

PACKAGE = "pytest_causal_eval"
ENGINE = f"{PACKAGE}.engine"
#: The engine's pytest side (the ``causal_engine`` fixture): it may use the plugin's parts.
ENGINE_PYTEST_SIDE = f"{ENGINE}.fixture"
#: The plugin's features and machinery: the engine (its pytest side apart) imports none of them.
PLUGIN_SIDE = tuple(
    f"{PACKAGE}.{name}"
    for name in (
        "ab",
        "baseline",
        "bench",
        "environment",
        "history",
        "markers",
        "options",
        "plugin",
        "profiling",
        "report",
        "session",
    )
)
#: Everything the engine (its pytest side apart) may import from the rest of the package.
ENGINE_MAY_IMPORT = frozenset({f"{PACKAGE}.atomicio"})  # the torch checkpoint is written atomically

#: The engine's layers: what each part may import from the rest of the engine (besides itself). The
#: facade (``engine/__init__``) is for users; nothing inside the engine imports it.
ENGINE_LAYERS: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "redaction": frozenset(),
    "data": frozenset({"errors"}),
    "causal": frozenset({"errors", "data"}),
    "models": frozenset({"errors", "redaction", "data", "causal"}),
    "serving": frozenset({"errors", "data", "models"}),
    "run": frozenset({"errors", "redaction", "data", "models"}),
    "fixture": frozenset({"errors", "redaction", "data", "causal", "models", "serving", "run"}),
}

#: The core: what every feature may import, and which imports no feature.
CORE = tuple(
    f"{PACKAGE}.{name}"
    for name in (
        "atomicio",
        "bench",
        "extra_info",
        "extra_keys",
        "hookspecs",
        "markers",
        "measure",
        "numbers",
        "options",
        "results",
        "session",
        "stats",
    )
)
#: The entry point and the feature registry: they name the features (the registry by string).
CORE_WIRING = (f"{PACKAGE}.plugin", f"{PACKAGE}.features")

GRAPH = import_graph(Path(pytest_causal_eval.__file__).parent, PACKAGE)


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def cycles_through(graph: Graph, scope: str) -> str:
    """The import cycles (of the whole graph) with a module under ``scope``, described; "" if none."""
    components = [c for c in strongly_connected(graph) if any(_under(m, scope) for m in c)]
    return describe_cycles(graph, components)


@pytest.mark.parametrize("scope", [pytest.param(ENGINE, id="engine"), pytest.param(PACKAGE, id="package")])
def test_no_import_cycles(scope: str) -> None:
    found = cycles_through(GRAPH, scope)
    assert found == "", f"import cycles through {scope}:\n{found}"


def test_the_core_imports_no_feature() -> None:
    """The core (results, the session, measuring, statistics and what they stand on) knows no feature:
    a feature publishes into the session's results through the hooks (``hookspecs``)."""
    core = {m: targets for m, targets in GRAPH.items() if any(_under(m, c) for c in CORE)}
    assert set(CORE) <= set(core), "a core module was renamed: update CORE"
    upward = sorted(f"{m} -> {t}" for m, targets in core.items() for t in targets if _feature(t))
    assert upward == []


def _feature(module: str) -> bool:
    return module != PACKAGE and not any(_under(module, c) for c in (*CORE, *CORE_WIRING))


def test_the_engine_imports_nothing_from_the_plugin_side() -> None:
    library = {m: targets for m, targets in GRAPH.items() if _under(m, ENGINE)}
    assert library, f"no modules found under {ENGINE}"
    upward = sorted(
        f"{m} -> {t}"
        for m, targets in library.items()
        if not _under(m, ENGINE_PYTEST_SIDE)
        for t in targets
        if any(_under(t, side) for side in PLUGIN_SIDE)
    )
    assert upward == []
    outside = sorted(
        f"{m} -> {t}"
        for m, targets in library.items()
        if not _under(m, ENGINE_PYTEST_SIDE)
        for t in targets
        if not _under(t, ENGINE) and t not in ENGINE_MAY_IMPORT
    )
    assert outside == []


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    """Function-level, TYPE_CHECKING, relative and ``from package import submodule`` imports are edges."""
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "def f():\n    from pkg.b import thing\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub import c\n",
        "sub/__init__.py": "from .. import d  # a submodule, not a name of the package\n",
        "sub/c.py": "import pkg.a\n",
        "d.py": "from pkg import sub\n",
        "e.py": "from pkg.sub.c import name_in_c\nimport os\n",
    }
    for rel, text in files.items():
        (root / rel).write_text(text)
    graph = import_graph(root, "pkg")
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.sub.c"},
        "pkg.d": {"pkg.sub"},
        "pkg.e": {"pkg.sub.c"},
        "pkg.sub": {"pkg.d"},
        "pkg.sub.c": {"pkg.a"},
    }
    assert strongly_connected(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"], ["pkg.d", "pkg.sub"]]
    assert describe_cycles(graph, strongly_connected(graph)) == (
        "3 modules, e.g. pkg.a -> pkg.b -> pkg.sub.c -> pkg.a\n2 modules, e.g. pkg.d -> pkg.sub -> pkg.d"
    )
    assert cycles_through(graph, "pkg.sub.c").startswith("3 modules")
    assert cycles_through(subgraph(graph, "pkg.sub"), "pkg.sub") == ""  # the d edge leaves pkg.sub


def _part(module: str) -> str | None:
    """The engine part (subpackage or root module) of ``module``; None for the facade and outside."""
    if not _under(module, ENGINE) or module == ENGINE:
        return None
    return module[len(ENGINE) + 1 :].split(".")[0]


def test_the_engine_parts_import_only_downwards() -> None:
    parts = {_part(m) for m in GRAPH} - {None}
    assert parts == set(ENGINE_LAYERS), "a new engine part needs its line in ENGINE_LAYERS (and the README)"
    upward = sorted(
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        if (part := _part(m)) is not None
        for t in targets
        if _under(t, ENGINE) and _part(t) != part and _part(t) not in ENGINE_LAYERS[part]
    )
    assert upward == []
