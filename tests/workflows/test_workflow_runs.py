"""Every workflow's steps, executed in order on a clean clone of this repository (emulator.py).

The "origin" is a bare repository holding this checkout's HEAD as main, plus its uncommitted
changes as one more commit (so what is tested is what is on disk), and the branches and pull
request refs a test makes. Nothing outside that clone is read: a step that needs a file beside the
repository fails here as it would on a runner.

What the runner's environment sets (``_runner_env``, through PYTEST_ADDOPTS) to keep the measured
parts small: one benchmark (``-k test_replay_bbh_causal_judgement``, which reads data/), and on the
GPU host's jobs a 100 ms budget and a machine key with no committed baseline yet, as a new GPU
runner has, so no verdict of `make bench` depends on this machine's speed. `causal-eval ab`
compares two runs of the same benchmark code here; a regression it might see on this noisy machine
is a verdict, not a broken step, so the gate's test accepts either verdict but not a crash. The
self-hosted jobs run on this machine, which has no GPU: their ``--causal-eval-require-gpu`` would
fail the GPU suites, which the selection leaves out.

What cannot run here (``NOT_EMULATED``): the baselines refresh's `gh pr create` (the GitHub API
through gh; the branch push before it does run, into the origin); ci.yml's `make types` (mypy over
the package takes minutes on a cold cache; `make test`, which runs this test, runs the same target
on a fresh clone in CI). ci.yml's matrix runs the entry of this interpreter's version only. The PR
comment goes to a fake GitHub REST API on 127.0.0.1 (conftest.py); a fork's pull request waits for
an approval that never comes here.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from gitrepo import git

from .conftest import PR, REPO, TOKEN, FakeGitHub, _handler
from .emulator import Emulator, Event, JobResult, RunResult, hash_files

# One xdist worker runs them all, in order: they share the module's origin, fake GitHub and
# Actions cache (make unit runs the suite with --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("workflow-runs")]

ROOT = Path(__file__).resolve().parents[2]
BENCHMARK = "test_replay_bbh_causal_judgement"
MACHINE = "emulated-gpu-host"
MARKER = "<!-- causal-eval-report -->"
INSTRUCTIONS_MARKER = "<!-- causal-eval-instructions -->"

NOT_EMULATED = {
    ("baselines.yml", "refresh", "pull-request"): "gh pr create needs the GitHub API",
    ("ci.yml", "test", "Type-check"): "mypy takes minutes on a cold cache; make test runs it",
}


@dataclass
class Project:
    origin: Path
    src: Path
    main: str
    emulator: Emulator
    github: FakeGitHub


def _runner_env(workflow: str, job: str) -> dict[str, str]:
    if (workflow, job) == ("ci.yml", "test"):
        return {"PYTEST_ADDOPTS": "-k 'test_redact or test_the_expected_workflows_exist'"}
    if (workflow, job) == ("ci.yml", "suites"):
        return {"PYTEST_ADDOPTS": f"-k {BENCHMARK}"}
    if (workflow, job) == ("pr-regression.yml", "comment"):
        return {}
    return {"PYTEST_ADDOPTS": f"-k {BENCHMARK} --causal-eval-max-time 100ms --causal-eval-machine {MACHINE}"}


def _commit_working_tree(src: Path) -> None:
    """This checkout's uncommitted changes (tracked and new files) as one commit in ``src``."""
    changed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--modified", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    deleted = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--deleted"], capture_output=True, check=True
    ).stdout.split(b"\0")
    for raw in filter(None, deleted):
        (src / raw.decode()).unlink(missing_ok=True)
    for raw in filter(None, changed):
        name = raw.decode()
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    git(src, "add", "-A")
    if git(src, "status", "--porcelain"):
        git(src, "commit", "--quiet", "-m", "The working tree's uncommitted changes")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    work = tmp_path_factory.mktemp("actions")
    src = work / "src"
    src.mkdir()
    git(src, "init", "--quiet", "--initial-branch=main")
    git(src, "fetch", "--quiet", str(ROOT), "HEAD")
    git(src, "checkout", "--quiet", "-B", "main", "FETCH_HEAD")
    _commit_working_tree(src)
    origin = work / "origin.git"
    git(work, "init", "--quiet", "--bare", str(origin))
    git(origin, "config", "uploadpack.allowAnySHA1InWant", "true")
    git(src, "push", "--quiet", str(origin), "main")
    # The Actions cache holds this interpreter's virtualenv when it was built from this
    # pyproject.toml, as an earlier run would have saved it.
    seed = {}
    if sys.prefix != sys.base_prefix and (Path(sys.prefix) / "bin" / "actionlint").exists():
        seed[".venv"] = (Path(sys.prefix), hash_files(ROOT, ["pyproject.toml"]))
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    emulator = Emulator(
        origin=origin,
        work=work / "runs",
        repository=REPO,
        token=TOKEN,
        api_url=state.api_url,
        runner_env=_runner_env,
        not_emulated=NOT_EMULATED,
        protected_environments=frozenset({"causal-eval-gate-fork"}),
        select_matrix=lambda wf, job, combo: (
            str(combo.get("python", "")) in ("", f"{sys.version_info.major}.{sys.version_info.minor}")
        ),
        seed=seed,
    )
    try:
        yield Project(origin, src, git(src, "rev-parse", "HEAD"), emulator, state)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _branch(project: Project, name: str, files: dict[str, str], base: str = "main") -> str:
    """A branch of ``base`` with one commit writing ``files``, pushed to the origin; its commit."""
    src = project.src
    git(src, "checkout", "--quiet", "-B", name, base)
    for path, text in files.items():
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_text(text, encoding="utf-8")
    git(src, "add", "-A")
    git(src, "commit", "--quiet", "-m", f"{name}: change {', '.join(files)}")
    git(src, "push", "--quiet", "--force", str(project.origin), name)
    sha = git(src, "rev-parse", "HEAD")
    git(src, "checkout", "--quiet", "main")
    return sha


