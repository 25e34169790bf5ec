"""The whole ``causal-eval`` argparse tree speaks one language (walked, so a new option is checked too).

- every subcommand, at every level, has a one-line help and a description, without reST markup;
- every option and argument has help; hidden ones are deprecated aliases, nothing else;
- metavars come from one short vocabulary (no ``BATCH_SIZE``, ``MAX_ERROR_RATE``);
- ``--json`` is a stdout switch, ``-o/--output`` takes the file or directory written;
- the history database is ``--history PATH`` and the baseline directory ``--baselines DIR``
  wherever a command takes one; the old spellings (``--db``, ``--dir``, ``--output-jsonl``, ``ab
  --json OUT``) are deprecated aliases only.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pytest_causal_eval import __version__
from pytest_causal_eval.cli import build_parser, main
from pytest_causal_eval.cli._args import DeprecatedAlias

#: The metavars a user meets; a new one is added here on purpose, not by argparse's default.
METAVARS = {
    # values
    "N", "RATE", "PCT", "SECONDS", "DAYS", "DURATION", "NUMBER", "LEVEL", "TEXT", "PATTERN",
    "NAME", "KEY", "REF", "TASK", "MODEL", "MODE",
    # places
    "PATH", "DIR", "URL", "HOST", "PORT", "ADDRESS", "PYTHON", "OWNER/NAME",
    "RESULTS.json", "A.json", "B.json",
    # structured
    "NAME=VALUE", "NAME=COLUMN", "CODE=RATE,...", "DIR|redis://...|memory", "PYTEST_ARGS",
    # subcommands
    "COMMAND", "ACTION", "KIND",
}  # fmt: skip

#: Spellings that are only allowed as deprecated aliases.
OLD_SPELLINGS = ("--db", "--dir", "--out")


def old_spelling(flag: str) -> bool:
    return flag in OLD_SPELLINGS or flag.startswith("--output-")


@dataclass(frozen=True)
class Command:
    path: str
    parser: argparse.ArgumentParser
    summary: str | None  # the line in the parent's list of subcommands


def walk(
    parser: argparse.ArgumentParser, path: str = "causal-eval", summary: str | None = None
) -> Iterator[Command]:
    yield Command(path, parser, summary)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield from walk(sub, f"{path} {name}", summaries.get(name))


COMMANDS = list(walk(build_parser()))
SUBCOMMANDS = [c for c in COMMANDS if c.path != "causal-eval"]
IDS = [c.path for c in COMMANDS]


def options(command: Command) -> list[argparse.Action]:
    return [
        a
        for a in command.parser._actions
        if not isinstance(a, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction))
    ]


def name(action: argparse.Action) -> str:
    return "/".join(action.option_strings) or action.dest


def test_the_tree_is_walked() -> None:
    paths = set(IDS)
    assert {"causal-eval ab", "causal-eval baselines show", "causal-eval baselines prune"} <= paths
    assert "causal-eval validate cladder" in paths and len(paths) >= 19


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=[c.path for c in SUBCOMMANDS])
def test_every_subcommand_says_what_it_does(command: Command) -> None:
    assert command.summary, f"{command.path}: no one-line help in its parent's list"
    assert command.parser.description, f"{command.path}: no description"
    for text in (command.summary, command.parser.description):
        assert "``" not in text, f"{command.path}: reStructuredText markup in its help: {text[:60]!r}"


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_every_option_has_help_and_a_short_metavar(command: Command) -> None:
    problems: list[str] = []
    for action in options(command):
        if action.help == argparse.SUPPRESS:
            if not isinstance(action, DeprecatedAlias):
                problems.append(f"{name(action)}: hidden, but not a deprecated alias")
            continue
        if not action.help or "``" in action.help:
            problems.append(f"{name(action)}: no help" if not action.help else f"{name(action)}: reST markup")
        if action.nargs == 0 or action.choices is not None:
            continue
        metavar = action.metavar
        if metavar is None:  # argparse's default: the destination (upper case for an option)
            metavar = action.dest.upper() if action.option_strings else action.dest
        if metavar not in METAVARS:
            problems.append(f"{name(action)}: metavar {metavar!r} is not one of the known short words")
    assert not problems, f"{command.path}: " + "; ".join(problems)


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_switches_files_and_places_are_spelled_one_way(command: Command) -> None:
    problems: list[str] = []
    for action in options(command):
        flags = action.option_strings
        if isinstance(action, DeprecatedAlias):
            continue
        if "--json" in flags and action.nargs != 0:
            problems.append("--json takes a value: it is a stdout switch; a file is -o/--output PATH")
        writes = "-o" in flags or "--output" in flags
        if writes and (
            flags != ["-o", "--output"] or action.nargs == 0 or action.metavar not in ("PATH", "DIR")
        ):
            problems.append(f"{name(action)} {action.metavar}: expected -o/--output PATH (or DIR)")
        for flag in flags:
            if old_spelling(flag):
                problems.append(f"{flag}: an old spelling, allowed only as a deprecated alias")
        text = (action.help or "").lower()
        if "history database" in text and flags and flags != ["--history"]:
            problems.append(f"{name(action)}: the history database is --history PATH")
        if ("baseline directory" in text or "baselines directory" in text) and flags != ["--baselines"]:
            problems.append(f"{name(action)}: the baseline directory is --baselines DIR")
        if flags == ["--history"] and action.metavar != "PATH":
            problems.append("--history takes PATH")
        if flags == ["--baselines"] and action.metavar != "DIR":
            problems.append("--baselines takes DIR")
    assert not problems, f"{command.path}: " + "; ".join(problems)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"causal-eval {__version__}"


# The old spellings: each works for one release and says, once, what to write instead.
ALIASES = [
    (["history", "--db", "h.sqlite"], ["history", "--history", "h.sqlite"], "--db", "--history"),
    (["baselines", "show", "--dir", "b"], ["baselines", "show", "--baselines", "b"], "--dir", "--baselines"),
    (
        ["baselines", "prune", "--dir", "b", "--invalid"],
        ["baselines", "prune", "--baselines", "b", "--invalid"],
        "--dir",
        "--baselines",
    ),
    (
        ["import-pytest-benchmark", "x.json", "--dir", "b"],
        ["import-pytest-benchmark", "x.json", "--baselines", "b"],
        "--dir",
        "--baselines",
    ),
    (
        ["evaluate", "--model", "oracle", "--task", "association", "--output-jsonl", "r.jsonl"],
        ["evaluate", "--model", "oracle", "--task", "association", "-o", "r.jsonl"],
        "--output-jsonl",
        "-o/--output",
    ),
    (
        ["ab", "--base", "main", "--json", "ab.json", "--", "tests"],
        ["ab", "--base", "main", "-o", "ab.json", "--", "tests"],
        "--json PATH",
        "-o/--output PATH",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "old_flag", "new_flag"), ALIASES, ids=[a[2] + " " + a[0][0] for a in ALIASES]
)
def test_old_spellings_are_deprecated_aliases(
    old: list[str], new: list[str], old_flag: str, new_flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def parsed(argv: list[str]) -> dict[str, object]:
        values = vars(build_parser().parse_args(argv))
        return {k: v for k, v in values.items() if not k.startswith("_")}

    assert parsed(old) == parsed(new)
    err = capsys.readouterr().err
    assert err.count("causal-eval: note:") == 1
    assert f"note: {old_flag} is deprecated and will be removed in the next release; use {new_flag}" in err
    build_parser().parse_args(new)
    assert capsys.readouterr().err == ""


def test_an_old_spelling_given_twice_is_noted_once(capsys: pytest.CaptureFixture[str]) -> None:
    build_parser().parse_args(["history", "--db", "a", "--db", "b"])
    assert capsys.readouterr().err.count("--db is deprecated") == 1
