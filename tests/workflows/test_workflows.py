"""The GitHub Actions workflows: actionlint-clean, and shaped as the project needs.

actionlint is the native binary the dev extra installs beside this interpreter; it runs Debian's
shellcheck over the run: scripts. Without shellcheck these tests are skipped with the reason, and
fail under CI=true. The structural tests read the YAML: GPU jobs on the self-hosted GPU runner, in
one queue, failing without a GPU; one measuring workflow per purpose; the virtualenv and the run
history cached; minimal permissions; the PR gate skipping drafts and docs-only changes, holding
forks for approval and always commenting with a run link; and every project command a step runs
exists (Makefile targets and variables, causal-eval subcommands and their flags, the plugin's
--causal-eval flags). test_workflow_runs.py executes the workflows' steps.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
CONFIG = ROOT / ".github" / "actionlint.yaml"
ACTIONLINT = Path(sys.executable).parent / "actionlint"
GPU_LABELS = ["self-hosted", "linux", "gpu"]
GPU_JOBS = {("gpu-bench.yml", "bench"), ("pr-regression.yml", "ab"), ("baselines.yml", "refresh")}
GPU_HOST_GROUP = "causal-eval-gpu-host"
EXPECTED = ("ci.yml", "gpu-bench.yml", "pr-regression.yml", "baselines.yml")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: make lint and make test install it)")
    pytest.skip(reason)


def _actionlint(*args: str | Path) -> subprocess.CompletedProcess[str]:
    if not ACTIONLINT.is_file():
        _unavailable(f"actionlint is not installed beside {sys.executable} (make setup installs it)")
    if shutil.which("shellcheck") is None:
        _unavailable("shellcheck is not installed: actionlint would not check run: scripts")
    command = [str(ACTIONLINT), "-config-file", str(CONFIG), "-format", "{{json .}}", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)


def load(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict), name
    return data


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    assert isinstance(on, dict)
    return on


def steps(workflow: dict[Any, Any], job: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, spec in workflow["jobs"].items():
        if job is None or name == job:
            for step in spec.get("steps", []):
                yield name, step


def run_scripts(workflow: dict[Any, Any], job: str | None = None) -> list[str]:
    return [step["run"] for _, step in steps(workflow, job) if "run" in step]


def all_workflows() -> list[str]:
    return sorted(p.name for p in WORKFLOWS.glob("*.yml")) + sorted(p.name for p in WORKFLOWS.glob("*.yaml"))


# -- actionlint --------------------------------------------------------------------------------------


def test_the_expected_workflows_exist() -> None:
    assert set(EXPECTED) <= set(all_workflows())


def test_every_workflow_passes_actionlint() -> None:
    files = [WORKFLOWS / name for name in all_workflows()]
    done = _actionlint(*files)
    findings = json.loads(done.stdout or "null") or []
    assert findings == [], "\n".join(
        f"{f['filepath']}:{f['line']}:{f['column']}: {f['message']}" for f in findings
    )
    assert done.returncode == 0, done.stderr


BROKEN = """\
on:
  push:
  schedule:
    - cron: "61 * * * *"
permissions:
  contents: read
  pull-request: write
jobs:
  bench:
    runs-on: [self-hosted, linux, tpu]
    steps:
      - run: echo "${{ steps.missing.outputs.value }}"
  gated:
    needs: nonexistent
    runs-on: [self-hosted, linux, gpu]
    steps:
      - uses: actions/checkout@v4
      - run: |
          for f in $(ls *.json); do rm $f; done