def _pull_request(
    project: Project,
    head: str,
    head_sha: str,
    *,
    number: int = PR,
    draft: bool = False,
    action: str = "opened",
    fork: bool = False,
) -> Event:
    """A pull_request event of ``head`` into main, with GitHub's refs/pull/N/head and merge refs."""
    src = project.src
    git(src, "checkout", "--quiet", "--detach", project.main)
    git(src, "merge", "--quiet", "--no-ff", "-m", f"Merge {head} into main", head_sha)
    merge = git(src, "rev-parse", "HEAD")
    git(src, "checkout", "--quiet", "main")
    git(
        src,
        "push",
        "--quiet",
        "--force",
        str(project.origin),
        f"{head_sha}:refs/pull/{number}/head",
        f"{merge}:refs/pull/{number}/merge",
    )
    changed = git(src, "diff", "--name-only", f"{project.main}...{head_sha}").splitlines()
    head_repo = "someone/eval-pipeline-fork" if fork else REPO
    payload = {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "draft": draft,
            "head": {"ref": head, "sha": head_sha, "repo": {"full_name": head_repo, "fork": fork}},
            "base": {"ref": "main", "sha": project.main, "repo": {"full_name": REPO, "fork": False}},
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
    }
    return Event("pull_request", payload, f"refs/pull/{number}/merge", merge, changed)


def _push(project: Project, branch: str = "main", sha: str | None = None) -> Event:
    sha = sha or project.main
    payload = {
        "ref": f"refs/heads/{branch}",
        "after": sha,
        "repository": {"full_name": REPO, "default_branch": "main"},
    }
    return Event("push", payload, f"refs/heads/{branch}", sha, ["pytest_causal_eval/__init__.py"])


def _succeeded(run: RunResult, *jobs: str) -> None:
    assert run.triggered, run.workflow
    for name in jobs:
        job = run.jobs[name]
        print(f"{run.workflow}/{name}: " + ", ".join(f"{s.name} {s.seconds:.0f}s" for s in job.steps))
        assert job.result == "success", f"{run.workflow}/{name}: {job.result}\n{job.log()[-6000:]}"


def _outcomes(job: JobResult) -> dict[str, str]:
    return {step.name: step.outcome for step in job.steps}


# -- push to main --------------------------------------------------------------------------------------


