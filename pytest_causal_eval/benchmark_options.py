"""``--benchmark-*`` options read as ours when pytest-benchmark is not active.

A suite keeps pytest-benchmark's options in ``addopts``; without pytest-benchmark pytest would
stop at the first one (``unrecognized arguments``). Every option pytest-benchmark has is accepted
then; the ones with an equivalent become it (``--benchmark-min-rounds 20`` is
``--causal-eval-min-rounds=20``), by the same table ``causal-eval port`` uses
(``porting.mapping.OPTIONS``), and the others are named once per run with why. Our own
``--causal-eval-*`` flag wins over its alias; an alias wins over our ini option.
"""

from __future__ import annotations

import pytest

from pytest_causal_eval.options import OptionAliases, all_option_specs

__all__ = ["ALIASES_KEY", "add_aliases", "alias_result"]

#: Set on the config when the aliases are registered (pytest-benchmark is not active).
ALIASES_KEY = pytest.StashKey[bool]()
_DEST = "causal_eval_pytest_benchmark_"


def _dest(name: str) -> str:
    return _DEST + name.replace("-", "_")


def add_aliases(parser: pytest.Parser) -> None:
    """Declare every ``--benchmark-*`` option pytest-benchmark has, with its arity."""
    from pytest_causal_eval.porting.mapping import OPTIONS

    group = parser.getgroup(
        "causal-eval-pytest-benchmark",
        "pytest-benchmark's options (pytest-benchmark is not active: read by causal-eval)",
    )
    for name, rule in OPTIONS.items():
        flag = f"--benchmark-{name}"
        text = (
            f"pytest-benchmark's option, read as {rule.target}" if rule.target else "not used by causal-eval"
        )
        if rule.arity == "flag":
            group.addoption(flag, action="store_true", default=None, dest=_dest(name), help=text)
        elif rule.arity == "one":
            group.addoption(flag, action="store", default=None, dest=_dest(name), metavar="VALUE", help=text)
        elif rule.arity == "optional":
            group.addoption(
                flag, action="store", nargs="?", const="", default=None, dest=_dest(name), help=text
            )
        else:
            group.addoption(flag, action="store", nargs="+", default=None, dest=_dest(name), help=text)


def _given(config: pytest.Config) -> list[str]:
    """The ``--benchmark-*`` options of this run, written back as arguments (``--name=value``)."""
    from pytest_causal_eval.porting.mapping import OPTIONS

    args: list[str] = []
    for name, rule in OPTIONS.items():
        value = config.getoption(_dest(name), default=None)
        if value is None or value is False:
            continue
        flag = f"--benchmark-{name}"
        if rule.arity == "flag":
            args.append(flag)
        elif rule.arity == "many":
            args.extend([flag, *[str(v) for v in value]])
        elif value == "":
            args.append(flag)
        else:
            args.append(f"{flag}={value}")
    return args


def alias_result(config: pytest.Config) -> OptionAliases:
    """The aliases given in this run, mapped to our options' ``dest`` (empty when not registered)."""
    result = OptionAliases()
    if not config.stash.get(ALIASES_KEY, False):
        return result
    args = _given(config)
    if not args:
        return result
    from pytest_causal_eval.porting.addopts import map_args

    by_flag = {spec.flag: spec for spec in all_option_specs()}
    changes, messages = map_args(args)
    for change in changes:
        if change.text is None:
            continue
        flag, eq, value = change.text.partition("=")
        spec = by_flag.get(flag)
        if spec is None:  # pragma: no cover - the mapping names only flags we have
            continue
        result.values[spec.dest] = value if eq else True
        result.sources[spec.dest] = args[change.index].partition("=")[0]
    result.notes = [
        m.message
        if m.message.startswith("--benchmark-")
        else f"{args[m.index].partition('=')[0]}: {m.message}"
        for m in messages
    ]
    return result
