"""The package's import graph, read from the source with ``ast`` (nothing is imported).

Every import statement counts wherever it is written: at module level, inside a function or a
method, or under ``if TYPE_CHECKING:`` (an import inside a function hides a cycle, it does not
remove it; a type-only import is still a dependency of the module's meaning). Relative imports
are resolved against the importing module; ``from package import name`` is an edge to the
submodule ``package.name`` when there is one, else to the package. Importing ``a.b.c`` also
runs ``a/__init__`` and ``a/b/__init__``; those implicit edges are left out, as import linters
do: a package importing its own submodules is not a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

Graph = dict[str, set[str]]


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package under ``root`` (the package's folder), by dotted name."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join([package, *parts])] = path
    return found


def _resolve(name: str, modules: Mapping[str, Path]) -> str | None:
    """The longest known module that ``name`` starts with (``pkg.mod.Class`` -> ``pkg.mod``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(name: str, path: Path, modules: Mapping[str, Path]) -> set[str]:
    """The package modules that module ``name`` (the file ``path``) imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    edges: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name, modules)
                if target is not None:
                    edges.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = here[: len(here) - (node.level - 1)] if node.level > 1 else list(here)
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                target = _resolve(f"{base}.{alias.name}", modules) if alias.name != "*" else None
                if target is None or target != f"{base}.{alias.name}":
                    target = _resolve(base, modules)
                if target is not None:
                    edges.add(target)
    edges.discard(name)
    return edges


def import_graph(root: Path, package: str) -> Graph:
    """Module -> the package modules it imports."""
    modules = module_names(root, package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph.get(start, ())))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop(0)
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def shortest_cycle(graph: Mapping[str, Iterable[str]], members: Iterable[str]) -> list[str]:
    """One shortest cycle through the first of ``members`` (a component), as a closed path."""
    inside = set(members)
    start = min(inside)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in sorted(graph.get(node, ())):
                if nxt not in inside:
                    continue
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    return [start]  # pragma: no cover - a component always has a cycle through each member


def describe_cycles(graph: Mapping[str, Iterable[str]], components: list[list[str]]) -> str:
    """One line per component: its size and a shortest cycle in it."""
    return "\n".join(f"{len(c)} modules, e.g. {' -> '.join(shortest_cycle(graph, c))}" for c in components)


def subgraph(graph: Mapping[str, Iterable[str]], prefix: str) -> Graph:
    """The modules under ``prefix`` (the package itself included) and the edges among them."""

    def under(name: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    return {m: {t for t in targets if under(t)} for m, targets in graph.items() if under(m)}
