"""Port ``--benchmark-*`` options in ``addopts`` of pytest's config files, by exact spans.

Handles ``[pytest]`` of pytest.ini / .pytest.ini / tox.ini, ``[tool:pytest]`` of setup.cfg,
``[tool.pytest.ini_options]`` and ``[tool.pytest]`` of pyproject.toml and ``[pytest]`` of
pytest.toml / .pytest.toml: a TOML value may be a string (one line or multi-line) or an array of
strings. Only the arguments that change are touched; a dropped argument takes its separator (or
its whole line, when it stood alone on one) with it. Every edit is checked by parsing the new
file: the value must read exactly as intended, or the file is left alone and the reason said.
Other mentions of ``--benchmark-`` or ``pytest_benchmark`` in these files (a tox command, a
``filterwarnings`` entry) are reported with their line.
"""

from __future__ import annotations

import importlib
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_causal_eval.porting.addopts import ArgChange, apply_arg_changes, map_args
from pytest_causal_eval.porting.edits import Edit, SourceIndex, apply_edits
from pytest_causal_eval.porting.findings import Finding, PortParseError
from pytest_causal_eval.porting.mapping import PLUGIN_MODULE

__all__ = ["CONFIG_NAMES", "port_config"]

INI_SECTIONS = {
    "pytest.ini": "pytest",
    ".pytest.ini": "pytest",
    "tox.ini": "pytest",
    "setup.cfg": "tool:pytest",
}
TOML_TABLES = {
    "pyproject.toml": ("tool.pytest.ini_options", "tool.pytest"),
    "pytest.toml": ("pytest",),
    ".pytest.toml": ("pytest",),
}
CONFIG_NAMES = frozenset(INI_SECTIONS) | frozenset(TOML_TABLES)
_SAFE_SHELL = re.compile(r"[\w@%+=:,./-]+")


@dataclass(frozen=True)
class _Token:
    """One argument of ``addopts``: its value and the span of its source text."""

    value: str
    start: int
    end: int
    segment: int


@dataclass(frozen=True)
class _Segment:
    """A stretch of one line holding shell-split arguments; ``line_span`` when the whole line may go."""

    start: int
    end: int
    line_span: tuple[int, int] | None


@dataclass
class _Value:
    """Where the arguments of one ``addopts`` are, and how a changed argument is written back."""

    tokens: list[_Token]
    segments: list[_Segment]
    array: bool
    encode: Callable[[str], str | None]
    line: int


def port_config(label: str, name: str, text: str) -> tuple[str, list[Finding]]:
    """The ported text of a config file named ``name`` (its base name) and what to report."""
    findings: list[Finding] = []
    index = SourceIndex(text)
    if name in INI_SECTIONS:
        _check_ini(label, text)
        values = _ini_values(text, index, INI_SECTIONS[name])
    elif name in TOML_TABLES:
        _parse_toml(label, text)
        values = _toml_values(text, index, TOML_TABLES[name])
    else:
        raise ValueError(f"not a pytest config file name: {name}")
    edits: list[Edit] = []
    covered: set[int] = set()
    for line_no, value in values:
        covered.add(line_no)
        if value is None:
            findings.append(Finding(label, line_no, "addopts is written in a form the port cannot edit"))
            continue
        covered.update(
            range(line_no, index.line_of(value.segments[-1].end) + 1 if value.segments else line_no)
        )
        args = [t.value for t in value.tokens]
        changes, messages = map_args(args)
        for msg in messages:
            line = index.line_of(value.tokens[msg.index].start)
            findings.append(Finding(label, line, msg.message, msg.ported))
        value_edits = _edits_for(text, index, value, changes)
        if value_edits is None:
            findings.append(
                Finding(label, value.line, "addopts: a changed argument cannot be written back here")
            )
            continue
        if value_edits:
            expected = apply_arg_changes(args, changes)
            edits.extend(value_edits)
            checked = _reread(label, name, apply_edits(text, value_edits), value.line)
            if checked is not None and checked != expected:  # pragma: no cover - a bug in the span logic
                findings.append(Finding(label, value.line, "addopts: the edit did not read back as intended"))
                edits = [e for e in edits if e not in value_edits]
    new_text = apply_edits(text, edits)
    for number in range(1, len(index.line_starts) + 1):
        if number in covered:
            continue
        raw = index.line_text(number)
        if raw.lstrip().startswith(("#", ";")):
            continue
        if name in TOML_TABLES:
            raw = raw.split("#")[0]
        for found in sorted(set(re.findall(r"--benchmark-[\w-]+", raw))):
            findings.append(
                Finding(label, number, f"{found} outside a pytest addopts (a tox command?): map it by hand")
            )
        if PLUGIN_MODULE in raw or "PytestBenchmark" in raw:
            findings.append(
                Finding(
                    label,
                    number,
                    f"names {PLUGIN_MODULE}: pytest cannot import it once pytest-benchmark is uninstalled; "
                    "remove the entry",
                )
            )
    return new_text, findings


