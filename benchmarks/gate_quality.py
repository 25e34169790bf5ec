"""How good is the time gate? False alarms and power, side by side with pytest-benchmark.

One project with four workloads of different kinds (a pure-Python loop, string building, sorting,
a small evaluation of the causal engine), each written twice: as a ``causal_bench`` test and as a
pytest-benchmark ``benchmark`` test. Each workload is a fixed number of identical work units; a
planted slowdown of +s% runs s% more units (``GATE_QUALITY_PLANTED``), so the work grows by exactly
that much.

As users do, each tool's baseline is saved **once**, at the start, on unchanged code:
``pytest --causal-eval --causal-eval-save`` and ``pytest --benchmark-save``. Then every trial runs,
for every planted slowdown (in an order rotated per trial), one session of each tool (in alternating
order), so that the machine's drift touches both tools and every level alike. Each session is an
ordinary pytest run with the tool's defaults:

- ours: ``pytest --causal-eval`` (10% threshold, default measuring time, re-measuring when
  undecided, the foreign-load rule), judged by the plugin's verdicts (regressed / inconclusive);
- pytest-benchmark: ``pytest --benchmark-compare=0001 --benchmark-compare-fail=median:10%``,
  judged by the regressions it reports.

``--busy`` starts a spinning process on every other CPU after the saves (the baselines are saved
on whatever the machine is doing then), as a shared CI runner or a laptop with a build running.

    python benchmarks/gate_quality.py --quick          # 2 trials per slowdown, a smoke run
    python benchmarks/gate_quality.py --trials 6       # 24 judgements per tool and slowdown
    python benchmarks/gate_quality.py --trials 9 --saves 3 --json quiet.json
    python benchmarks/gate_quality.py --trials 6 --busy --json busy.json

On a shared machine one saving session can be 1.5x slow, and then every later judgement of that
tool is off by as much: with ``--saves N`` the trials are split into N blocks, each with baselines
saved afresh (still once per block, as users do), so the table samples that luck instead of
reporting one draw of it. ``--json`` keeps every judgement with its interval and rounds and each
baseline's rounds, so another decision rule can be replayed on the same data.

The table gives, per tool, workload and planted slowdown, ``regressed / inconclusive / trials``.
At 0% and +5% (below the 10% threshold) every flag is a false alarm; at +15% and +25% a flag is a
catch. Our goal: at least as good as pytest-benchmark on both (fewer or as many false alarms, as
many or more catches); the verdict line says where we are not.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LEVELS = (0.0, 0.05, 0.15, 0.25)
KINDS = ("loop", "strings", "sort", "engine")
TOOLS = ("causal-eval", "pytest-benchmark")
UNITS = 20  # work units a call runs at 0%: +5% is 21 units, +15% 23, +25% 25
PLANTED_ENV = "GATE_QUALITY_PLANTED"

WORKLOADS = f'''
"""The workloads: UNITS identical work units a call, times (1 + planted slowdown)."""

import itertools
import os
import random

CALLS = round({UNITS} * (1.0 + float(os.environ.get("{PLANTED_ENV}", "0"))))
DATA = [random.Random(0).random() for _ in range(300)]
_ENGINE = []


def _loop():
    total = 0
    for i in range(400):
        total += i * i % 7
    return total


def _strings():
    return "".join(f"{{i}}:{{i * 3}};" for i in range(80))


def _sort():
    return sorted(DATA)


def _engine():
    if not _ENGINE:
        from pytest_causal_eval.engine import Evaluator, create_model, create_task

        task = create_task("intervention", difficulty="easy")
        questions = list(itertools.islice(task.questions(seed=0), 1))
        _ENGINE.append((Evaluator(create_model("oracle"), batch_size=1), questions))
    evaluator, questions = _ENGINE[0]
    return evaluator.run(questions, n=1).accuracy


def _repeat(unit):
    def run():
        for _ in range(CALLS):
            unit()

    return run


UNITS = {{"loop": _loop, "strings": _strings, "sort": _sort, "engine": _engine}}
WORKLOADS = {{name: _repeat(unit) for name, unit in UNITS.items()}}
'''

OURS = "from workloads import WORKLOADS\n" + "".join(
    f"\n\ndef test_{kind}(causal_bench):\n    causal_bench(WORKLOADS[{kind!r}])\n" for kind in KINDS
)
THEIRS = "from workloads import WORKLOADS\n" + "".join(
    f"\n\ndef test_{kind}(benchmark):\n    benchmark(WORKLOADS[{kind!r}])\n" for kind in KINDS
)
BASE = ("-q", "-p", "no:cacheprovider", "-p", "no:randomly")


def make_project(root: Path) -> None:
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "workloads.py").write_text(WORKLOADS)
    (root / "test_ours.py").write_text(OURS)
    (root / "test_theirs.py").write_text(THEIRS)


def pytest_run(root: Path, planted: float, args: list[str]) -> tuple[subprocess.CompletedProcess[str], float]:
    env = dict(os.environ, **{PLANTED_ENV: repr(planted)}, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    env.pop("CI", None)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *BASE, *args], cwd=root, env=env, capture_output=True, text=True
    )
    return done, time.perf_counter() - started


def _storage(root: Path) -> str:
    return "--benchmark-storage=file://" + str(root / ".benchmarks")


def save_baselines(root: Path) -> None:
    ours, _ = pytest_run(root, 0.0, ["test_ours.py", "--causal-eval", "--causal-eval-save"])
    theirs, _ = pytest_run(
        root, 0.0, ["test_theirs.py", _storage(root), "--benchmark-save=base", "--benchmark-save-data"]
    )
    for name, done in (("causal-eval", ours), ("pytest-benchmark", theirs)):
        if done.returncode != 0:
            sys.exit(f"saving the {name} baseline failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def saved_samples(root: Path) -> dict[str, dict[str, list[float]]]:
    """The rounds each tool's saved baseline holds, per workload (for replaying other rules)."""
    [ours] = sorted((root / "baselines").glob("*.json"))
    [theirs] = sorted((root / ".benchmarks").rglob("0001_*.json"))
    entries = json.loads(ours.read_text())["measurements"]
    return {
        "causal-eval": {key.rsplit("test_", 1)[-1]: e["time"]["samples"] for key, e in entries.items()},
        "pytest-benchmark": {
            b["name"].split("test_", 1)[-1]: b["stats"]["data"]
            for b in json.loads(theirs.read_text())["benchmarks"]
        },
    }


