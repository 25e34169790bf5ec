"""Print the README's option and marker tables from the plugin's own definitions.

Usage: python scripts/readme_tables.py options|markers
"""

from __future__ import annotations

import sys

from pytest_causal_eval.markers import all_marker_keys
from pytest_causal_eval.options import all_option_specs


def options() -> str:
    rows = ["| flag | ini key | what it does |", "|---|---|---|"]
    for spec in all_option_specs():
        flag = spec.flag if spec.is_flag else f"{spec.flag} {spec.metavar or 'VALUE'}"
        rows.append(f"| `{spec.flag}` | `{spec.ini}` | {spec.help.replace('|', '/')} |".replace(
            f"| `{spec.flag}` |", f"| `{spec.flag}`{'' if flag == spec.flag else ' ' + (spec.metavar or '')} |"))
    return "\n".join(rows)


def markers() -> str:
    rows = ["| key | meaning |", "|---|---|"]
    rows += [f"| `{k}` | {v.replace('|', '/')} |" for k, v in sorted(all_marker_keys().items())]
    return "\n".join(rows)


if __name__ == "__main__":
    print({"options": options, "markers": markers}[sys.argv[1]]())