# -- ini -------------------------------------------------------------------------------------------
def _check_ini(label: str, text: str) -> None:
    from iniconfig import IniConfig, ParseError

    try:
        IniConfig(label, data=text)
    except ParseError as exc:
        raise PortParseError(label, exc.lineno + 1, exc.msg) from None


def _ini_values(text: str, index: SourceIndex, section: str) -> list[tuple[int, _Value | None]]:
    found: list[tuple[int, _Value | None]] = []
    current: str | None = None
    number = 1
    total = len(index.line_starts)
    while number <= total:
        line = index.line_text(number)
        if line[:1] == "[":
            current = line.split("#")[0].split(";")[0].strip()[1:-1]
        elif current == section and re.match(r"addopts\s*[=:]", line):
            found.append((number, _ini_addopts(index, number)))
        number += 1
    return found


def _line_span(index: SourceIndex, number: int) -> tuple[int, int]:
    start = index.line_starts[number - 1]
    end = index.line_starts[number] if number < len(index.line_starts) else len(index.text)
    return start, end


def _ini_addopts(index: SourceIndex, number: int) -> _Value | None:
    line = index.line_text(number)
    sep = re.match(r"addopts\s*[=:]", line)
    assert sep is not None
    start = index.line_starts[number - 1]
    segments = [_Segment(start + sep.end(), start + len(line.rstrip()), None)]
    follow = number + 1
    while follow <= len(index.line_starts):
        text = index.line_text(follow)
        if text.strip() and not text[:1].isspace():
            break
        if text.strip() and text.lstrip()[:1] not in ("#", ";"):
            line_start = index.line_starts[follow - 1]
            segments.append(_Segment(line_start, line_start + len(text.rstrip()), _line_span(index, follow)))
        follow += 1
    tokens: list[_Token] = []
    for k, seg in enumerate(segments):
        got = _shell_tokens(index.text, seg.start, seg.end, k)
        if got is None:
            return None
        tokens.extend(got)
    return _Value(tokens, segments, False, _shell_encode, number)


def _shell_tokens(text: str, start: int, end: int, segment: int) -> list[_Token] | None:
    tokens: list[_Token] = []
    i = start
    while i < end:
        if text[i].isspace():
            i += 1
            continue
        j, quote = i, ""
        while j < end:
            c = text[j]
            if quote:
                if c == quote:
                    quote = ""
                elif c == "\\" and quote == '"':
                    j += 1
            elif c in "'\"":
                quote = c
            elif c == "\\":
                j += 1
            elif c.isspace():
                break
            j += 1
        if quote:
            return None
        try:
            parts = shlex.split(text[i:j])
        except ValueError:
            return None
        tokens.append(_Token(parts[0] if parts else "", i, j, segment))
        i = j
    return tokens


def _shell_encode(value: str) -> str:
    return value if _SAFE_SHELL.fullmatch(value) else shlex.quote(value)


# -- TOML ------------------------------------------------------------------------------------------
def _toml() -> Any:
    return importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")


def _parse_toml(label: str, text: str) -> dict[str, Any]:
    toml = _toml()
    try:
        doc: dict[str, Any] = toml.loads(text)
    except toml.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\(at line (\d+), column \d+\)", message)
        if where:
            line: int | None = int(where.group(1))
        elif "end of document" in message:
            line = SourceIndex(text).line_of(len(text))
        else:
            line = None
        raise PortParseError(label, line, re.sub(r"\s*\(at [^)]*\)$", "", message)) from None
    return doc


