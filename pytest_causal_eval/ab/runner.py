"""Running the two sides of an A/B comparison: worktrees, alternating pytest processes, results.

Which code is measured, and by what
-----------------------------------
Each run is a fresh ``python -m pytest`` whose working directory is the side's worktree and whose
``PYTHONPATH`` starts with it, so the suites *and the package they import* are that revision's.
The measuring plugin is whatever ``import pytest_causal_eval`` finds in that process: for a
project that depends on pytest-causal-eval it is the installed one (the environment running
``causal-eval ab``), identical for both sides. For a repository that *is* pytest-causal-eval, the
worktree's copy shadows the installed one, so each side is measured by its own revision of the
plugin; that is fine as long as both write the results format this version reads, and a side whose
results cannot be read (an old revision, a plugin that fails to load) is reported as not measured,
with the tail of its output, instead of crashing the command.

Each run gets ``-p no:cacheprovider`` (nothing written into the worktree's cache), a JUnit XML
report in the temporary directory (it names each failing test with the first line of its failure,
whatever the suite's verbosity and terminal width), an empty temporary ``--causal-eval-baselines``
directory (stored baselines must not gate or be updated by the runs), its own
``--causal-eval-json`` and report directory, ``--causal-eval-history=off`` (a run with a fraction
of the budget must not land in the user's history database), no
``GITHUB_STEP_SUMMARY`` (the A/B command writes the one summary itself), and
``--causal-eval-health-sample=off``: the machine's health is sampled once by the A/B command before
the first run (``--causal-eval-health-sample`` among the pytest arguments sets how long), not again
by each of the four to six processes.

The time budget
---------------
A normal run gives each measurement ``--causal-eval-max-time`` (default 1 s). With R rounds each
side runs R times, so each run gets ``budget / R``: the measuring time per side equals one normal
run and the pooled rounds carry the same statistical power, while the whole command costs about two
normal runs (one per side) plus R-fold process start-up and warm-up. ``--causal-eval-max-time``
given among the pytest arguments is taken as that budget.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pytest_causal_eval.results import ResultsFormatError, RunResults

__all__ = [
    "DEFAULT_BUDGET",
    "RunRecord",
    "Side",
    "child_env",
    "junit_failures",
    "letters",
    "pytest_command",
    "run_pytest",
    "schedule",
    "split_flag",
]

Side = Literal["base", "head"]
DEFAULT_BUDGET = 1.0
MAX_TIME_FLAG = "--causal-eval-max-time"
HEALTH_FLAG = "--causal-eval-health-sample"
MODE_FLAG = "--causal-eval-mode"
LOAD_FLAG = "--causal-eval-max-foreign-load"
TAIL_LINES = 25


def schedule(rounds: int) -> list[Side]:
    """A B, B A, A B, ... for ``rounds`` rounds (2 rounds: A B B A)."""
    order: list[Side] = []
    for r in range(rounds):
        order.extend(("base", "head") if r % 2 == 0 else ("head", "base"))
    return order


def letters(sides: Sequence[Side]) -> str:
    """The sides as the letters the reports use: base A, head B ("ABBA")."""
    return "".join("A" if side == "base" else "B" for side in sides)


def split_flag(pytest_args: Sequence[str], flag: str) -> tuple[list[str], str | None]:
    """The pytest arguments without ``flag`` (``--flag V`` or ``--flag=V``) and the value it had (last
    one wins); ab takes ``--causal-eval-max-time`` and ``--causal-eval-health-sample`` for itself."""
    out: list[str] = []
    value: str | None = None
    args = list(pytest_args)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == flag and i + 1 < len(args):
            value = args[i + 1]
            i += 2
            continue
        if arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
            i += 1
            continue
        out.append(arg)
        i += 1
    return out, value


def pytest_command(
    python: str,
    json_path: Path,
    baselines_dir: Path,
    report_dir: Path,
    max_time: float,
    pytest_args: Sequence[str],
    junit_path: Path | None = None,
) -> list[str]:
    # Paths go in the --flag=value form: pytest takes every positional-looking argument that names an
    # existing path into account when it picks the rootdir, which would change the tests' node ids.
    # xunit1 records each test's file, from which its node id is rebuilt (junit_failures).
    junit = [f"--junitxml={junit_path}", "-o", "junit_family=xunit1"] if junit_path is not None else []
    return [
        python,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--causal-eval",
        f"--causal-eval-json={json_path}",
        f"--causal-eval-baselines={baselines_dir}",
        f"--causal-eval-report={report_dir}",
        f"{MAX_TIME_FLAG}={max_time:.6g}",
        f"{HEALTH_FLAG}=off",
        "--causal-eval-history=off",
        *junit,
        *pytest_args,
    ]


def child_env(worktree: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a run: the worktree first on PYTHONPATH, no GitHub step summary."""
    env = dict(environ)
    env.pop("GITHUB_STEP_SUMMARY", None)
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(worktree) + (os.pathsep + old if old else "")
    return env


