"""The repository is self-contained: nothing in it reaches for a folder outside it.

A GitHub checkout has only the repository, so a path that climbs above it (``../shared/data``,
``Path(__file__).parent.parent / "shared"``) works on one machine and fails in CI. The data the
tests and suites need is committed under ``data/`` and read through the ``data_dir`` fixture of
the root ``conftest.py`` (``--data DIR`` / ``CAUSAL_EVAL_DATA`` point elsewhere on purpose).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]

# Path(__file__) followed by .resolve(), .parent, .parents[N] and / "segment" steps
_FILE_EXPR = re.compile(
    r"Path\(__file__\)(?:\.resolve\(\)|\.absolute\(\))?"
    r"((?:\.parent\b|\.parents\[\d+\]|\s*/\s*[\"'][^\"'\n]*[\"'])+)"
)
_STEP = re.compile(r"\.parent\b|\.parents\[(\d+)\]|/\s*[\"']([^\"'\n]*)[\"']")
_DOTDOT = re.compile(r"[^\s\"'`(\[=:]*\.\./[^\s\"'`)\]]*")
_SKIP_DIRS = {".git", ".venv", "data", "node_modules", "__pycache__"}
_TEXT_SUFFIXES = {
    ".py",
    ".md",
    ".toml",
    ".cfg",
    ".ini",
    ".yml",
    ".yaml",
    ".sh",
    ".txt",
    ".json",
    ".js",
    ".html",
}


def _files(root: Path) -> Iterator[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True, timeout=60
        ).stdout.decode()
        names = [n for n in listed.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    for name in names:
        rel = PurePosixPath(name)
        if rel.parts[0] in _SKIP_DIRS or any(part in _SKIP_DIRS for part in rel.parts[:-1]):
            continue
        if rel.suffix in _TEXT_SUFFIXES or rel.name in ("Makefile", "run") or not rel.suffix:
            path = root / name
            if path.is_file() and path.stat().st_size < 2_000_000:
                yield path


def _walk(start: list[str], segments: list[str]) -> bool:
    """Whether following ``segments`` (``".."`` climbs) from ``start`` stays inside the root."""
    parts = list(start)
    for segment in segments:
        for piece in PurePosixPath(segment).parts:
            if piece == "..":
                if not parts:
                    return False
                parts.pop()
            elif piece not in (".", "/"):
                parts.append(piece)
    return True


def _file_expression_escapes(rel: PurePosixPath, chain: str) -> bool:
    parts = list(rel.parts)  # Path(__file__) itself: the file
    for step in _STEP.finditer(chain):
        if step.group(0).startswith(".parent"):
            up = 1 if step.group(1) is None else int(step.group(1)) + 1
            if up > len(parts):
                return True
            parts = parts[: len(parts) - up]
        elif not _walk(parts, [step.group(2)]):
            return True
        else:
            parts = [*parts, *PurePosixPath(step.group(2)).parts]
    return False


def outside_references(root: Path) -> list[str]:
    """Every place in ``root``'s files that refers to a folder outside ``root``."""
    found: list[str] = []
    for path in _files(root):
        rel = PurePosixPath(path.relative_to(root).as_posix())
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for lineno, line in enumerate(text.splitlines(), start=1):
            for m in _FILE_EXPR.finditer(line):
                if _file_expression_escapes(rel, m.group(1)):
                    found.append(f"{rel}:{lineno}: {m.group(0)}")
            for m in _DOTDOT.finditer(line):
                here = list(rel.parts[:-1])
                if not _walk(here, [m.group(0)]) and not _walk([], [m.group(0)]):
                    found.append(f"{rel}:{lineno}: {m.group(0)}")
            if re.search(r"\bshared/data\b", line):
                found.append(f"{rel}:{lineno}: shared/data")
    return found


def test_nothing_refers_to_a_folder_outside_the_repository() -> None:
    this = Path(__file__).resolve().relative_to(ROOT).as_posix()  # its examples are on purpose
    assert [f for f in outside_references(ROOT) if not f.startswith(f"{this}:")] == []


def test_the_check_finds_what_it_is_for(tmp_path: Path) -> None:
    """The layouts this project once had: data beside the repository, found from two conftests."""
    (tmp_path / "tests" / "engine").mkdir(parents=True)
    (tmp_path / "conftest.py").write_text(
        'SHARED = Path(__file__).resolve().parent.parent / "shared" / "data"\n'
        'OK = Path(__file__).parent / "data"\n'
    )
    (tmp_path / "tests" / "engine" / "conftest.py").write_text(
        'DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"\n'
        'FINE = Path(__file__).resolve().parents[2] / "data"\n'
    )
    (tmp_path / "Makefile").write_text("data:\n\tcp -r ../shared/x data/\n\tcp tests/../data/a b\n")
    (tmp_path / "README.md").write_text("see [the report](../../elsewhere/index.html)\n")
    found = outside_references(tmp_path)
    assert sorted(":".join(f.split(":")[:2]) for f in found) == [
        "Makefile:2",
        "README.md:1",
        "conftest.py:1",
        "tests/engine/conftest.py:1",
    ]


# the published files under data/; whoever names one must have got its folder from the fixtures
_DATA_FILES = re.compile(r"test-generate-|test-model-meta|causal_judgement\.json|code-davinci-002")
_FIXTURES = re.compile(r"\b(data_dir|cladder_dir|bbh_dir)\b")
_HARD_CODED = re.compile(r"/\s*[\"']data[\"']|[\"']data/|\bDATA_DIR\b")


def test_tests_and_suites_read_the_data_through_the_data_dir_fixture() -> None:
    offenders: list[str] = []
    for folder in ("tests", "suites", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == Path(__file__).resolve():
                continue
            text = path.read_text(encoding="utf-8")
            rel = path.relative_to(ROOT)
            for lineno, line in enumerate(text.splitlines(), start=1):
                if _HARD_CODED.search(line):
                    offenders.append(f"{rel}:{lineno}: {line.strip()}")
            if _DATA_FILES.search(text) and not _FIXTURES.search(text):
                offenders.append(f"{rel}: names a data file without the data_dir fixture")
    assert offenders == []
