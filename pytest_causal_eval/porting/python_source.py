"""Port one Python file of a pytest-benchmark suite by editing exact source spans.

What changes (everything else, comments and formatting included, stays byte for byte):

- the fixture ``benchmark`` becomes ``causal_bench``: parameters of test functions (``test*`` at
  module level or in ``Test*`` classes) and fixtures, every use of that parameter in the function
  (closures included; a nested scope that rebinds the name is left alone), a fixture overriding
  ``benchmark``, ``usefixtures("benchmark")``, ``getfixturevalue("benchmark")``, ``"benchmark" in
  item.fixturenames`` and ``item.funcargs["benchmark"]``;
- ``@pytest.mark.benchmark(...)`` becomes ``@pytest.mark.causal_eval(...)`` with its keys mapped
  (``mapping.MARKER_KEYS``); keys without an equivalent are removed and reported;
- ``benchmark.pedantic`` arguments after ``setup`` are passed by keyword (pytest-benchmark has
  ``teardown`` in fifth place); ``await benchmark(fn, ...)`` in an async function becomes
  ``await causal_bench.aio(fn, ...)``, which times the awaited coroutine;
- ``from pytest_benchmark.fixture import BenchmarkFixture`` (type annotations) becomes
  ``from pytest_causal_eval import CausalBench``; ``pytest.importorskip("pytest_benchmark")``
  becomes ``pytest.importorskip("pytest_causal_eval")``;
- ``pytest_benchmark_*`` hook implementations are kept, marked ``@pytest.hookimpl(optionalhook=True)``
  and reported with what to use instead.

A helper function that merely takes a ``benchmark`` argument keeps its parameter name (a caller
may pass it by keyword); its uses are still checked.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pytest_causal_eval.porting.edits import Edit, SourceIndex, apply_edits
from pytest_causal_eval.porting.findings import Finding, PortParseError
from pytest_causal_eval.porting.mapping import (
    ATTRIBUTES,
    FIXTURE,
    HOOKS,
    MARKER,
    MARKER_KEYS,
    OPTIONS,
    PEDANTIC_POSITIONAL,
    PLUGIN_MODULE,
    READ_ONLY_ATTRIBUTES,
    TARGET_FIXTURE,
    TARGET_MARKER,
    TARGET_TYPE,
    TARGET_TYPE_MODULE,
)

__all__ = ["port_python"]

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_MARKER_READERS = ("get_closest_marker", "iter_markers", "iter_markers_with_node")
_BENCH_TYPE = "BenchmarkFixture"


def port_python(label: str, text: str) -> tuple[str, list[Finding]]:
    """The ported source of one Python file and what to report; raises ``PortParseError``."""
    tree = _parse(label, text)
    porter = _Porter(label, text, tree)
    porter.run()
    new_text = apply_edits(text, porter.edits)
    if new_text != text:
        try:
            ast.parse(new_text)
        except SyntaxError as exc:  # pragma: no cover - a bug in the span logic: refuse, never corrupt
            return text, [
                Finding(label, exc.lineno or 1, f"the port produced invalid code ({exc.msg}); unchanged")
            ]
    return new_text, sorted(set(porter.findings))


def _parse(label: str, text: str) -> ast.Module:
    try:
        return ast.parse(text, filename=label)
    except SyntaxError as exc:
        raise PortParseError(label, exc.lineno, exc.msg) from None
    except ValueError as exc:  # null bytes
        raise PortParseError(label, None, str(exc)) from None


@dataclass
class _Names:
    """How this module spells pytest's parts (``import pytest as pt``, ``from pytest import mark``)."""

    pytest: set[str] = field(default_factory=set)
    mark: set[str] = field(default_factory=set)
    fixture: set[str] = field(default_factory=set)
    hookimpl: set[str] = field(default_factory=set)
    fixture_modules: set[str] = field(default_factory=set)


