"""The tests mirror the package: one test folder per engine subpackage, each a package."""

from __future__ import annotations

from pathlib import Path

import pytest_causal_eval


def test_the_engine_tests_mirror_the_engine() -> None:
    """One test package per engine subpackage (plus ``cli`` for the engine's commands)."""
    engine_dir = Path(pytest_causal_eval.__file__).parent / "engine"
    tests_dir = Path(__file__).resolve().parents[1] / "engine"
    subpackages = {p.name for p in engine_dir.iterdir() if (p / "__init__.py").is_file()}
    test_packages = {p.name for p in tests_dir.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert subpackages, f"no subpackages under {engine_dir}"
    assert test_packages == subpackages | {"cli"}
    folders = [tests_dir, *(p for p in tests_dir.rglob("*") if p.is_dir() and p.name != "__pycache__")]
    assert [str(f) for f in folders if not (f / "__init__.py").is_file()] == []


#: Test folders that test no single package: the import graph and layout, the top-level core
#: modules (bench, options, session, the terminal), the benchmark suites and the CI workflows.
NOT_A_PACKAGE = {"architecture", "foundation", "suites", "workflows"}


def test_the_tests_mirror_the_package() -> None:
    """One test folder per package folder, each test folder a package (fixture data apart)."""
    package_dir = Path(pytest_causal_eval.__file__).parent
    tests_dir = Path(__file__).resolve().parents[1]
    packages = {p.name for p in package_dir.iterdir() if (p / "__init__.py").is_file()}
    test_folders = {p.name for p in tests_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert test_folders - NOT_A_PACKAGE == packages
    with_tests = {
        p.parent for p in tests_dir.rglob("*.py") if "fixtures" not in p.relative_to(tests_dir).parts
    }
    assert sorted(str(f) for f in with_tests - {tests_dir} if not (f / "__init__.py").is_file()) == []
