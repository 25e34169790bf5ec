"""The port's tests. ``fixtures/input`` holds pytest-benchmark suites as their authors wrote them,
``fixtures/expected`` the same suites after ``causal-eval port``; neither is collected here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SUITES = ("serialization", "markdown")

collect_ignore = ["fixtures"]


def copy_suite(name: str, dest: Path, which: str = "input") -> Path:
    target = dest / name
    shutil.copytree(FIXTURES / which / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path (caches left out)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }


@pytest.fixture
def suite_copy(tmp_path: Path) -> object:
    def make(name: str, which: str = "input") -> Path:
        return copy_suite(name, tmp_path, which)

    return make