class _Porter:
    def __init__(self, label: str, text: str, tree: ast.Module) -> None:
        self.label = label
        self.text = text
        self.tree = tree
        self.index = SourceIndex(text)
        self.edits: list[Edit] = []
        self.findings: list[Finding] = []
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.names = self._names()
        self.quote = self._quote_style()
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self.import_added = False
        self.unguarded_stats: list[tuple[ast.Attribute, str]] = []

    # -- helpers -----------------------------------------------------------------------------------
    def start(self, node: ast.AST) -> int:
        return self.index.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]

    def end(self, node: ast.AST) -> int:
        return self.index.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]

    def report(self, node: ast.AST, message: str, ported: bool = False) -> None:
        self.findings.append(Finding(self.label, getattr(node, "lineno", 1), message, ported))

    def replace(self, node: ast.AST, text: str) -> None:
        self.edits.append(Edit(self.start(node), self.end(node), text))

    def q(self, value: str) -> str:
        return f"{self.quote}{value}{self.quote}"

    def _names(self) -> _Names:
        names = _Names()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "pytest":
                        names.pytest.add(alias.asname or "pytest")
                    elif alias.name == "pytest_asyncio":
                        names.fixture_modules.add(alias.asname or "pytest_asyncio")
            elif isinstance(node, ast.ImportFrom) and node.module in ("pytest", "pytest_asyncio"):
                for alias in node.names:
                    bound = alias.asname or alias.name
                    if alias.name == "fixture":
                        names.fixture.add(bound)
                    elif node.module == "pytest" and alias.name == "mark":
                        names.mark.add(bound)
                    elif node.module == "pytest" and alias.name == "hookimpl":
                        names.hookimpl.add(bound)
        names.fixture_modules |= names.pytest
        return names

    def _quote_style(self) -> str:
        doubles = singles = 0
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and hasattr(node, "lineno"):
                first = self.text[self.start(node) : self.start(node) + 1]
                doubles += first == '"'
                singles += first == "'"
        return "'" if singles > doubles else '"'

    def is_mark(self, node: ast.AST, name: str) -> bool:
        """``pytest.mark.<name>`` or ``mark.<name>`` (as this module spells them)."""
        if not isinstance(node, ast.Attribute) or node.attr != name:
            return False
        base = node.value
        if isinstance(base, ast.Name):
            return base.id in self.names.mark
        return (
            isinstance(base, ast.Attribute)
            and base.attr == "mark"
            and isinstance(base.value, ast.Name)
            and base.value.id in self.names.pytest
        )

    def is_fixture_decorator(self, dec: ast.expr) -> bool:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Name):
            return target.id in self.names.fixture
        return (
            isinstance(target, ast.Attribute)
            and target.attr == "fixture"
            and isinstance(target.value, ast.Name)
            and target.value.id in self.names.fixture_modules
        )

    def is_hookimpl(self, dec: ast.expr) -> bool:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Name):
            return target.id in self.names.hookimpl
        return (
            isinstance(target, ast.Attribute)
            and target.attr == "hookimpl"
            and isinstance(target.value, ast.Name)
            and target.value.id in self.names.pytest
        )

    def string_is(self, node: ast.AST | None, value: str) -> bool:
        return isinstance(node, ast.Constant) and node.value == value

    def replace_string(self, node: ast.Constant, new: str) -> None:
        start, end = self.start(node), self.end(node)
        segment = self.text[start:end]
        if (
            len(segment) >= 2
            and segment[0] in "'\""
            and segment[-1] == segment[0]
            and segment[1:-1] == node.value
        ):
            self.edits.append(Edit(start + 1, end - 1, new))
        else:
            self.report(
                node, f"the string {node.value!r} is written in a form the port cannot edit: make it {new!r}"
            )

    # -- the passes --------------------------------------------------------------------------------
    def run(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Attribute) and self.is_mark(node, MARKER):
                self.port_marker(node)
            elif isinstance(node, ast.Call):
                self.port_call_strings(node)
            elif isinstance(node, ast.Compare):
                self.port_fixturenames_test(node)
            elif isinstance(node, ast.Subscript):
                self.port_funcargs_subscript(node)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                self.port_import(node)
        for node in ast.walk(self.tree):
            if isinstance(node, _FUNCTIONS):
                self.port_function(node)
        if self.unguarded_stats:
            node, new = min(self.unguarded_stats, key=lambda found: self.start(found[0]))
            self.report(
                node,
                f"{new}.stats is None without --causal-eval (plain pytest runs each workload once), "
                f"as pytest-benchmark's is when disabled: read it under `if not {new}.disabled:`",
                ported=True,
            )

    # -- markers -----------------------------------------------------------------------------------
    def port_marker(self, attr: ast.Attribute) -> None:
        end = self.end(attr)
        self.edits.append(Edit(end - len(MARKER), end, TARGET_MARKER))
        call = self.parents.get(attr)
        if not isinstance(call, ast.Call) or call.func is not attr:
            return
        if call.args:
            self.report(
                call, f"@pytest.mark.{MARKER} takes keyword arguments only; positional ones were left"
            )
        doomed: list[ast.AST] = []
        for kw in call.keywords:
            if kw.arg is None:
                self.report(kw, f"**{ast.unparse(kw.value)} in @pytest.mark.{MARKER}: map its keys by hand")
                continue
            rule = MARKER_KEYS.get(kw.arg)
            if rule is None:
                self.report(
                    kw, f"@pytest.mark.{MARKER} key {kw.arg!r} is not one pytest-benchmark knows; left"
                )
            elif rule.target is None:
                self.report(kw, f"marker key {kw.arg}={ast.unparse(kw.value)} dropped: {rule.reason}")
                doomed.append(kw)
            elif rule.if_true is not None and rule.if_false is not None:
                self.port_bool_key(kw, rule.target, rule.if_true, rule.if_false)
            elif rule.target != kw.arg:
                start = self.start(kw)
                self.edits.append(Edit(start, start + len(kw.arg), rule.target))
        if doomed:
            self.delete_elements(call, [*call.args, *call.keywords], doomed)

    def port_bool_key(self, kw: ast.keyword, target: str, if_true: str, if_false: str) -> None:
        value = kw.value
        if isinstance(value, ast.Constant) and isinstance(value.value, bool):
            self.replace(kw, f"{target}={self.q(if_true if value.value else if_false)}")
            return
        self.edits.append(Edit(self.start(kw), self.start(value), f"{target}=({self.q(if_true)} if "))
        self.edits.append(Edit(self.end(value), self.end(value), f" else {self.q(if_false)})"))

    def delete_elements(self, call: ast.Call, elements: list[ast.AST], doomed: list[ast.AST]) -> None:
        """Remove some arguments of a call with their commas; a removed argument alone on its
        line(s) takes the line (and its comment) with it."""
        ordered = sorted(elements, key=lambda n: (n.lineno, n.col_offset))  # type: ignore[attr-defined]
        marks = [e in doomed for e in ordered]
        k = 0
        while k < len(ordered):
            if not marks[k]:
                k += 1
                continue
            j = k
            while j + 1 < len(ordered) and marks[j + 1]:
                j += 1
            first, last = ordered[k], ordered[j]
            before = ordered[k - 1] if k > 0 else None
            after = ordered[j + 1] if j + 1 < len(ordered) else None
            self.edits.append(self.deletion(first, last, ordered[k : j + 1], before, after))
            k = j + 1

    def deletion(
        self, first: ast.AST, last: ast.AST, run: list[ast.AST], before: ast.AST | None, after: ast.AST | None
    ) -> Edit:
        first_line, last_line = first.lineno, last.end_lineno  # type: ignore[attr-defined]
        line_start = self.index.line_starts[first_line - 1]
        line_end = (
            self.index.line_starts[last_line] if last_line < len(self.index.line_starts) else len(self.text)
        )
        rest = self.text[line_start:line_end]
        for node in run:
            rest = rest.replace(self.text[self.start(node) : self.end(node)], "", 1)
        if re.fullmatch(r"[\s,]*", re.sub(r"#[^\n]*", "", rest)):
            return Edit(line_start, line_end, "")
        # Take the separator on the side that keeps a comment at the end of the line in place.
        if after is not None and (before is None or after.lineno == last.end_lineno):  # type: ignore[attr-defined]
            return Edit(self.start(first), self.start(after), "")
        if before is not None:
            return Edit(self.end(before), self.end(last), "")
        stop = self.end(last)
        trailing = re.match(r"\s*,", self.text[stop:])
        return Edit(self.start(first), stop + (trailing.end() if trailing else 0), "")

    # -- strings that name the fixture or the marker ------------------------------------------------
    def port_call_strings(self, call: ast.Call) -> None:
        func = call.func
        first = call.args[0] if call.args else None
        if self.is_mark(func, "usefixtures"):
            for arg in call.args:
                if self.string_is(arg, FIXTURE):
                    self.replace_string(arg, TARGET_FIXTURE)  # type: ignore[arg-type]
            return
        if not isinstance(func, ast.Attribute):
            return
        if (func.attr == "getfixturevalue" and self.string_is(first, FIXTURE)) or (
            func.attr == "get"
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "funcargs"
            and self.string_is(first, FIXTURE)
        ):
            self.replace_string(first, TARGET_FIXTURE)  # type: ignore[arg-type]
        elif func.attr in _MARKER_READERS:
            named = (
                first
                if first is not None
                else next((k.value for k in call.keywords if k.arg == "name"), None)
            )
            if self.string_is(named, MARKER):
                self.replace_string(named, TARGET_MARKER)  # type: ignore[arg-type]
                self.report(
                    call,
                    f"reads the {TARGET_MARKER} marker now: its keys are ours (disable_gc is gc, warmup is "
                    "auto/off)",
                    ported=True,
                )
        elif func.attr == "importorskip" and self.string_is(first, PLUGIN_MODULE):
            self.replace_string(first, TARGET_TYPE_MODULE)  # type: ignore[arg-type]
        elif func.attr in ("getoption", "getvalue") and isinstance(first, ast.Constant):
            self.report_option_read(call, first)

    def report_option_read(self, call: ast.Call, arg: ast.Constant) -> None:
        if not isinstance(arg.value, str):
            return
        name = arg.value.lstrip("-").replace("_", "-")
        if not name.startswith("benchmark-"):
            return
        rule = OPTIONS.get(name[len("benchmark-") :])
        hint = f"; the closest is {rule.target}" if rule is not None and rule.target else ""
        self.report(call, f"reads pytest-benchmark's option {arg.value!r}: not ported{hint}")

    def port_fixturenames_test(self, node: ast.Compare) -> None:
        if (
            self.string_is(node.left, FIXTURE)
            and len(node.ops) == 1
            and isinstance(node.ops[0], (ast.In, ast.NotIn))
            and isinstance(node.comparators[0], ast.Attribute)
            and node.comparators[0].attr in ("fixturenames", "funcargs")
        ):
            self.replace_string(node.left, TARGET_FIXTURE)  # type: ignore[arg-type]

    def port_funcargs_subscript(self, node: ast.Subscript) -> None:
        if (
            isinstance(node.value, ast.Attribute)
            and node.value.attr == "funcargs"
            and self.string_is(node.slice, FIXTURE)
        ):
            self.replace_string(node.slice, TARGET_FIXTURE)  # type: ignore[arg-type]

    # -- imports -----------------------------------------------------------------------------------
    def port_import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PLUGIN_MODULE or alias.name.startswith(PLUGIN_MODULE + "."):
                    self.report(node, f"imports {alias.name}: nothing of it is ported; remove the import")
            return
        module = node.module or ""
        if node.level or not (module == PLUGIN_MODULE or module.startswith(PLUGIN_MODULE + ".")):
            return
        names = [a.name for a in node.names]
        if module == f"{PLUGIN_MODULE}.fixture" and names == [_BENCH_TYPE]:
            as_name = node.names[0].asname
            self.replace(
                node,
                f"from {TARGET_TYPE_MODULE} import {TARGET_TYPE}" + (f" as {as_name}" if as_name else ""),
            )
            if as_name is None:
                self.rename_type_uses()
            return
        self.report(node, f"imports {', '.join(names)} from {module}: not ported; remove the import")

    def rename_type_uses(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and node.id == _BENCH_TYPE:
                self.replace(node, TARGET_TYPE)
            elif isinstance(node, ast.Constant) and node.value == _BENCH_TYPE:
                self.replace_string(node, TARGET_TYPE)

    # -- functions: the fixture parameter, fixture overrides, hooks ---------------------------------
    def port_function(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        is_fixture = any(self.is_fixture_decorator(d) for d in fn.decorator_list)
        if fn.name.startswith("pytest_benchmark_"):
            self.port_hook(fn)
        if is_fixture:
            self.port_fixture_name(fn)
        params = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
        for arg in params:
            if arg.arg == "benchmark_weave":
                self.report(
                    arg,
                    "the benchmark_weave fixture (aspectlib) is not supported: time the function "
                    "with causal_bench(fn, ...)",
                )
        param = next((a for a in params if a.arg == FIXTURE), None)
        if param is None:
            return
        uses = list(_uses(fn, FIXTURE, self))
        renamed = is_fixture or self.is_test(fn)
        if renamed and self.name_taken(fn, params):
            self.report(param, f"{fn.name} already uses the name {TARGET_FIXTURE}: rename {FIXTURE} by hand")
            renamed = False
        new = TARGET_FIXTURE if renamed else FIXTURE
        if renamed:
            start = self.start(param)
            self.edits.append(Edit(start, start + len(FIXTURE), TARGET_FIXTURE))
        for use in uses:
            if not self.port_use(use, new) and renamed:
                self.replace(use, TARGET_FIXTURE)

    def is_test(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        parent = self.parents.get(fn)
        if not fn.name.startswith("test"):
            return False
        return isinstance(parent, ast.Module) or (
            isinstance(parent, ast.ClassDef) and parent.name.startswith("Test")
        )

    def name_taken(self, fn: ast.AST, params: list[ast.arg]) -> bool:
        if any(a.arg == TARGET_FIXTURE for a in params):
            return True
        return any(isinstance(n, ast.Name) and n.id == TARGET_FIXTURE for n in ast.walk(fn))

    def port_fixture_name(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        named: ast.Constant | None = None
        for dec in fn.decorator_list:
            if isinstance(dec, ast.Call) and self.is_fixture_decorator(dec):
                for kw in dec.keywords:
                    if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                        named = kw.value
        if named is not None:
            if named.value != FIXTURE:
                return
            self.replace_string(named, TARGET_FIXTURE)
        elif fn.name == FIXTURE:
            line = self.index.line_text(fn.lineno)
            col = len(line.encode("utf-8")[: fn.col_offset].decode("utf-8"))
            m = re.compile(rf"(?:async\s+)?def\s+({FIXTURE})\b").match(line, col)
            if m is None:
                self.report(fn, f"the fixture {FIXTURE} could not be renamed: rename it {TARGET_FIXTURE}")
                return
            start = self.index.line_starts[fn.lineno - 1] + m.start(1)
            self.edits.append(Edit(start, start + len(FIXTURE), TARGET_FIXTURE))
        else:
            return
        requested = {a.arg for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]}
        if FIXTURE not in requested:
            self.report(
                fn,
                f"the fixture {FIXTURE} defined here does not wrap pytest-benchmark's: renamed "
                f"{TARGET_FIXTURE}, it replaces the plugin's fixture; remove it if it was a stand-in",
            )

    def port_use(self, use: ast.Name, new: str) -> bool:
        """Port what is done with one use of the fixture; True when the use itself was rewritten."""
        parent = self.parents.get(use)
        if isinstance(parent, ast.Attribute) and parent.value is use:
            attr = parent.attr
            call = self.parents.get(parent)
            if attr == "pedantic" and isinstance(call, ast.Call) and call.func is parent:
                self.port_pedantic(call)
            elif attr in READ_ONLY_ATTRIBUTES and isinstance(parent.ctx, (ast.Store, ast.Del)):
                self.report(
                    parent, f"{FIXTURE}.{attr} cannot be set on causal_bench: {READ_ONLY_ATTRIBUTES[attr]}"
                )
            elif attr == "stats" and not self.guarded(parent, use.id):
                self.unguarded_stats.append((parent, new))  # said once a file, at the first (run)
            elif attr in ATTRIBUTES and ATTRIBUTES[attr] is not None:
                self.report(parent, f"{FIXTURE}.{attr}: {ATTRIBUTES[attr]}")
            elif attr.startswith("_"):
                self.report(parent, f"{FIXTURE}.{attr} is private to pytest-benchmark: no equivalent")
            return False
        if (
            isinstance(parent, ast.Call)
            and parent.func is use
            and isinstance(self.parents.get(parent), ast.Await)
        ):
            self.replace(use, f"{new}.aio")
            self.report(
                parent,
                f"await {FIXTURE}(fn, ...) became await {new}.aio(fn, ...): it now times the awaited "
                "coroutine (pytest-benchmark timed only creating it)",
                ported=True,
            )
            return True
        return False

    def guarded(self, node: ast.AST, name: str) -> bool:
        """Whether ``node`` is read only when measuring: under a condition (``if``, ``x if c else
        y``, ``and``/``or``) that reads ``name.disabled`` or ``name.enabled``, or after an ``if``
        on them that leaves the block (``return``, ``raise``, ``pytest.skip(...)``)."""
        child, parent = node, self.parents.get(node)
        while parent is not None:
            tests: list[ast.AST] = []
            if isinstance(parent, (ast.If, ast.IfExp, ast.While)) and child is not parent.test:
                tests.append(parent.test)
            elif isinstance(parent, ast.BoolOp):
                tests.extend(v for v in parent.values if v is not child)
            for block in (getattr(parent, "body", None), getattr(parent, "orelse", None)):
                if isinstance(block, list) and child in block:
                    tests.extend(
                        earlier.test
                        for earlier in block[: block.index(child)]
                        if isinstance(earlier, ast.If) and _leaves(earlier.body)
                    )
            if any(_reads_switch(test, name) for test in tests):
                return True
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return False
            child, parent = parent, self.parents.get(parent)
        return False

    def port_pedantic(self, call: ast.Call) -> None:
        """Arguments after ``setup`` go by keyword; a positional ``teardown`` of None (the default)
        is left out."""
        for k, arg in enumerate(call.args):
            if k == 4 and isinstance(arg, ast.Constant) and arg.value is None:
                self.delete_elements(call, [*call.args, *call.keywords], [arg])
                continue
            if isinstance(arg, ast.Starred):
                self.report(
                    arg, f"*{ast.unparse(arg.value)} in {FIXTURE}.pedantic: pass its arguments by keyword"
                )
                return
            if k >= 4 and k < len(PEDANTIC_POSITIONAL):
                start = self.start(arg)
                self.edits.append(Edit(start, start, f"{PEDANTIC_POSITIONAL[k]}="))

    def port_hook(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        advice = HOOKS.get(fn.name)
        what = (
            f"hook {fn.name} has no equivalent"
            if advice
            else f"{fn.name} is not a pytest-benchmark hook we know"
        )
        self.report(
            fn,
            f"{what}; kept as @pytest.hookimpl(optionalhook=True), it is never called"
            + (f": {advice}" if advice else ""),
        )
        for dec in fn.decorator_list:
            if not self.is_hookimpl(dec):
                continue
            if isinstance(dec, ast.Call):
                if any(kw.arg == "optionalhook" for kw in dec.keywords):
                    return
                rest = [*dec.args, *dec.keywords]
                if rest:
                    at = max(self.end(n) for n in rest)
                    self.edits.append(Edit(at, at, ", optionalhook=True"))
                else:
                    at = self.end(dec) - 1
                    self.edits.append(Edit(at, at, "optionalhook=True"))
            else:
                self.edits.append(Edit(self.end(dec), self.end(dec), "(optionalhook=True)"))
            return
        first_line = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
        def_line = self.index.line_text(fn.lineno)
        indent = def_line[: len(def_line) - len(def_line.lstrip())]
        at = self.index.line_starts[first_line - 1]
        self.edits.append(
            Edit(at, at, f"{indent}@{self.hookimpl_spelling()}(optionalhook=True){self.newline}")
        )

    def hookimpl_spelling(self) -> str:
        if self.names.pytest:
            return f"{sorted(self.names.pytest)[0]}.hookimpl"
        if self.names.hookimpl:
            return sorted(self.names.hookimpl)[0]
        if not self.import_added:
            self.import_added = True
            at, blank_lines = self.import_position()
            self.edits.append(Edit(at, at, f"import pytest{self.newline * (1 + blank_lines)}"))
        return "pytest.hookimpl"

    def import_position(self) -> tuple[int, int]:
        """Where ``import pytest`` goes (after the docstring and ``from __future__`` imports), and
        how many blank lines should follow it."""
        body = self.tree.body
        k = 0
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            k = 1
        while k < len(body) and isinstance(body[k], ast.ImportFrom) and body[k].module == "__future__":  # type: ignore[attr-defined]
            k += 1
        if k < len(body):
            node = body[k]
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            blank = 0 if isinstance(node, (ast.Import, ast.ImportFrom)) else 2
            return self.index.line_starts[first - 1], blank
        last = body[-1].end_lineno if body else 0
        if last and last < len(self.index.line_starts):
            return self.index.line_starts[last], 0
        return len(self.text), 0


def _binds(scope: ast.AST, name: str) -> bool:
    """Whether a function, lambda or class body binds ``name`` in its own scope."""
    if isinstance(scope, (*_FUNCTIONS, ast.Lambda)):
        args = scope.args
        if any(a.arg == name for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]):
            return True
        if (args.vararg and args.vararg.arg == name) or (args.kwarg and args.kwarg.arg == name):
            return True
        if isinstance(scope, ast.Lambda):
            return any(isinstance(n, ast.NamedExpr) and n.target.id == name for n in _own_nodes(scope.body))
    roots: Iterable[ast.AST] = scope.body if isinstance(scope, (*_FUNCTIONS, ast.ClassDef)) else []
    for root in roots:
        for node in _own_nodes(root):
            if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, (ast.Store, ast.Del)):
                return True
            if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (a.asname or a.name.split(".")[0]) == name for a in node.names
            ):
                return True
            if isinstance(node, (*_FUNCTIONS, ast.ClassDef)) and node.name == name:
                return True
            if isinstance(node, ast.ExceptHandler) and node.name == name:
                return True
            if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
                return True
    return False


def _own_nodes(root: ast.AST) -> Iterator[ast.AST]:
    """Nodes of ``root`` in its own scope: not inside nested functions, lambdas, classes or
    comprehensions (whose names are their own), but their defaults and decorators are."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        if node is not root and isinstance(node, (*_FUNCTIONS, ast.Lambda, ast.ClassDef, *_COMPREHENSIONS)):
            stack.extend(_outer_parts(node))
            continue
        stack.extend(ast.iter_child_nodes(node))


def _outer_parts(node: ast.AST) -> list[ast.AST]:
    """The parts of a nested scope evaluated in the enclosing one."""
    parts: list[ast.AST] = []
    if isinstance(node, (*_FUNCTIONS, ast.Lambda)):
        args = node.args
        parts.extend(args.defaults)
        parts.extend(d for d in args.kw_defaults if d is not None)
        if not isinstance(node, ast.Lambda):
            parts.extend(node.decorator_list)
            parts.extend(
                a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs] if a.annotation
            )
            if node.returns is not None:
                parts.append(node.returns)
    elif isinstance(node, ast.ClassDef):
        parts.extend(node.decorator_list)
        parts.extend(node.bases)
        parts.extend(k.value for k in node.keywords)
    elif isinstance(node, _COMPREHENSIONS):
        parts.append(node.generators[0].iter)
    return parts


def _uses(fn: ast.AST, name: str, porter: _Porter) -> Iterator[ast.Name]:
    """The Name nodes in ``fn``'s body that refer to its parameter ``name``, closures included."""
    stack: list[ast.AST] = list(fn.body)  # type: ignore[attr-defined]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and node.id == name:
            yield node
            continue
        if isinstance(node, (*_FUNCTIONS, ast.Lambda, ast.ClassDef)):
            stack.extend(_outer_parts(node))
            if _binds(node, name):
                if isinstance(node, ast.ClassDef):
                    porter.report(node, f"class {node.name} rebinds {name}: rename its uses by hand")
                continue
            body = node.body if isinstance(node.body, list) else [node.body]
            stack.extend(body)
            continue
        if isinstance(node, _COMPREHENSIONS):
            targets = [n for g in node.generators for n in ast.walk(g.target)]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                stack.append(node.generators[0].iter)
                continue
        stack.extend(ast.iter_child_nodes(node))


def _reads_switch(test: ast.AST, name: str) -> bool:
    """Whether a condition reads ``name.disabled`` or ``name.enabled``."""
    return any(
        isinstance(sub, ast.Attribute)
        and sub.attr in ("disabled", "enabled")
        and isinstance(sub.value, ast.Name)
        and sub.value.id == name
        for sub in ast.walk(test)
    )


def _leaves(body: list[ast.stmt]) -> bool:
    """Whether a block ends by leaving (``return``, ``raise``, ``continue``, ``break``,
    ``pytest.skip(...)``/``xfail``/``fail``)."""
    last = body[-1] if body else None
    if isinstance(last, (ast.Return, ast.Raise, ast.Continue, ast.Break)):
        return True
    if not (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)):
        return False
    func = last.value.func
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return called in ("skip", "xfail", "fail", "exit")