def run_ours(root: Path, planted: float, extra: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    out = root / "ours.json"
    out.unlink(missing_ok=True)
    args = ["test_ours.py", "--causal-eval", "--causal-eval-json", str(out), *extra]
    done, seconds = pytest_run(root, planted, args)
    if not out.exists():
        sys.exit(f"the causal-eval session wrote no results:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    judged: dict[str, dict[str, Any]] = {}
    for m in json.loads(out.read_text())["measurements"]:
        kind = m["id"].rsplit("test_", 1)[-1]
        record = m["extra"].get("verdict") or {}
        judged[kind] = {
            "verdict": record.get("verdict"),
            "remeasured": m["extra"].get("remeasured", 0),
            "change": record.get("change"),
            "ci_low": record.get("ci_low"),
            "ci_high": record.get("ci_high"),
            "reason": record.get("reason", ""),
            "foreign_share": (m["extra"].get("load") or {}).get("foreign_share"),
            "session_seconds": seconds,
            "samples": m["samples"],
        }
    return judged


_FAILED = re.compile(r"test_(\w+).*Field 'median' has failed")


def _medians(doc: dict[str, Any]) -> dict[str, float]:
    return {b["name"].split("test_", 1)[-1]: float(b["stats"]["median"]) for b in doc["benchmarks"]}


def run_theirs(root: Path, planted: float) -> dict[str, dict[str, Any]]:
    out = root / "theirs.json"
    out.unlink(missing_ok=True)
    args = [
        "test_theirs.py",
        _storage(root),
        "--benchmark-compare=0001",
        "--benchmark-compare-fail=median:10%",
        f"--benchmark-json={out}",
    ]
    done, seconds = pytest_run(root, planted, args)
    if not out.exists():
        sys.exit(
            f"the pytest-benchmark session wrote no results:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    flagged = {m.group(1) for m in _FAILED.finditer(done.stdout + done.stderr)}
    [saved] = sorted((root / ".benchmarks").rglob("0001_*.json"))
    doc = json.loads(out.read_text())
    base, now = _medians(json.loads(saved.read_text())), _medians(doc)
    data = {b["name"].split("test_", 1)[-1]: b["stats"]["data"] for b in doc["benchmarks"]}
    return {
        kind: {
            "verdict": "regressed" if kind in flagged else "pass",
            "change": now[kind] / base[kind] - 1.0,
            "session_seconds": seconds,
            "samples": data[kind],
        }
        for kind in now
    }


def start_busy() -> list[subprocess.Popen[bytes]]:
    """A spinning process on every other CPU (at least one)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(max(1, cpus // 2))]


def run_trials(
    trials: int,
    levels: tuple[float, ...],
    busy: bool,
    ours_args: tuple[str, ...] = (),
    saves: int = 1,
) -> tuple[list[dict[str, Any]], list[dict[str, dict[str, list[float]]]]]:
    """The judgements of every trial, and the rounds each tool's baseline was saved with.

    With ``saves`` above 1 the trials are split into that many blocks; each block starts from a
    fresh project whose baselines are saved once, so the luck of one saving session (the machine's
    speed then) is sampled several times instead of deciding every judgement."""
    rows: list[dict[str, Any]] = []
    saved: list[dict[str, dict[str, list[float]]]] = []
    started = time.perf_counter()
    blocks = [len(range(b, trials, saves)) for b in range(saves)]
    trial = 0
    for save, count in enumerate(blocks):
        with tempfile.TemporaryDirectory(prefix="gate-quality-") as tmp:
            root = Path(tmp)
            make_project(root)
            save_baselines(root)
            saved.append(saved_samples(root))
            spinners = start_busy() if busy else []
            try:
                for _ in range(count):
                    order = levels[trial % len(levels) :] + levels[: trial % len(levels)]
                    for i, level in enumerate(order):
                        tools = TOOLS if (trial + i) % 2 == 0 else TOOLS[::-1]
                        for tool in tools:
                            judged = (
                                run_ours(root, level, ours_args)
                                if tool == "causal-eval"
                                else run_theirs(root, level)
                            )
                            for kind, result in judged.items():
                                rows.append(
                                    {
                                        "trial": trial,
                                        "save": save,
                                        "tool": tool,
                                        "kind": kind,
                                        "planted": level,
                                        **result,
                                    }
                                )
                    trial += 1
                    elapsed = time.perf_counter() - started
                    print(f"trial {trial}/{trials} done ({elapsed:.0f}s)", file=sys.stderr, flush=True)
            finally:
                for spinner in spinners:
                    spinner.kill()
                    spinner.wait()
    return rows, saved


def _cell(rows: list[dict[str, Any]]) -> str:
    regressed = sum(1 for r in rows if r["verdict"] == "regressed")
    inconclusive = sum(1 for r in rows if r["verdict"] == "inconclusive")
    return f"{regressed} / {inconclusive} / {len(rows)}"


def render(rows: list[dict[str, Any]], levels: tuple[float, ...]) -> list[str]:
    lines = [
        "flagged regressed / inconclusive / trials, per tool, workload and planted slowdown",
        "",
        "| tool | workload | " + " | ".join(f"+{level:.0%}" for level in levels) + " |",
        "|---|---|" + "---|" * len(levels),
    ]
    for tool in TOOLS:
        for kind in (*KINDS, "all"):
            cells = []
            for level in levels:
                chosen = [
                    r
                    for r in rows
                    if r["tool"] == tool and r["planted"] == level and kind in ("all", r["kind"])
                ]
                cells.append(_cell(chosen))
            name = "**all**" if kind == "all" else kind
            lines.append(f"| {tool} | {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| planted | median measured change: causal-eval | pytest-benchmark |")
    lines.append("|---|---|---|")
    for level in levels:
        changes = []
        for tool in TOOLS:
            values = [
                r["change"]
                for r in rows
                if r["tool"] == tool and r["planted"] == level and r["change"] is not None
            ]
            changes.append(f"{statistics.median(values):+.1%}" if values else "-")
        lines.append(f"| +{level:.0%} | " + " | ".join(changes) + " |")
    shares = [r["foreign_share"] for r in rows if r.get("foreign_share") is not None]
    busy = sum(1 for r in rows if r.get("reason"))
    if shares:
        lines.append("")
        lines.append(
            f"foreign CPU load read during our timed rounds: median {statistics.median(shares):.0%}, "
            f"max {max(shares):.0%}; {busy} time regression(s) made inconclusive by it"
        )
    for tool in TOOLS:
        seconds = sorted(
            {(r["trial"], r["planted"], r["session_seconds"]) for r in rows if r["tool"] == tool}
        )
        if seconds:
            lines.append(
                f"{tool}: median session {statistics.median(s for *_, s in seconds):.1f} s (4 workloads)"
            )
    lines.append("")
    lines.extend(verdict_lines(rows, levels))
    return lines


def verdict_lines(rows: list[dict[str, Any]], levels: tuple[float, ...]) -> list[str]:
    """Where we are at least as good as pytest-benchmark, and where we are not."""
    out = []
    for level in levels:
        flags = {
            tool: sum(
                1 for r in rows if r["tool"] == tool and r["planted"] == level and r["verdict"] == "regressed"
            )
            for tool in TOOLS
        }
        ours, theirs = flags["causal-eval"], flags["pytest-benchmark"]
        if level < 0.10:
            good = ours <= theirs
            what = "false alarms"
        else:
            good = ours >= theirs
            what = "caught"
        verdict = "at least as good" if good else "WORSE than pytest-benchmark"
        out.append(f"+{level:.0%}: {what}: causal-eval {ours}, pytest-benchmark {theirs}: {verdict}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--trials", type=int, default=6, help="trials per slowdown (default 6: 24 judgements)"
    )
    parser.add_argument("--quick", action="store_true", help="2 trials per slowdown")
    parser.add_argument(
        "--saves",
        type=int,
        default=1,
        help="baselines saved afresh this many times, the trials split between them (default 1)",
    )
    parser.add_argument(
        "--busy", action="store_true", help="a spinning process on every other CPU during the trials"
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="also write the raw results here: every judgement with its rounds, and each baseline's rounds",
    )
    parser.add_argument(
        "--ours-arg",
        action="append",
        default=[],
        help="an extra option for our judging sessions, e.g. --ours-arg=--causal-eval-max-foreign-load=off",
    )
    parser.add_argument(
        "--levels",
        default=",".join(f"{level * 100:g}" for level in LEVELS),
        help="planted slowdowns in percent, comma-separated (default 0,5,15,25)",
    )
    args = parser.parse_args(argv)
    trials = 2 if args.quick else args.trials
    if trials < 1:
        parser.error("--trials must be at least 1")
    if not 1 <= args.saves <= trials:
        parser.error(f"--saves must be between 1 and the number of trials ({trials})")
    try:
        levels = tuple(float(x) / 100.0 for x in args.levels.split(",") if x.strip())
    except ValueError:
        parser.error(f"--levels: expected comma-separated percentages such as 0,5,15, got {args.levels!r}")
    if not levels or any(level < 0 for level in levels):
        parser.error("--levels: give at least one slowdown, none negative")
    started = time.perf_counter()
    rows, saved = run_trials(trials, levels, args.busy, tuple(args.ours_arg), args.saves)
    lines = render(rows, levels)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines.append(
        f"total runtime {time.perf_counter() - started:.0f} s, {trials} trials per slowdown"
        f"{f', baselines saved {args.saves} times' if args.saves > 1 else ''}"
        f"{', busy' if args.busy else ''}{'; ours with ' + ' '.join(args.ours_arg) if args.ours_arg else ''}"
        f"; load average at the end {load:.2f} on {os.cpu_count()} CPUs"
    )
    print("\n".join(lines))
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "baselines": saved}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