"""


def test_the_linter_finds_mistakes_and_runs_shellcheck(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN, encoding="utf-8")
    done = _actionlint(broken)
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)
    kinds = {f["kind"] for f in findings}
    assert {"permissions", "runner-label", "expression", "job-needs", "events", "shellcheck"} <= kinds, (
        findings
    )
    labels = [f["message"] for f in findings if f["kind"] == "runner-label"]
    # Our runners' custom label is known (.github/actionlint.yaml); any other is still a finding.
    assert len(labels) == 1 and '"tpu"' in labels[0]
    shell = " ".join(f["message"] for f in findings if f["kind"] == "shellcheck")
    assert "SC2086" in shell  # the unquoted $f
    # An action on a retired runtime is a finding too.
    assert any(f["kind"] == "action" and "actions/checkout@v4" in f["message"] for f in findings)
    assert all((ROOT / f["filepath"]).resolve() == broken.resolve() for f in findings)


def _without_shellcheck(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has what the install script needs, but no shellcheck or apt-get."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("id", "env"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = str(bin_dir)
    return env


def test_lint_says_when_shellcheck_is_missing_and_fails_under_ci(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "install-actionlint.sh"
    bash = shutil.which("bash")
    assert bash is not None
    env = _without_shellcheck(tmp_path)
    local = subprocess.run([bash, str(script)], env=env, capture_output=True, text=True, check=False)
    assert local.returncode == 0
    assert "shellcheck is not installed" in local.stderr and "run: scripts" in local.stderr
    ci = subprocess.run(
        [bash, str(script)], env={**env, "CI": "true"}, capture_output=True, text=True, check=False
    )
    assert ci.returncode == 1 and "CI=true" in ci.stderr


def test_make_lint_runs_actionlint_after_installing_shellcheck() -> None:
    targets, _ = _makefile()
    recipe = targets["lint"]
    assert "scripts/install-actionlint.sh" in recipe
    assert recipe.index("install-actionlint.sh") < recipe.index("bin/actionlint")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'"actionlint-[a-z]+==[\d.]+"', pyproject), "the linter is pinned in the dev extra"
    services = (ROOT / "scripts" / "test-services.sh").read_text(encoding="utf-8")
    assert "need+=(shellcheck)" in services
    assert not (ROOT / "scripts" / "actionlint.cjs").exists()


# -- shape -------------------------------------------------------------------------------------------


def _permissions(spec: Any) -> dict[str, str]:
    assert spec is not None, "permissions must be set explicitly"
    assert isinstance(spec, dict), f"permissions must list scopes, not {spec!r}"
    return {str(k): str(v) for k, v in spec.items()}


def test_permissions_are_minimal() -> None:
    writes: set[tuple[str, str, str]] = set()
    for name in all_workflows():
        workflow = load(name)
        top = _permissions(workflow.get("permissions"))
        assert set(top.values()) <= {"read", "none"}, f"{name}: top-level permissions {top}"
        assert set(top) <= {"contents"}, f"{name}: top-level permissions {top}"
        for job, spec in workflow["jobs"].items():
            if "permissions" in spec:
                scopes = _permissions(spec["permissions"])
                writes |= {(name, job, scope) for scope, level in scopes.items() if level == "write"}
                assert set(scopes.values()) <= {"read", "write", "none"}
    assert writes == {
        ("pr-regression.yml", "comment", "pull-requests"),
        ("baselines.yml", "refresh", "contents"),
        ("baselines.yml", "refresh", "pull-requests"),
    }
    pr = load("pr-regression.yml")
    assert _permissions(pr["permissions"]) == {}
    assert _permissions(pr["jobs"]["ab"]["permissions"]) == {"contents": "read"}
    assert _permissions(pr["jobs"]["comment"]["permissions"]) == {
        "contents": "read",
        "pull-requests": "write",
    }


def _uses(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).split("@")[0] == action


def _step_index(workflow: dict[str, Any], job: str, predicate: Any) -> int:
    found = [i for i, step in enumerate(workflow["jobs"][job]["steps"]) if predicate(step)]
    assert len(found) == 1, (job, found)
    return found[0]


def _measuring_commands(workflow: dict[str, Any], job: str) -> list[list[str]]:
    """The commands of a job that run the suites with the plugin on (make bench, causal-eval ab)."""
    found = []
    for script in run_scripts(workflow, job):
        for words in _commands(script):
            if words[:2] == ["make", "bench"] or (
                Path(words[0]).name == "causal-eval" and words[1:2] == ["ab"]
            ):
                found.append(words)
    return found


def test_gpu_jobs_run_on_the_gpu_host_in_one_queue() -> None:
    for name in all_workflows():
        for job, spec in load(name)["jobs"].items():
            if (name, job) in GPU_JOBS:
                assert spec["runs-on"] == GPU_LABELS, (name, job)
                # One queue for the host: every GPU job of every workflow waits for the others, in
                # order (queue: max keeps them all pending instead of cancelling the older one).
                assert spec["concurrency"] == {
                    "group": GPU_HOST_GROUP,
                    "cancel-in-progress": False,
                    "queue": "max",
                }, (name, job)
            else:
                assert spec["runs-on"] == "ubuntu-latest", (name, job)  # GitHub-hosted
                assert spec.get("concurrency", {}).get("group") != GPU_HOST_GROUP, (name, job)
    for name in ("gpu-bench.yml", "baselines.yml"):
        assert "concurrency" not in load(name), f"{name}: the GPU host's queue is the job's"
    pr = load("pr-regression.yml")["concurrency"]
    assert "github.event.pull_request.number" in pr["group"] and pr["cancel-in-progress"] is True


def test_gpu_jobs_fail_without_a_gpu() -> None:
    for name, job in sorted(GPU_JOBS):
        commands = _measuring_commands(load(name), job)
        assert commands, (name, job)
        for words in commands:
            assert any("--causal-eval-require-gpu" in word for word in words), (name, job, words)


def test_one_measuring_workflow_per_automatic_trigger() -> None:
    # A push to main is measured by gpu-bench.yml alone; the nightly refresh is baselines.yml's.
    seen: dict[str, str] = {}
    for name in sorted({name for name, _ in GPU_JOBS}):
        for event in set(triggers(load(name))) - {"workflow_dispatch"}:
            assert event not in seen, f"{name} and {seen.get(event)} both measure on {event}"
            seen[event] = name
    assert seen == {"push": "gpu-bench.yml", "schedule": "baselines.yml", "pull_request": "pr-regression.yml"}


def test_the_virtualenv_is_cached_by_pyproject_before_make_setup() -> None:
    for name in all_workflows():
        workflow = load(name)
        for job in workflow["jobs"]:
            scripts = run_scripts(workflow, job)
            if not any("make " in s or ".venv/" in s for s in scripts):
                continue
            steps_ = workflow["jobs"][job]["steps"]
            cache = _step_index(
                workflow, job, lambda s: _uses(s, "actions/cache") and s["with"]["path"] == ".venv"
            )
            setup = _step_index(workflow, job, lambda s: s.get("run", "").strip() == "make setup")
            python = _step_index(workflow, job, lambda s: _uses(s, "actions/setup-python"))
            assert python < cache < setup, (name, job)
            key = steps_[cache]["with"]["key"]
            python_id = steps_[python]["id"]
            for part in ("runner.os", "runner.arch", f"steps.{python_id}.outputs.python-version"):
                assert part in key, (name, job, key)
            assert "hashFiles('pyproject.toml')" in key, (name, job, key)
            flavour = "gpu" if (name, job) in GPU_JOBS else "cpu"
            assert f"-{flavour}-" in key, (name, job, key)  # a CUDA venv is never restored as a CPU one


def test_gpu_bench_keeps_the_run_history_per_branch() -> None:
    bench = load("gpu-bench.yml")
    steps_ = bench["jobs"]["bench"]["steps"]
    history = ".causal-eval/history.sqlite"
    restore = _step_index(bench, "bench", lambda s: _uses(s, "actions/cache/restore"))
    measure = _step_index(bench, "bench", lambda s: "make bench" in s.get("run", ""))
    save = _step_index(bench, "bench", lambda s: _uses(s, "actions/cache/save"))
    assert restore < measure < save
    restored, saved = steps_[restore], steps_[save]
    assert restored["with"]["path"] == saved["with"]["path"] == history
    key = restored["with"]["key"]
    assert "github.ref_name" in key and "github.run_id" in key  # a new entry per run, per branch
    fallbacks = restored["with"]["restore-keys"].splitlines()
    assert fallbacks[0] == key[: key.index("${{ github.run_id }}")]  # this branch's latest first
    assert fallbacks[-1] == "causal-eval-history-gpu-main-"  # else main's
    assert saved["with"]["key"] == f"${{{{ steps.{restored['id']}.outputs.cache-primary-key }}}}"
    # Saved after a regression too (the failed bench step), not when cancelled or never written.
    assert "!cancelled()" in saved["if"] and "hashFiles('.causal-eval/history.sqlite')" in saved["if"]
    (words,) = _measuring_commands(bench, "bench")
    assert not any("--causal-eval-history" in w for w in words)  # the default path is the cached one


def test_ci_matrix_torch_cpu_index_and_pip_cache() -> None:
    ci = load("ci.yml")
    assert {"push", "pull_request"} <= set(triggers(ci))
    assert ci["env"]["PIP_EXTRA_INDEX_URL"] == TORCH_CPU_INDEX
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'"torch==\d+\.\d+\.\d+"', pyproject), "the CPU index relies on an exact torch pin"
    test = ci["jobs"]["test"]
    assert test["strategy"]["matrix"]["python"] == ["3.10", "3.11", "3.12", "3.13"]
    for job in ci["jobs"]:
        setups = [s for _, s in steps(ci, job) if _uses(s, "actions/setup-python")]
        assert len(setups) == 1, job
        assert setups[0]["with"]["cache"] == "pip"
    assert setups_use_matrix(test)
    commands = " ".join(run_scripts(ci, "test"))
    assert all(f"make {target}" in commands for target in ("lint", "types", "unit"))
    services = commands.index("scripts/test-services.sh")
    assert services < commands.index("make lint"), "shellcheck is installed before make lint"
    assert "make suites-quick" in " ".join(run_scripts(ci, "suites"))


def setups_use_matrix(job: dict[str, Any]) -> bool:
    return any(s.get("with", {}).get("python-version") == "${{ matrix.python }}" for s in job["steps"])


def test_gpu_bench_reports_uploads_always_and_triggers() -> None:
    bench = load("gpu-bench.yml")
    assert set(triggers(bench)) == {"push", "workflow_dispatch"}
    assert triggers(bench)["push"]["branches"] == ["main"]
    (script,) = [s for s in run_scripts(bench) if "make bench" in s]
    for flag in ("--causal-eval-report", "--causal-eval-json", "--causal-eval-markdown"):
        assert flag in script
    (upload,) = [s for _, s in steps(bench) if _uses(s, "actions/upload-artifact")]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == ".causal-eval/"
    assert ".causal-eval/report" in script  # the report and its profiles are inside the uploaded path


def test_pr_regression_ab_comment_and_fork_guard() -> None:
    pr = load("pr-regression.yml")
    assert set(triggers(pr)) == {"pull_request"}
    ab, comment = pr["jobs"]["ab"], pr["jobs"]["comment"]
    (checkout,) = [s for _, s in steps(pr, "ab") if _uses(s, "actions/checkout")]
    assert checkout["with"]["fetch-depth"] == 0
    scripts = run_scripts(pr, "ab")
    assert any("git merge-base" in s for s in scripts)
    (ab_script,) = [s for s in scripts if "causal-eval ab" in s]
    ab_args = shlex.split(ab_script)
    markdown = ab_args[ab_args.index("--markdown") + 1]
    assert "--base" in ab_args and "--head" in ab_args
    # The worktrees go to the runner's temporary folder, not the system's /tmp nor the uploaded folder.
    assert ab_args[ab_args.index("--workdir") + 1].startswith("$RUNNER_TEMP/")
    # The gate's exit status fails the job; the report is uploaded and the comment posted regardless.
    ab_step = next(s for _, s in steps(pr, "ab") if "causal-eval ab" in s.get("run", ""))
    assert "continue-on-error" not in ab_step and "|| true" not in ab_script
    upload = next(s for _, s in steps(pr, "ab") if _uses(s, "actions/upload-artifact"))
    assert upload["if"] == "always()"
    assert Path(markdown).parent == Path(upload["with"]["path"])
    assert comment["needs"] == ["ab", "instructions"]
    assert "!cancelled()" in comment["if"] or "always()" in comment["if"]
    assert re.search(
        r"github\.event\.pull_request\.head\.repo\.full_name\s*==\s*github\.repository"
        r"|!\s*github\.event\.pull_request\.head\.repo\.fork",
        comment["if"],
    ), "forks must not try to comment"
    download = next(s for _, s in steps(pr, "comment") if _uses(s, "actions/download-artifact"))
    assert download["with"]["name"] == upload["with"]["name"]
    assert download.get("continue-on-error") is True  # no artifact: the gate died, say so
    # One comment per gate job (time and instruction counts), each updated in place under its own marker.
    posts = [s for _, s in steps(pr, "comment") if "causal-eval pr-comment" in s.get("run", "")]
    instr_script = next(s for s in run_scripts(pr, "instructions") if "causal-eval ab" in s)
    instr_args = shlex.split(instr_script)
    expected = {markdown, instr_args[instr_args.index("--markdown") + 1]}
    assert len(expected) == 2 and len(posts) == 2
    markers = set()
    for post in posts:
        post_args = shlex.split(post["run"])
        expected.discard(post_args[post_args.index("--markdown") + 1])
        markers.add(post_args[post_args.index("--marker") + 1])
        assert "--pr" in post_args and "--repo" in post_args
        assert post_args[post_args.index("--if-missing") + 1] == "unfinished"
        assert "if" not in post, "the comment is posted (or replaced) also when the gate wrote no report"
        assert post["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert not expected, f"no comment posts {expected}"
    assert len(markers) == 2, "each comment has its own marker, so neither overwrites the other"
    assert ab.get("permissions") == {"contents": "read"}
    # The job that may write to the pull request runs the base branch's code only.
    (comment_checkout,) = [s for _, s in steps(pr, "comment") if _uses(s, "actions/checkout")]
    assert comment_checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"


def test_pr_gate_skips_drafts_and_docs_only_changes() -> None:
    pr = load("pr-regression.yml")
    on = triggers(pr)["pull_request"]
    assert on["types"] == ["opened", "synchronize", "reopened", "ready_for_review"]
    assert on["paths-ignore"] == ["**.md"]
    for job in ("ab", "comment"):
        assert "!github.event.pull_request.draft" in pr["jobs"][job]["if"].replace(" ", ""), job


def test_pr_gate_holds_fork_pull_requests_for_approval() -> None:
    ab = load("pr-regression.yml")["jobs"]["ab"]
    environment = ab["environment"]
    assert environment == (
        "${{ github.event.pull_request.head.repo.full_name == github.repository"
        " && 'causal-eval-gate' || 'causal-eval-gate-fork' }}"
    )
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "causal-eval-gate-fork" in readme and "Required reviewers" in readme


def test_baselines_refresh_opens_a_pull_request() -> None:
    wf = load("baselines.yml")
    on = triggers(wf)
    assert set(on) == {"schedule", "workflow_dispatch"}
    scripts = " ".join(run_scripts(wf))
    assert 'make bench BENCH_ARGS="--causal-eval-save' in scripts
    assert "gh pr create" in scripts and "git push" in scripts
    upload = next(s for _, s in steps(wf) if _uses(s, "actions/upload-artifact"))
    assert upload["with"]["path"] == "baselines/"


def test_no_untrusted_expression_is_pasted_into_a_script() -> None:
    # Event data reaches scripts through env: a branch name or title pasted in could run as shell code.
    for name in all_workflows():
        for job, step in steps(load(name)):
            script = step.get("run", "")
            assert not re.search(r"\$\{\{\s*(github\.event|github\.head_ref|inputs\.)", script), (name, job)


def test_only_the_job_that_pushes_keeps_checkout_credentials() -> None:
    for name in all_workflows():
        for job, step in steps(load(name)):
            if _uses(step, "actions/checkout"):
                keeps = step.get("with", {}).get("persist-credentials", True)
                assert keeps == ((name, job) == ("baselines.yml", "refresh")), (name, job)


# -- the project commands the steps run exist ---------------------------------------------------------

_SEPARATORS = {";", "&&", "||", "|", "then", "do", "else", "if", "!", "(", ")", "{", "}"}


def _logical_lines(script: str) -> list[str]:
    return [line for line in script.replace("\\\n", " ").splitlines() if line.strip()]


def _commands(script: str) -> Iterator[list[str]]:
    """Simple commands of a step's script, as word lists (enough shell for our own steps)."""
    for line in _logical_lines(script):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words: list[str] = []
        for token in lexer:
            if token in _SEPARATORS:
                if words:
                    yield words
                words = []
            else:
                words.append(token)
        if words:
            yield words