def test_a_push_to_main_runs_ci_on_a_clean_clone(project: Project) -> None:
    run = project.emulator.run("ci.yml", _push(project))
    _succeeded(run, "test", "suites")
    test = run.jobs["test"]
    assert _outcomes(test)["Type-check"] == "not-emulated"
    assert all(o in ("success", "not-emulated") for o in _outcomes(test).values()), _outcomes(test)
    assert "1 passed" in run.jobs["suites"].step("Benchmark suites as correctness tests").log
    # Nothing else measures a push: the baselines are refreshed at night.
    assert not project.emulator.run("baselines.yml", _push(project)).triggered


def test_gpu_bench_measures_reports_and_keeps_history_per_branch(project: Project) -> None:
    first = project.emulator.run("gpu-bench.yml", _push(project))
    _succeeded(first, "bench")
    bench = first.jobs["bench"]
    assert "restored" in bench.step("Restore the virtualenv").log
    assert "no cache" in bench.step("Restore the run history").log
    assert (
        "saved .causal-eval/history.sqlite as causal-eval-history-gpu-main-"
        in bench.step("Save the run history").log
    )
    assert first.artifacts is not None
    uploaded = first.artifacts / f"causal-eval-bench-{first.run_id}-1"
    for name in ("report/index.html", "results.json", "summary.md", "history.sqlite"):
        assert (uploaded / name).is_file(), name
    assert BENCHMARK in bench.summary  # the verdicts went to the job summary

    # A run by hand on another branch starts from main's history and adds its own run to it.
    feature = _branch(project, "history-check", {"notes/history.txt": "a change that is not Markdown\n"})
    dispatch = Event(
        "workflow_dispatch",
        {"inputs": {}, "ref": "refs/heads/history-check"},
        "refs/heads/history-check",
        feature,
    )
    second = project.emulator.run("gpu-bench.yml", dispatch)
    _succeeded(second, "bench")
    log = second.jobs["bench"].step("Restore the run history").log
    assert "causal-eval-history-gpu-main-" in log and "prefix match" in log
    assert second.artifacts is not None
    history = second.artifacts / f"causal-eval-bench-{second.run_id}-1" / "history.sqlite"
    with sqlite3.connect(history) as db:
        (runs,) = db.execute("SELECT count(*) FROM runs").fetchone()
    assert runs == 2
    assert (
        "as causal-eval-history-gpu-history-check-" in second.jobs["bench"].step("Save the run history").log
    )


def test_the_nightly_refresh_pushes_new_baselines_to_a_branch(project: Project) -> None:
    event = Event("schedule", {"schedule": "23 3 * * *"}, "refs/heads/main", project.main)
    run = project.emulator.run("baselines.yml", event)
    _succeeded(run, "refresh")
    outcomes = _outcomes(run.jobs["refresh"])
    assert outcomes["Push the baselines branch"] == "success"
    assert outcomes["Open the pull request"] == "not-emulated"
    pushed = git(project.origin, "ls-tree", "--name-only", "causal-eval/refresh-baselines", "baselines/")
    assert f"baselines/{MACHINE}.json" in pushed.splitlines()
    # Not on a push to main: gpu-bench.yml measures those.
    assert not project.emulator.run("baselines.yml", _push(project)).triggered


# -- pull requests -------------------------------------------------------------------------------------


def test_the_pr_gate_measures_base_and_head_and_comments_with_the_run(project: Project) -> None:
    head = _branch(
        project, "faster-prompts", {"suites/extra_note.py": '"""A module the suites do not import."""\n'}
    )
    run = project.emulator.run("pr-regression.yml", _pull_request(project, "faster-prompts", head))
    _succeeded(run, "ab", "instructions", "comment")
    assert run.jobs["ab"].environment == "causal-eval-gate"
    ab_log = run.jobs["ab"].step("A/B benchmark suites").log
    assert head[:10] in ab_log and project.main[:10] in ab_log
    assert run.artifacts is not None
    assert (run.artifacts / f"causal-eval-ab-pr{PR}" / "ab.md").is_file()
    (comment,) = [c for c in project.github.comments if MARKER in c["body"]]
    assert BENCHMARK in comment["body"]
    assert f"https://github.example/{REPO}/actions/runs/{run.run_id}" in comment["body"]
    # The instruction-count job on a GitHub-hosted runner: one counted run per side, its own comment.
    counted = run.jobs["instructions"]
    assert _outcomes(counted)["Install valgrind"] == "success"
    log = counted.step("A/B instruction counts").log
    assert "instruction counts (valgrind callgrind), one run per side (AB)" in log
    assert head[:10] in log and project.main[:10] in log
    assert (run.artifacts / f"causal-eval-ab-instructions-pr{PR}" / "ab-instructions.md").is_file()
    (counts,) = [c for c in project.github.comments if INSTRUCTIONS_MARKER in c["body"]]
    assert BENCHMARK in counts["body"] and "instructions" in counts["body"]


