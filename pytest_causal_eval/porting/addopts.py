"""``--benchmark-*`` arguments (as pytest reads ``addopts``) mapped to ``--causal-eval-*``.

Pure logic on a list of arguments: which argument becomes what text, which is dropped, and what
to say about it. Where the arguments live (an ini value, a TOML string or array) is
``config_files``'s business.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_causal_eval.porting.mapping import OPTIONS

__all__ = ["PREFIX", "ArgChange", "ArgMessage", "apply_arg_changes", "map_args"]

PREFIX = "--benchmark-"
_COMPARE_FAIL = re.compile(
    r"^(min|max|mean|median|stddev|iqr):(?:([0-9]+)%|([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?))$"
)


@dataclass(frozen=True)
class ArgChange:
    """Argument ``index`` becomes ``text``; None drops it."""

    index: int
    text: str | None


@dataclass(frozen=True)
class ArgMessage:
    """Something to say about the argument at ``index`` (``ported`` False: it needs a human)."""

    index: int
    message: str
    ported: bool


def _takes_value(arity: str, following: str | None) -> bool:
    if following is None:
        return False
    if arity == "one":
        return True
    return arity in ("optional", "many") and not following.startswith("-")


def map_args(args: Sequence[str]) -> tuple[list[ArgChange], list[ArgMessage]]:
    """The changes that port every ``--benchmark-*`` argument of ``args``, and what to report."""
    changes: list[ArgChange] = []
    messages: list[ArgMessage] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith(PREFIX):
            i += 1
            continue
        name, eq, attached = arg[len(PREFIX) :].partition("=")
        rule = OPTIONS.get(name)
        if rule is None:
            messages.append(ArgMessage(i, f"{PREFIX}{name} is not a pytest-benchmark option we know", False))
            i += 1
            continue
        value_indexes: list[int] = []
        if not eq and rule.arity != "flag":
            j = i + 1
            while _takes_value(rule.arity, args[j] if j < len(args) else None):
                value_indexes.append(j)
                j += 1
                if rule.arity in ("one", "optional"):
                    break
        values = [attached] if eq else [args[j] for j in value_indexes]
        shown = " ".join([f"{PREFIX}{name}", *values]) if not eq else arg

        if rule.target is None:
            changes.append(ArgChange(i, None))
            changes.extend(ArgChange(j, None) for j in value_indexes)
            if rule.reason:
                messages.append(ArgMessage(i, f"{shown} dropped: {rule.reason}", False))
            else:
                messages.append(ArgMessage(i, rule.note, True))
        elif name == "compare-fail":
            _compare_fail(i, shown, values, value_indexes, changes, messages)
        elif rule.arity == "flag":
            changes.append(ArgChange(i, rule.target))
        elif rule.fixed_value is not None:
            changes.append(ArgChange(i, f"{rule.target}={rule.fixed_value}"))
            changes.extend(ArgChange(j, None) for j in value_indexes)
        elif rule.values:
            raw = values[0] if values else ""
            mapped = rule.values.get(raw.strip().lower())
            if mapped is None:
                messages.append(
                    ArgMessage(i, f"{shown}: value {raw!r} is not one pytest-benchmark allows", False)
                )
            else:
                changes.append(ArgChange(i, f"{rule.target}={mapped}"))
                changes.extend(ArgChange(j, None) for j in value_indexes)
        elif eq:
            changes.append(ArgChange(i, f"{rule.target}={attached}"))
        else:
            changes.append(ArgChange(i, rule.target))
        if rule.target is not None and rule.note:
            messages.append(ArgMessage(i, rule.note, True))
        i = max([i, *value_indexes]) + 1
    return changes, messages


def _compare_fail(
    i: int,
    shown: str,
    values: list[str],
    value_indexes: list[int],
    changes: list[ArgChange],
    messages: list[ArgMessage],
) -> None:
    percents: list[int] = []
    absolute: list[str] = []
    for value in values:
        m = _COMPARE_FAIL.match(value.strip())
        if m and m.group(2) is not None:
            percents.append(int(m.group(2)))
        else:
            absolute.append(value)
    changes.extend(ArgChange(j, None) for j in value_indexes)
    if not percents:
        changes.append(ArgChange(i, None))
        messages.append(
            ArgMessage(
                i,
                f"{shown} dropped: only percentage limits map (--causal-eval-threshold=N%); "
                "absolute limits in seconds have no equivalent",
                False,
            )
        )
        return
    changes.append(ArgChange(i, f"--causal-eval-threshold={min(percents)}%"))
    messages.append(
        ArgMessage(
            i,
            f"{shown} became --causal-eval-threshold={min(percents)}%: the gate compares medians and "
            "needs the 95% interval of the change above the threshold",
            True,
        )
    )
    if absolute:
        messages.append(
            ArgMessage(i, f"absolute limit(s) {', '.join(absolute)} of {PREFIX}compare-fail dropped", False)
        )


def apply_arg_changes(args: Sequence[str], changes: Sequence[ArgChange]) -> list[str]:
    """``args`` as they read after ``changes`` (used to check an edited config says what we meant)."""
    by_index = {c.index: c.text for c in changes}
    out: list[str] = []
    for i, arg in enumerate(args):
        if i not in by_index:
            out.append(arg)
        else:
            text = by_index[i]
            if text is not None:
                out.append(text)
    return out