def _toml_values(text: str, index: SourceIndex, tables: Sequence[str]) -> list[tuple[int, _Value | None]]:
    found: list[tuple[int, _Value | None]] = []
    current: str | None = None
    for number in range(1, len(index.line_starts) + 1):
        line = index.line_text(number)
        header = re.match(r"\s*\[(?!\[)([^\]]*)\]\s*(#.*)?$", line)
        if header:
            current = re.sub(r"[\s\"']", "", header.group(1))
            continue
        if current in tables:
            key = re.match(r"\s*(addopts|\"addopts\"|'addopts')\s*=\s*", line)
            if key:
                found.append(
                    (number, _toml_addopts(index, index.line_starts[number - 1] + key.end(), number))
                )
    return found


def _toml_addopts(index: SourceIndex, pos: int, number: int) -> _Value | None:
    text = index.text
    if text.startswith('"""', pos) or text.startswith("'''", pos):
        return _toml_multiline(index, pos, number)
    if text[pos : pos + 1] in ('"', "'"):
        literal = _toml_string(text, pos)
        if literal is None:
            return None
        start, end, quote = literal
        tokens = _shell_tokens(text, start, end, 0)
        if tokens is None:
            return None
        return _Value(tokens, [_Segment(start, end, None)], False, _toml_shell_encoder(quote), number)
    if text[pos : pos + 1] == "[":
        return _toml_array(index, pos + 1, number)
    return None


def _toml_string(text: str, pos: int) -> tuple[int, int, str] | None:
    """(content start, content end, quote) of a one-line string without escapes at ``pos``."""
    quote = text[pos]
    end = text.find(quote, pos + 1)
    newline = text.find("\n", pos + 1)
    if end < 0 or (0 <= newline < end):
        return None
    content = text[pos + 1 : end]
    if quote == '"' and "\\" in content:
        return None
    return pos + 1, end, quote


def _toml_shell_encoder(quote: str) -> Callable[[str], str | None]:
    def encode(value: str) -> str | None:
        shell = _shell_encode(value)
        if quote in shell or (quote == '"' and "\\" in shell):
            return None
        return shell

    return encode


def _toml_multiline(index: SourceIndex, pos: int, number: int) -> _Value | None:
    text = index.text
    delim = text[pos : pos + 3]
    close = text.find(delim, pos + 3)
    if close < 0:
        return None
    body_start = pos + 3
    if text.startswith("\r\n", body_start):
        body_start += 2
    elif text.startswith("\n", body_start):
        body_start += 1
    if delim == '"""' and "\\" in text[body_start:close]:
        return None
    segments: list[_Segment] = []
    tokens: list[_Token] = []
    first, last = index.line_of(body_start), index.line_of(close)
    for line_no in range(first, last + 1):
        line_start, line_end = _line_span(index, line_no)
        seg_start = max(line_start, body_start)
        seg_end = min(line_start + len(index.line_text(line_no)), close)
        whole = line_no != last and seg_start == line_start
        segment = _Segment(seg_start, seg_end, (line_start, line_end) if whole else None)
        got = _shell_tokens(text, seg_start, seg_end, len(segments))
        if got is None:
            return None
        segments.append(segment)
        tokens.extend(got)
    return _Value(tokens, segments, False, _toml_shell_encoder(delim[0]), number)


def _toml_array(index: SourceIndex, pos: int, number: int) -> _Value | None:
    text = index.text
    tokens: list[_Token] = []
    segments: list[_Segment] = []
    quotes: list[str] = []
    i = pos
    while True:
        while i < len(text) and (text[i].isspace() or text[i] == "#"):
            if text[i] == "#":
                newline = text.find("\n", i)
                i = len(text) if newline < 0 else newline
            else:
                i += 1
        if i >= len(text):
            return None
        if text[i] == "]":
            break
        if text[i] not in ('"', "'") or text.startswith(text[i] * 3, i):
            return None
        literal = _toml_string(text, i)
        if literal is None:
            return None
        start, end, quote = literal
        segments.append(_Segment(i, end + 1, None))
        tokens.append(_Token(text[start:end], i, end + 1, len(segments) - 1))
        quotes.append(quote)
        i = end + 1
        while i < len(text) and text[i] in " \t":
            i += 1
        if text[i : i + 1] == ",":
            i += 1
        elif text[i : i + 1] not in ("]", "\n", "\r", "#"):
            return None
    return _Value(tokens, segments, True, _array_encoder(quotes[0] if quotes else '"'), number)