def test_a_gate_that_dies_replaces_the_comment_with_a_link_to_the_run(project: Project) -> None:
    project.github.comments.clear()  # one marked comment: this one, from an earlier run
    stale = project.github.add_comment(
        f"{MARKER}\n| test_x | regressed | +40% |\n", login="github-actions[bot]"
    )
    # A head whose pyproject.toml does not parse: the gate dies in `make setup`, before ab writes.
    head = _branch(project, "broken-build", {"pyproject.toml": "[project\nname = 'x'\n"})
    run = project.emulator.run("pr-regression.yml", _pull_request(project, "broken-build", head, number=PR))
    assert run.jobs["ab"].result == "failure"
    assert _outcomes(run.jobs["ab"])["Set up the virtualenv"] == "failure"
    _succeeded(run, "comment")
    body = stale["body"]
    assert "the gate did not finish" in body
    assert f"see run https://github.example/{REPO}/actions/runs/{run.run_id}" in body
    assert "regressed" not in body


def test_drafts_docs_only_and_fork_pull_requests(project: Project) -> None:
    emulator = project.emulator
    head = _branch(project, "draft-work", {"suites/draft_note.py": "# draft\n"})
    draft = emulator.run(
        "pr-regression.yml", _pull_request(project, "draft-work", head, number=11, draft=True)
    )
    assert draft.triggered and {j.result for j in draft.jobs.values()} == {"skipped"}
    ready = _pull_request(project, "draft-work", head, number=11, action="ready_for_review")
    assert emulator.triggered(_workflow(project, "pr-regression.yml"), ready)

    docs = _branch(
        project, "docs-only", {"README.md": "# pytest-causal-eval\n\nShorter.\n", "suites/README.md": "x\n"}
    )
    assert not emulator.run(
        "pr-regression.yml", _pull_request(project, "docs-only", docs, number=12)
    ).triggered

    # The instruction-count job's steps ran in full in the PR gate's test: here only whether it runs.
    fork = emulator.run(
        "pr-regression.yml",
        _pull_request(project, "draft-work", head, number=13, fork=True),
        gate_only={"instructions"},
    )
    assert fork.jobs["ab"].environment == "causal-eval-gate-fork"
    assert fork.jobs["ab"].result == "waiting"  # until a maintainer approves it
    assert fork.jobs["instructions"].environment is None  # a hosted runner: no approval needed
    assert fork.jobs["instructions"].result == "would-run"  # not held back, not skipped
    assert fork.jobs["comment"].result == "waiting"  # behind it; and its if: leaves forks out


def _workflow(project: Project, name: str) -> dict[str, Any]:
    import yaml

    text = git(project.origin, "show", f"{project.main}:.github/workflows/{name}")
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


# -- the emulator fails what cannot work -----------------------------------------------------------------

OUTSIDE = """\
on: push
permissions: {}
jobs:
  bench:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - name: Read the data beside the repository
        run: test -d ../data/cladder && ls ../data/cladder
      - name: Never reached
        run: echo unreachable
"""


def test_a_step_reading_files_outside_the_repository_fails(project: Project, data_dir: Path) -> None:
    sha = _branch(project, "outside", {".github/workflows/outside.yml": OUTSIDE})
    run = project.emulator.run("outside.yml", _push(project, "outside", sha))
    job = run.jobs["bench"]
    assert job.result == "failure"
    assert _outcomes(job) == {
        "actions/checkout@v6": "success",
        "Read the data beside the repository": "failure",
        "Never reached": "skipped",
    }
    assert (data_dir / "cladder").is_dir()  # it is there, inside the repository
