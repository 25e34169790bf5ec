"""How good is ``causal-eval ab`` on this machine? Detections, false alarms, and wall time.

The script clones this repository (``git clone``) into a temporary directory and adds two commits
there, never in the repository itself:

- *plain*: a dedicated suite file ``suites/test_ab_planted.py`` with a deterministic CPU workload;
- *planted*: the same workload doing 20% more iterations (a +20% slowdown).

Each trial then runs, interleaved so that the machine's drift hits all three alike:

1. ``causal-eval ab --base plain --head planted`` (should exit 1, the planted test regressed);
2. ``causal-eval ab --base planted --head planted`` (A/A: should exit 0);
3. one normal run of the same suite selection (``pytest --causal-eval``), the wall-time reference.

The suite selection is the planted test plus eight engine benchmarks that no commit changes (their
verdicts count as false alarms too). "A single run" is one run of the suite with the default budget
(1 s per measurement); ``ab`` runs each side twice (ABBA) with half the budget each, so it measures
as long per side as a single run does, and costs about two runs plus process start-ups.

    python benchmarks/ab_quality.py              # 10 trials (about 12 minutes)
    python benchmarks/ab_quality.py --quick      # 3 trials, a smoke run
    python benchmarks/ab_quality.py --trials 20 --json out.json

Goals: A/A never fails; the planted +20% is caught in >= 9 of 10 trials; ab wall time <= 2.5x a
single run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PLANTED_ID = "suites/test_ab_planted.py::test_planted"
WORK = 30_000
SLOWDOWN = 0.20
SELECTION = (
    "suites/test_ab_planted.py",
    "suites/test_engine_core.py",
    "-k",
    "planted or test_generate or (test_evaluate_oracle and association)",
)

PLANTED_SUITE = '''"""A dedicated workload for the ab quality benchmark (only in its temporary clone)."""

WORK = {work}


def spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def test_planted(causal_bench) -> None:
    assert causal_bench(spin, WORK) >= 0
'''


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "ab-quality",
        "GIT_AUTHOR_EMAIL": "ab-quality@example.invalid",
        "GIT_COMMITTER_NAME": "ab-quality",
        "GIT_COMMITTER_EMAIL": "ab-quality@example.invalid",
    }
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return proc.stdout.strip()


def make_clone(parent: Path) -> tuple[Path, str, str]:
    clone = parent / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    suite = clone / "suites" / "test_ab_planted.py"
    suite.write_text(PLANTED_SUITE.format(work=WORK))
    git(clone, "add", str(suite))
    git(clone, "commit", "--quiet", "-m", "ab quality: plain workload")
    plain = git(clone, "rev-parse", "HEAD")
    suite.write_text(PLANTED_SUITE.format(work=round(WORK * (1 + SLOWDOWN))))
    git(clone, "commit", "--quiet", "-am", "ab quality: planted +20% slowdown")
    planted = git(clone, "rev-parse", "HEAD")
    return clone, plain, planted


EXTRA_ROUNDS = ["--extra-rounds", "2"]


def run_ab(clone: Path, base: str, head: str, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "pytest_causal_eval.cli", "ab", "--repo", str(clone), *EXTRA_ROUNDS]
    cmd += ["--base", base, "--head", head, "-o", str(out), "--", *SELECTION]
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    verdicts: dict[str, str] = {}
    changes: dict[str, float | None] = {}
    runs = 0
    order = ""
    run_seconds: list[float] = []
    planted: dict[str, Any] = {}
    if out.exists():
        doc = json.loads(out.read_text())
        runs = len(doc["extra"]["ab"]["runs"])
        order = doc["extra"]["ab"]["order"]
        run_seconds = [r["seconds"] for r in doc["extra"]["ab"]["runs"]]
        for m in doc["measurements"]:
            record = m["extra"].get("verdict") or {}
            verdicts[m["id"]] = str(record.get("verdict"))
            changes[m["id"]] = record.get("change")
            if m["id"] == PLANTED_ID:  # why it was (not) caught: interval, floor, run medians
                ab = m["extra"].get("ab") or {}
                planted = {
                    "ci": [record.get("ci_low"), record.get("ci_high")],
                    **{
                        k: ab.get(k) for k in ("floor", "base_run_medians", "head_run_medians", "replication")
                    },
                }
        out.unlink()
    if proc.returncode not in (0, 1):
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
    return {
        "code": proc.returncode,
        "seconds": seconds,
        "verdicts": verdicts,
        "changes": changes,
        "runs": runs,
        "order": order,
        "run_seconds": run_seconds,
        "planted": planted,
    }


def run_single(clone: Path, out: Path) -> float:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--causal-eval"]
    cmd += [f"--causal-eval-json={out}", f"--causal-eval-baselines={out.parent / 'none'}", *SELECTION]
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    env["PYTHONPATH"] = str(clone) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    started = time.perf_counter()
    subprocess.run(cmd, cwd=clone, capture_output=True, env=env, check=True)
    return time.perf_counter() - started


def summarize(trials: list[dict[str, Any]]) -> dict[str, Any]:
    planted = [t["planted"] for t in trials]
    aa = [t["aa"] for t in trials]
    singles = [t["single"] for t in trials]

    def others_flagged(runs: list[dict[str, Any]]) -> tuple[int, int]:
        flagged = total = 0
        for r in runs:
            for mid, verdict in r["verdicts"].items():
                if mid != PLANTED_ID:
                    total += 1
                    flagged += verdict == "regressed"
        return flagged, total

    p_flag, p_total = others_flagged(planted)
    a_flag, a_total = others_flagged(aa)
    ab_seconds = statistics.median([r["seconds"] for r in planted + aa])
    single = statistics.median(singles)
    aa_seconds = statistics.median([r["seconds"] for r in aa])
    planted_seconds = statistics.median([r["seconds"] for r in planted])
    return {
        "trials": len(trials),
        "planted_exit1": sum(r["code"] == 1 for r in planted),
        "planted_caught": sum(r["verdicts"].get(PLANTED_ID) == "regressed" for r in planted),
        "planted_changes": [r["changes"].get(PLANTED_ID) for r in planted],
        "aa_failed": sum(r["code"] != 0 for r in aa),
        "aa_planted_flagged": sum(r["verdicts"].get(PLANTED_ID) == "regressed" for r in aa),
        "unchanged_flagged": (p_flag + a_flag, p_total + a_total),
        "inconclusive": sum(v == "inconclusive" for r in planted + aa for v in r["verdicts"].values()),
        "ab_median_s": ab_seconds,
        "single_median_s": single,
        "ratio": ab_seconds / single,
        "aa_median_s": aa_seconds,
        "with_extra": sum(r.get("runs", 0) > 4 for r in planted + aa),
        "planted_median_s": planted_seconds,
    }


def table(s: dict[str, Any]) -> str:
    n = s["trials"]
    flagged, total = s["unchanged_flagged"]
    changes = [c for c in s["planted_changes"] if c is not None]
    rows = [
        (
            "planted +20%: caught (test regressed)",
            f"{s['planted_caught']}/{n}",
            ">= 9/10",
            s["planted_caught"] >= 0.9 * n,
        ),
        ("planted +20%: ab exit 1", f"{s['planted_exit1']}/{n}", "", None),
        (
            "planted +20%: median measured change",
            f"{statistics.median(changes):+.1%}" if changes else "-",
            "",
            None,
        ),
        ("A/A: ab failed (exit != 0)", f"{s['aa_failed']}/{n}", "0", s["aa_failed"] == 0),
        ("unchanged measurements flagged", f"{flagged}/{total}", "", None),
        ("inconclusive verdicts (all runs)", str(s["inconclusive"]), "", None),
        ("single suite run (median)", f"{s['single_median_s']:.1f} s", "", None),
        ("ab wall time, all trials (median)", f"{s['ab_median_s']:.1f} s", "", None),
        ("ab / single run, all trials", f"{s['ratio']:.2f}x", "<= 2.5x", s["ratio"] <= 2.5),
        ("ab runs with extra rounds", f"{s['with_extra']}/{2 * n}", "", None),
        (
            "ab / single run, A/A",
            f"{s['aa_median_s'] / s['single_median_s']:.2f}x",
            "<= 2.5x",
            s["aa_median_s"] / s["single_median_s"] <= 2.5,
        ),
        (
            "ab / single run, planted (+ confirming round)",
            f"{s['planted_median_s'] / s['single_median_s']:.2f}x",
            "",
            None,
        ),
    ]
    lines = ["| quantity | result | goal | met |", "|---|---:|---:|:---:|"]
    for name, value, goal, ok in rows:
        mark = "" if ok is None else ("yes" if ok else "NO")
        lines.append(f"| {name} | {value} | {goal} | {mark} |")
    return "\n".join(lines)


def report(i: int, n: int, trial: dict[str, Any]) -> None:
    p, a = trial["planted"], trial["aa"]
    change = p["changes"].get(PLANTED_ID) or 0.0
    print(
        f"trial {i + 1}/{n}: planted exit {p['code']} ({p['verdicts'].get(PLANTED_ID)}, {change:+.1%}) "
        f"{p['seconds']:.1f}s {p.get('order', '')}; A/A exit {a['code']} {a['seconds']:.1f}s "
        f"{a.get('order', '')}; single run {trial['single']:.1f}s",
        flush=True,
    )
    for name, run in (("planted", p), ("A/A", a)):
        for mid, verdict in sorted(run["verdicts"].items()):
            if verdict not in ("pass", "new") and not (name == "planted" and mid == PLANTED_ID):
                print(f"    {name}: {mid}: {verdict} {run['changes'].get(mid) or 0:+.1%}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--trials", type=int, default=10, help="trials (each: planted ab, A/A ab, single run)"
    )
    parser.add_argument("--quick", action="store_true", help="3 trials, a smoke run")
    parser.add_argument("--json", type=Path, help="also write the raw trials and the summary here")
    parser.add_argument(
        "--extra-rounds", default="2", help="passed to causal-eval ab (default 2, its default)"
    )
    parser.add_argument("--table-from", type=Path, metavar="JSON", help="only re-print the table of a --json")
    args = parser.parse_args()
    if args.table_from is not None:
        print(table(summarize(json.loads(args.table_from.read_text())["trials"])))
        return 0
    trials_n = 3 if args.quick else args.trials
    EXTRA_ROUNDS[1] = args.extra_rounds
    started = time.perf_counter()
    trials: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ab-quality-") as tmp:
        parent = Path(tmp)
        clone, plain, planted = make_clone(parent)
        print(f"clone at {planted[:10]} (planted) / {plain[:10]} (plain); selection: {' '.join(SELECTION)}")
        for i in range(trials_n):
            trial = {
                "planted": run_ab(clone, plain, planted, parent / "ab.json"),
                "aa": run_ab(clone, planted, planted, parent / "ab.json"),
                "single": run_single(clone, parent / "single.json"),
            }
            trials.append(trial)
            report(i, trials_n, trial)
    summary = summarize(trials)
    print()
    print(table(summary))
    print(f"\n{trials_n} trials in {time.perf_counter() - started:.0f} s")
    if args.json is not None:
        args.json.write_text(json.dumps({"summary": summary, "trials": trials}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