def _array_encoder(quote: str) -> Callable[[str], str | None]:
    def encode(value: str) -> str | None:  # a whole element, quoted like the array's first one
        if quote in value or "\\" in value or "\n" in value:
            return None
        return f"{quote}{value}{quote}"

    return encode


# -- writing changes back --------------------------------------------------------------------------
def _edits_for(
    text: str, index: SourceIndex, value: _Value, changes: Sequence[ArgChange]
) -> list[Edit] | None:
    edits: list[Edit] = []
    deleted = sorted(c.index for c in changes if c.text is None)
    for change in changes:
        if change.text is None:
            continue
        token = value.tokens[change.index]
        encoded = value.encode(change.text)
        if encoded is None:
            return None
        edits.append(Edit(token.start, token.end, encoded))
    # Runs of neighbouring dropped arguments on one line (in one segment) go together.
    runs: list[list[int]] = []
    for k in deleted:
        same_run = runs and runs[-1][-1] == k - 1
        if value.array:
            same_place = index.line_of(value.tokens[k].start) == index.line_of(value.tokens[k - 1].start)
        else:
            same_place = value.tokens[k].segment == value.tokens[k - 1].segment
        if same_run and same_place:
            runs[-1].append(k)
        else:
            runs.append([k])
    for run in runs:
        edits.append(_delete_run(text, index, value, run))
    return edits


def _delete_run(text: str, index: SourceIndex, value: _Value, run: list[int]) -> Edit:
    first, last = value.tokens[run[0]], value.tokens[run[-1]]
    before = value.tokens[run[0] - 1] if run[0] > 0 else None
    after = value.tokens[run[-1] + 1] if run[-1] + 1 < len(value.tokens) else None
    if value.array:
        number = index.line_of(first.start)
        line_start, line_end = _line_span(index, number)
        rest = text[line_start:line_end]
        for k in run:
            token = value.tokens[k]
            rest = rest.replace(text[token.start : token.end], "", 1)
        if re.fullmatch(r"[\s,]*(#[^\n]*)?\s*", rest):
            return Edit(line_start, line_end, "")
        if after is not None and index.line_of(after.start) == number:
            return Edit(first.start, after.start, "")
        if before is not None and index.line_of(before.end) == number:
            return Edit(before.end, last.end, "")
        trailing = re.match(r"[ \t]*,[ \t]*", text[last.end :])
        return Edit(first.start, last.end + (trailing.end() if trailing else 0), "")
    segment = value.segments[first.segment]
    if after is not None and after.segment == first.segment:
        return Edit(first.start, after.start, "")
    if before is not None and before.segment == first.segment:
        return Edit(before.end, last.end, "")
    if segment.line_span is not None:
        return Edit(*segment.line_span, "")
    return Edit(segment.start, segment.end, "")


def _reread(label: str, name: str, text: str, line: int) -> list[str] | None:
    """The addopts arguments of the table or section the edit touched, read as pytest reads them."""
    if name in INI_SECTIONS:
        from iniconfig import IniConfig

        try:
            ini = IniConfig(label, data=text)
        except Exception:  # pragma: no cover - a bug in the span logic
            return []
        section = INI_SECTIONS[name]
        if section not in ini:
            return []
        return shlex.split(ini[section].get("addopts", ""))
    doc = _parse_toml(label, text)
    for table in TOML_TABLES[name]:
        node: Any = doc
        for part in table.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict) and "addopts" in node:
            opts = node["addopts"]
            return list(opts) if isinstance(opts, list) else shlex.split(str(opts))
    return None