def _makefile() -> tuple[dict[str, str], set[str]]:
    """Targets of the Makefile with their recipes, and its variables."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", line)
        if match:
            current = match.group(1)
            targets.setdefault(current, "")
        elif line.startswith("\t") and current is not None:
            targets[current] += line.strip() + "\n"
        elif line.strip():
            current = None
    variables = set(re.findall(r"^([A-Z_][A-Z0-9_]*)\s*[?:+]?=", text, re.M))
    return targets, variables


def _subcommand_flags(sub: str) -> set[str] | None:
    """The flags ``causal-eval SUB --help`` lists, or None when there is no such subcommand."""
    from pytest_causal_eval.cli import build_parser

    shown = io.StringIO()
    with contextlib.redirect_stdout(shown), contextlib.redirect_stderr(io.StringIO()):
        try:
            build_parser().parse_args([sub, "--help"])
        except SystemExit as exc:
            if exc.code != 0:
                return None
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", shown.getvalue()))


def _plugin_flags() -> set[str]:
    from pytest_causal_eval.options import all_option_specs

    return {spec.flag for spec in all_option_specs()}


def _project_calls() -> list[tuple[str, list[str]]]:
    calls = []
    for name in all_workflows():
        for script in run_scripts(load(name)):
            for words in _commands(script):
                while words and (words[0] == "sudo" or re.match(r"^[A-Z_]+=", words[0])):
                    words = words[1:]
                if words:
                    calls.append((name, words))
    return calls


def test_causal_eval_help_lists_the_subcommands_the_workflows_use() -> None:
    used = {
        words[1] for _, words in _project_calls() if Path(words[0]).name == "causal-eval" and len(words) > 1
    }
    assert {"ab", "pr-comment"} <= used
    done = subprocess.run(
        [sys.executable, "-m", "pytest_causal_eval.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    listed = set(re.findall(r"^\s{4}([a-z][a-z0-9-]*)\b", done.stdout, re.M))
    assert used <= listed, f"causal-eval --help does not list {sorted(used - listed)}"


def test_every_project_command_in_the_workflows_exists() -> None:
    targets, variables = _makefile()
    plugin_flags = _plugin_flags()
    venv_bin = Path(sys.executable).parent
    problems: list[str] = []
    checked = 0

    def check_pytest_args(name: str, args: list[str]) -> None:
        for arg in args:
            flag = arg.split("=", 1)[0]
            if flag.startswith("--causal-eval") and flag not in plugin_flags:
                problems.append(f"{name}: pytest has no option {flag}")

    for name, words in _project_calls():
        program = words[0]
        if program == "make":
            checked += 1
            for arg in words[1:]:
                if "=" in arg:
                    var, value = arg.split("=", 1)
                    if var not in variables:
                        problems.append(f"{name}: the Makefile has no variable {var}")
                    if var == "BENCH_ARGS":
                        check_pytest_args(name, shlex.split(value))
                elif not arg.startswith("-") and arg not in targets:
                    problems.append(f"{name}: the Makefile has no target {arg!r}")
        elif Path(program).name == "causal-eval":
            checked += 1
            if program != "causal-eval" and program != ".venv/bin/causal-eval":
                problems.append(f"{name}: run causal-eval from PATH or .venv/bin, not {program}")
            sub = words[1] if len(words) > 1 else ""
            known = _subcommand_flags(sub) if sub and not sub.startswith("-") else None
            if known is None:
                problems.append(f"{name}: causal-eval has no subcommand {sub!r}")
                continue
            args = words[2:]
            own, rest = (
                (args[: args.index("--")], args[args.index("--") + 1 :]) if "--" in args else (args, [])
            )
            for arg in own:
                flag = arg.split("=", 1)[0]
                if flag.startswith("-") and flag not in known:
                    problems.append(f"{name}: causal-eval {sub} has no option {flag}")
            check_pytest_args(name, rest)
        elif program.startswith(".venv/bin/"):
            checked += 1
            if not (venv_bin / Path(program).name).exists():
                problems.append(f"{name}: {program} is not installed in the virtualenv")
        elif program == "bash" and len(words) > 1 and words[1].startswith("scripts/"):
            checked += 1
            if not (ROOT / words[1]).is_file():
                problems.append(f"{name}: {words[1]} does not exist")
    assert checked >= 10
    assert problems == []


def test_suites_quick_runs_the_suites_once_with_the_plugin_off() -> None:
    targets, _ = _makefile()
    assert "suites-quick" in targets, "ci.yml runs `make suites-quick`"
    recipe = targets["suites-quick"]
    assert "pytest suites" in recipe.replace("pytest  ", "pytest ") and "--causal-eval" not in recipe
