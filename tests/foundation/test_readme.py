"""The README documents every option, marker key and subcommand, and its commands are the Makefile's."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

from pytest_causal_eval.cli import build_parser
from pytest_causal_eval.markers import all_marker_keys
from pytest_causal_eval.options import all_option_specs

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_option_and_its_ini_twin_is_documented() -> None:
    missing = [
        s.flag for s in all_option_specs() if f"`{s.flag}`" not in README or f"`{s.ini}`" not in README
    ]
    assert missing == []


@pytest.mark.parametrize("table", ["options", "markers"])
def test_the_readme_tables_are_current(table: str) -> None:
    """The option and marker tables are exactly what ``scripts/readme_tables.py`` prints now."""
    generated = runpy.run_path(str(ROOT / "scripts" / "readme_tables.py"))[table]()
    assert generated in README, f"regenerate: python scripts/readme_tables.py {table}"


def test_every_marker_key_is_documented() -> None:
    assert [k for k in all_marker_keys() if f"`{k}`" not in README] == []


def test_every_subcommand_is_documented() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")  # argparse keeps subparsers here
    names = sorted(sub.choices)  # type: ignore[arg-type]
    assert [n for n in names if f"causal-eval {n}" not in README] == []


def test_the_two_commands_are_make_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in re.findall(r"^make (\w[\w-]*)", README, flags=re.MULTILINE):
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), target
    assert "make test" in (ROOT / ".ci" / "run").read_text()
