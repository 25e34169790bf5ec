"""GitHub Actions expressions (``${{ ... }}``): the part of the language our workflows use.

Literals, context paths (``github.event.pull_request.number``, ``steps.x.outputs['y']``), ``!``,
``==``/``!=``/``<``/``<=``/``>``/``>=`` (strings compared case-insensitively, as GitHub does),
``&&``/``||`` (returning an operand, so ``cond && 'a' || 'b'`` picks), parentheses, and the functions
``success() failure() always() cancelled() hashFiles() contains() startsWith() endsWith() format()
toJSON() fromJSON() join()``. Anything else is an error: a workflow that starts using more makes
the emulating test fail until this grows, rather than being read wrongly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ExpressionError", "evaluate", "evaluate_condition", "substitute", "to_text", "truthy"]


class ExpressionError(Exception):
    """An expression the emulator cannot read."""


_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\],.*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)

Functions = Mapping[str, Callable[..., Any]]


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"cannot read {text[pos:]!r} in {text!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and not (isinstance(value, float) and value != value)


def to_text(value: Any) -> str:
    """How a value reads when substituted into YAML text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    return str(value)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return float("nan")
    return float("nan")


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        a: Any = left.casefold()
        b: Any = right.casefold()
    elif type(left) is type(right) and not isinstance(left, (dict, list)):
        a, b = left, right
    elif isinstance(left, (dict, list)) or isinstance(right, (dict, list)):
        return (left is right) if op == "==" else (left is not right) if op == "!=" else False
    else:
        a, b = _number(left), _number(right)
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if a != a or b != b:  # NaN
        return False
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


class _Parser:
    def __init__(self, text: str, context: Mapping[str, Any], functions: Functions) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.context = context
        self.functions = functions

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"expected {value or 'more'} in {self.text!r}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()} in {self.text!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.comparison()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.comparison()
            value = right if truthy(value) else value
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() is not None and self.peek()[1] in ("==", "!=", "<", "<=", ">", ">="):  # type: ignore[index]
            op = self.take()[1]
            value = _compare(op, value, self.unary())
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "op" and value == "(":
            inner = self.or_()
            self.take(")")
            return inner
        if kind == "name":
            lowered = value.lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            if lowered == "null":
                return None
            if self.peek() == ("op", "("):
                return self.call(value)
            if value not in self.context:
                raise ExpressionError(f"unknown context {value!r} in {self.text!r}")
            return self.context[value]
        raise ExpressionError(f"unexpected {value!r} in {self.text!r}")

    def call(self, name: str) -> Any:
        self.take("(")
        args = []
        if self.peek() != ("op", ")"):
            args.append(self.or_())
            while self.peek() == ("op", ","):
                self.take()
                args.append(self.or_())
        self.take(")")
        function = self.functions.get(name.lower())
        if function is None:
            raise ExpressionError(f"function {name}() is not emulated ({self.text!r})")
        return function(*args)

    def postfix(self, value: Any) -> Any:
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                kind, key = self.take()
                if kind != "name":
                    raise ExpressionError(f"expected a property name in {self.text!r}")
            else:
                key = self.or_()
                self.take("]")
            value = _index(value, key)
        return value


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, Mapping):
        if key in value:
            return value[key]
        folded = {str(k).casefold(): v for k, v in value.items()}
        return folded.get(str(key).casefold())
    if isinstance(value, list) and isinstance(key, (int, float)):
        return value[int(key)] if 0 <= int(key) < len(value) else None
    return None


def _format(template: str, *args: Any) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: to_text(args[int(m.group(1))]), template)


BUILTINS: dict[str, Callable[..., Any]] = {
    "contains": lambda hay, needle: (
        any(_compare("==", x, needle) for x in hay)
        if isinstance(hay, list)
        else to_text(needle).casefold() in to_text(hay).casefold()
    ),
    "startswith": lambda s, p: to_text(s).casefold().startswith(to_text(p).casefold()),
    "endswith": lambda s, p: to_text(s).casefold().endswith(to_text(p).casefold()),
    "format": _format,
    "tojson": lambda v: json.dumps(v, indent=2),
    "fromjson": lambda s: json.loads(s),
    "join": lambda v, sep=",": sep.join(map(to_text, v)) if isinstance(v, list) else to_text(v),
}


def evaluate(text: str, context: Mapping[str, Any], functions: Functions) -> Any:
    """The value of one expression (without the ``${{ }}``)."""
    return _Parser(text, context, {**BUILTINS, **functions}).parse()


_SUBST = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def substitute(text: str, context: Mapping[str, Any], functions: Functions) -> str:
    """``text`` with every ``${{ expr }}`` replaced by its value as text."""
    return _SUBST.sub(lambda m: to_text(evaluate(m.group(1), context, functions)), text)


_STATUS = re.compile(r"\b(success|failure|always|cancelled)\s*\(", re.I)


def evaluate_condition(condition: Any, context: Mapping[str, Any], functions: Functions) -> bool:
    """An ``if:``: a bare expression or one ``${{ }}``; without a status function, ``success() &&``."""
    if isinstance(condition, bool):
        return condition
    text = str(condition).strip()
    whole = _SUBST.fullmatch(text)
    if whole is not None:
        text = whole.group(1).strip()
    if not _STATUS.search(text):
        text = f"success() && ({text})"
    return truthy(evaluate(text, context, functions))
