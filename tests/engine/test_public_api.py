"""``pytest_causal_eval.engine``: a curated public API that costs nothing to import."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest_causal_eval.engine as engine

ROOT = Path(__file__).resolve().parents[2]
FACADE = Path(engine.__file__)


def _type_checking_imports() -> dict[str, str]:
    """What the ``if TYPE_CHECKING:`` block of the facade imports: name -> module."""
    tree = ast.parse(FACADE.read_text(encoding="utf-8"))
    block = next(
        node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    return {
        alias.name: node.module or ""
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_every_public_name_loads_from_the_module_that_defines_it() -> None:
    where = engine._WHERE
    assert set(engine.__all__) == set(where) == set(_type_checking_imports())
    assert _type_checking_imports() == where
    for name in engine.__all__:
        assert getattr(engine, name) is getattr(importlib.import_module(where[name]), name), name
    assert set(engine.__all__) <= set(dir(engine))


def test_an_unknown_name_is_an_attribute_error_and_submodules_still_import() -> None:
    try:
        engine.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:  # pragma: no cover - the assertion below explains
        raise AssertionError("engine.NoSuchThing did not raise AttributeError")
    from pytest_causal_eval.engine import errors

    assert errors.EngineError is engine.EngineError


def test_importing_the_engine_loads_nothing_but_the_facade() -> None:
    """No numpy, no optional dependency, no engine module: the names load when first used."""
    code = (
        "import sys, json; import pytest_causal_eval.engine as e; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy', 'torch', 'httpx', 'starlette', 'redis', 'ray', 'transformers', 'sqlite3', 'asyncio') "
        "or m.startswith('pytest_causal_eval.engine.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def _facade_names_used(text: str, package: list[str] | None = None) -> set[str]:
    """Names imported from the facade: ``from pytest_causal_eval.engine import ...``, or the same
    written relative to ``package`` (the importing module's package, as dotted parts)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = node.module or ""
        if node.level and package is not None:
            module = ".".join([*package[: len(package) - node.level + 1], *([module] if module else [])])
        if module == "pytest_causal_eval.engine":
            names.update(alias.name for alias in node.names)
    return names


def test_every_name_the_project_imports_from_the_engine_is_public() -> None:
    """The README, suites, benchmarks, tests and the package itself import only public names."""
    used: dict[str, set[str]] = {}
    for folder in ("pytest_causal_eval", "suites", "benchmarks", "tests", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            package = list(path.relative_to(ROOT).parent.parts)
            for name in _facade_names_used(path.read_text(encoding="utf-8"), package):
                used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for line in re.findall(r"^from pytest_causal_eval\.engine import .*$", readme, flags=re.MULTILINE):
        for name in _facade_names_used(line):
            used.setdefault(name, set()).add("README.md")
    assert {"Evaluator", "create_model", "create_task", "load_dataset", "free_port"} <= set(used)
    assert {"EngineError", "EvalResult"} <= {n for n, files in used.items() if any("cli" in f for f in files)}
    here = FACADE.parent
    submodules = {p.stem for p in here.glob("*.py")} | {p.name for p in here.iterdir() if p.is_dir()}
    private = {
        n: sorted(files) for n, files in used.items() if n not in engine.__all__ and n not in submodules
    }
    assert private == {}
