"""Which files a port touches, read and written the way they were (encoding, BOM, line endings)."""

from __future__ import annotations

import io
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_causal_eval.porting.config_files import CONFIG_NAMES, port_config
from pytest_causal_eval.porting.findings import Finding, PortParseError
from pytest_causal_eval.porting.python_source import port_python

__all__ = ["FilePort", "discover", "governing_configs", "plan_port"]

_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "venv"})
#: pytest reads these whatever they hold; the others only when they have a pytest section.
_ALWAYS = frozenset({"pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml"})
_SECTION_MARK = {"pyproject.toml": "[tool.pytest", "tox.ini": "[pytest]", "setup.cfg": "[tool:pytest]"}


@dataclass
class FilePort:
    """One file's text before and after the port, and what the port said about it."""

    path: Path
    old: str
    new: str
    encoding: str = "utf-8"
    findings: list[Finding] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.new != self.old

    def new_bytes(self) -> bytes:
        return self.new.encode(self.encoding)


def _skipped(directory: Path) -> bool:
    name = directory.name
    return name.startswith(".") or name in _SKIPPED_DIRS or name.endswith(".egg-info")


def discover(paths: Sequence[Path]) -> list[Path]:
    """Python files and pytest config files under ``paths`` (a file given by name is taken as is),
    plus the config files pytest would read for them, found by walking up like pytest does."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            for candidate in sorted(_walk(path)):
                found[candidate] = None
        else:
            found[path] = None
        for config in governing_configs(path):
            found[config] = None
    return list(found)


def _walk(root: Path) -> Iterable[Path]:
    for child in sorted(root.iterdir()):
        if child.is_dir():
            if not _skipped(child):
                yield from _walk(child)
        elif child.suffix == ".py" or child.name in CONFIG_NAMES:
            yield child


def _is_pytest_config(path: Path) -> bool:
    if path.name in _ALWAYS:
        return path.is_file()
    mark = _SECTION_MARK.get(path.name)
    if mark is None or not path.is_file():
        return False
    try:
        return mark in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def governing_configs(path: Path) -> list[Path]:
    """The pytest config files of the first directory, from ``path`` up, that has any."""
    start = path if path.is_dir() else path.parent
    for directory in [start.resolve(), *start.resolve().parents]:
        configs = [directory / name for name in sorted(CONFIG_NAMES) if _is_pytest_config(directory / name)]
        if configs:
            return [_relative_like(c, path) for c in configs]
    return []


def _relative_like(config: Path, given: Path) -> Path:
    """Name a config file relative to the working directory when the user gave relative paths."""
    if given.is_absolute():
        return config
    try:
        return config.relative_to(Path.cwd())
    except ValueError:
        return config


def _decode(path: Path, data: bytes, python: bool) -> tuple[str, str]:
    label = str(path)
    encoding = "utf-8"
    if python:
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError as exc:
            raise PortParseError(label, None, str(exc)) from None
    elif data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError) as exc:
        raise PortParseError(label, None, f"cannot decode as {encoding}: {exc}") from None


def plan_port(paths: Sequence[Path]) -> tuple[list[FilePort], list[PortParseError]]:
    """Every file's port, computed in memory; nothing is written here."""
    ports: list[FilePort] = []
    errors: list[PortParseError] = []
    for path in discover(paths):
        python = path.suffix == ".py"
        if not python and path.name not in CONFIG_NAMES:
            errors.append(PortParseError(str(path), None, "not a Python file or a pytest config file"))
            continue
        try:
            text, encoding = _decode(path, path.read_bytes(), python)
            if python:
                new, findings = port_python(str(path), text)
            else:
                new, findings = port_config(str(path), path.name, text)
        except PortParseError as exc:
            errors.append(exc)
            continue
        except OSError as exc:
            errors.append(PortParseError(str(path), None, exc.strerror or str(exc)))
            continue
        ports.append(FilePort(path, text, new, encoding, findings))
    return ports, errors
