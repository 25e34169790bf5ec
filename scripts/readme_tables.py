"""Print the README's option and marker tables from the plugin's own definitions.

Usage: python scripts/readme_tables.py options|markers

``tests/foundation/test_readme.py`` requires the README to contain both tables exactly as printed
here, so a changed help text or a new option shows up as a failing test until the README follows.
"""

from __future__ import annotations

import sys

from pytest_causal_eval.markers import all_marker_keys
from pytest_causal_eval.options import all_option_specs


def cell(text: str) -> str:
    """Table-cell text: a bare ``|`` would split the cell, even inside a code span."""
    return text.replace("|", "\\|")


def options() -> str:
    rows = ["| flag | ini key | what it does |", "|---|---|---|"]
    for spec in all_option_specs():
        value = "" if spec.is_flag else f" {cell(spec.metavar or 'VALUE')}"
        rows.append(f"| `{spec.flag}`{value} | `{spec.ini}` | {cell(spec.help)} |")
    return "\n".join(rows)


def markers() -> str:
    rows = ["| key | meaning |", "|---|---|"]
    rows += [f"| `{k}` | {cell(v)} |" for k, v in sorted(all_marker_keys().items())]
    return "\n".join(rows)


if __name__ == "__main__":
    print({"options": options, "markers": markers}[sys.argv[1]]())