@dataclass
class RunRecord:
    """One pytest process of one side. ``problem`` is set when its results cannot be used."""

    side: Side
    index: int
    returncode: int
    seconds: float
    results: RunResults | None = None
    problem: str | None = None
    tail: list[str] = field(default_factory=list)
    #: Tests that failed (or errored) in this run: node id -> the first line of the failure.
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.results is not None and self.problem is None

    def to_dict(self) -> dict[str, object]:
        return {
            "side": self.side,
            "index": self.index,
            "returncode": self.returncode,
            "seconds": round(self.seconds, 3),
            "measurements": len(self.results.measurements) if self.results is not None else 0,
            "failures": dict(self.failures),
            "quarantined": dict(self.results.quarantined) if self.results is not None else {},
            "problem": self.problem,
            "tail": list(self.tail) if self.problem else [],
        }


_EXIT_MEANING = {
    2: "interrupted or a collection error",
    3: "an internal error",
    4: "a pytest usage error",
    5: "no tests were collected",
}

Launcher = Callable[[list[str], Path, dict[str, str]], tuple[int, str]]


def launch(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run one process to completion; its exit status and combined output. Ctrl-C kills it."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        check=False,
    )
    return proc.returncode, proc.stdout or ""


def run_pytest(
    side: Side,
    index: int,
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    json_path: Path,
    launcher: Launcher = launch,
    *,
    junit_path: Path | None = None,
) -> RunRecord:
    """Run one side once and read its results file, and the failing tests from its JUnit report
    when it has failing tests (a problem is recorded, never raised)."""
    started = time.perf_counter()
    try:
        code, output = launcher(cmd, cwd, env)
    except OSError as exc:
        return RunRecord(
            side, index, -1, time.perf_counter() - started, problem=f"cannot start {cmd[0]}: {exc}"
        )
    record = RunRecord(side, index, code, time.perf_counter() - started)
    record.tail = output.rstrip().splitlines()[-TAIL_LINES:]
    if code == 1 and junit_path is not None:
        record.failures = junit_failures(junit_path)
    if code not in (0, 1):
        meaning = _EXIT_MEANING.get(code, "an unexpected status")
        record.problem = f"pytest exited with status {code} ({meaning})"
        return record
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
        record.results = RunResults.from_dict(data)
    except OSError:
        record.problem = f"pytest exited with status {code} but wrote no results file"
    except json.JSONDecodeError as exc:
        record.problem = f"its results file is not valid JSON (line {exc.lineno}: {exc.msg})"
    except ResultsFormatError as exc:
        record.problem = f"its results file cannot be read by this version: {exc}"
    return record


def _node_id(case: ET.Element) -> str:
    """The pytest node id of a JUnit (xunit1) test case: its file, the classes in its classname past
    the module's dotted path, and its name (parameters included). pytest builds the classname from
    the node id (path separators to dots, ``.py`` dropped), so this undoes it."""
    path = case.get("file") or ""
    classname = case.get("classname") or ""
    name = case.get("name") or ""
    if path.endswith(".py"):
        module = path[: -len(".py")].replace("/", ".").replace("\\", ".")
        if classname == module:
            return f"{path}::{name}"
        if classname.startswith(module + "."):
            return "::".join([path, *classname[len(module) + 1 :].split("."), name])
    return f"{classname}::{name}" if classname else name


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def junit_failures(path: Path) -> dict[str, str]:
    """Failed and errored tests of a JUnit XML report: node id -> the first line of the failure's
    message (without one, the last line of its text: the exception); empty when the file is missing
    or unreadable (the run's exit status still says that tests failed)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return {}
    out: dict[str, str] = {}
    for case in root.iter("testcase"):
        for kind in ("failure", "error"):
            found = case.find(kind)
            if found is None:
                continue
            text = [line.strip() for line in (found.text or "").splitlines() if line.strip()]
            message = _first_line(found.get("message") or "") or (text[-1] if text else kind)
            out.setdefault(_node_id(case), message if kind == "failure" else f"error: {message}")
    return out
