"""Run a workflow of this repository the way a runner would, on this machine.

Every ``run:`` step is executed as written, in order, with bash (``bash --noprofile --norc -eo
pipefail``, as Actions does), in a fresh checkout of a local "origin" repository, with the
``GITHUB_*`` variables, ``$GITHUB_OUTPUT``, ``$GITHUB_ENV``, ``$GITHUB_PATH`` and
``$GITHUB_STEP_SUMMARY`` files, ``RUNNER_TEMP`` and ``CI=true``. Expressions are evaluated from a
fixture event (expressions.py). ``if:`` conditions, ``needs``, ``continue-on-error``, step outputs,
trigger filters (event types, branches, paths) and job environments are honoured.

``uses:`` steps are emulated:

- actions/checkout: ``git`` fetch from the origin into an empty workspace (the event's commit, or
  ``with.ref``; ``fetch-depth`` honoured: 1 fetches one commit, 0 every branch as origin/*);
- actions/setup-python: a fresh virtualenv of the interpreter running the tests, first on PATH
  (``python-version`` is not honoured: this interpreter is the one there is); ``cache: pip`` uses
  pip's own cache;
- actions/cache, cache/restore, cache/save: a folder of entries (exact key, then restore-keys by
  prefix, newest first; an entry is visible to its own ref and to main's runs, as GitHub scopes
  them; immutable once saved; actions/cache saves after a successful job when the key missed). The
  store may be *seeded*: a ``.venv`` request whose key holds the hash of this repository's
  pyproject.toml gets this checkout's virtualenv, as an earlier run of the same pyproject.toml
  would have saved (restored by hard links: pip and Python replace files, never write into them);
- actions/upload-artifact, download-artifact: a folder per run.

Anything else is an error. Jobs run one after another, in ``needs`` order; a matrix runs only the
combinations ``select_matrix`` keeps. A job whose environment is protected waits for an approval
that never comes here: it is reported as ``waiting``. Steps that cannot run here are skipped only
when named in ``not_emulated``, with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .expressions import evaluate_condition, substitute, to_text

__all__ = ["Emulator", "Event", "JobResult", "RunResult", "StepResult", "hash_files"]

SERVER_URL = "https://github.example"
DEFAULT_PR_TYPES = ("opened", "synchronize", "reopened")


@dataclass
class Event:
    """What triggered a run: its name, its payload, and the ref and commit it runs at."""

    name: str
    payload: dict[str, Any]
    ref: str
    sha: str
    #: Files the event changed (for paths filters).
    changed: list[str] = field(default_factory=list)


@dataclass
class StepResult:
    name: str
    outcome: str  # success, failure, skipped, not-emulated
    conclusion: str
    log: str = ""
    seconds: float = 0.0


@dataclass
class JobResult:
    name: str
    result: str  # success, failure, skipped, waiting, not-triggered, would-run (gate_only)
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    workspace: Path | None = None
    summary: str = ""
    environment: str | None = None

    def step(self, name: str) -> StepResult:
        (found,) = [s for s in self.steps if s.name == name]
        return found

    def log(self) -> str:
        return "\n".join(f"--- {s.name}: {s.outcome}\n{s.log}" for s in self.steps)


@dataclass
class RunResult:
    workflow: str
    triggered: bool
    run_id: int
    jobs: dict[str, JobResult] = field(default_factory=dict)
    artifacts: Path | None = None


def hash_files(root: Path, patterns: list[str]) -> str:
    """hashFiles(): SHA-256 over the SHA-256 of each matching file, in path order; '' if none."""
    matched: list[Path] = []
    for pattern in patterns:
        matched += [p for p in root.glob(pattern) if p.is_file() and ".git" not in p.relative_to(root).parts]
    if not matched:
        return ""
    outer = hashlib.sha256()
    for path in sorted(set(matched)):
        outer.update(hashlib.sha256(path.read_bytes()).digest())
    return outer.hexdigest()


def _glob_match(path: str, pattern: str) -> bool:
    """A GitHub filter pattern: ``*`` within a folder, ``**`` across folders."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return re.fullmatch(regex, path) is not None


def _copy(src: Path, dst: Path, link: bool = False) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        copy_function = os.link if link else shutil.copy2
        shutil.copytree(src, dst, symlinks=True, copy_function=copy_function, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)


def _read_kv_file(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT / $GITHUB_ENV: ``name=value`` lines and ``name<<DELIM`` blocks."""
    out: dict[str, str] = {}
    if not path.exists():
        return out
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value = []
            for inner in lines:
                if inner == delimiter:
                    break
                value.append(inner)
            out[name] = "\n".join(value)
        elif "=" in line:
            name, value_ = line.split("=", 1)
            out[name] = value_
    return out


class Emulator:
    """Runs workflows from ``origin`` (a bare repository) under ``work``.

    ``runner_env``: extra environment per (workflow, job), as a runner's own environment would be
    (e.g. PYTEST_ADDOPTS keeping the measured parts small). ``not_emulated``: (workflow, job,
    step id or name) -> why the step cannot run here. ``protected_environments``: environments
    that need an approval. ``seed``: paths -> folders the cache holds (see the module doc).
    """

    def __init__(
        self,
        *,
        origin: Path,
        work: Path,
        repository: str,
        token: str,
        api_url: str,
        runner_env: Callable[[str, str], Mapping[str, str]] | None = None,
        not_emulated: Mapping[tuple[str, str, str], str] | None = None,
        protected_environments: frozenset[str] = frozenset(),
        select_matrix: Callable[[str, str, dict[str, Any]], bool] | None = None,
        seed: Mapping[str, tuple[Path, str]] | None = None,
        step_timeout: float = 900.0,
    ) -> None:
        self.origin = origin
        self.work = work
        self.repository = repository
        self.token = token
        self.api_url = api_url
        self.runner_env = runner_env or (lambda workflow, job: {})
        self.not_emulated = dict(not_emulated or {})
        self.protected_environments = protected_environments
        self.select_matrix = select_matrix or (lambda workflow, job, combo: True)
        self.seed = dict(seed or {})
        self.step_timeout = step_timeout
        self.cache_dir = work / "cache"
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.run_counter = 4200
        self.cache_counter = 0

    # -- git ----------------------------------------------------------------------------------------

    def git(self, cwd: Path, *args: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        done = subprocess.run(
            ["git", "-C", str(cwd), *args], capture_output=True, text=True, env=env, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip()

    # -- triggers ------------------------------------------------------------------------------------

    @staticmethod
    def triggers(workflow: Mapping[Any, Any]) -> dict[str, Any]:
        on = workflow.get("on", workflow.get(True))
        if isinstance(on, str):
            return {on: None}
        if isinstance(on, list):
            return dict.fromkeys(on)
        return dict(on or {})

    def triggered(self, workflow: Mapping[Any, Any], event: Event) -> bool:
        spec = self.triggers(workflow)
        if event.name not in spec:
            return False
        config = spec[event.name] if isinstance(spec[event.name], dict) else {}
        if event.name in ("pull_request", "pull_request_target"):
            types = config.get("types", list(DEFAULT_PR_TYPES))
            if event.payload.get("action") not in types:
                return False
            branch = event.payload["pull_request"]["base"]["ref"]
        else:
            branch = event.ref.removeprefix("refs/heads/")
        branches = config.get("branches") if event.name in ("push", "pull_request") else None
        if branches is not None and not any(_glob_match(branch, p) for p in branches):
            return False
        if "paths" in config and not any(_glob_match(f, p) for f in event.changed for p in config["paths"]):
            return False
        ignored = config.get("paths-ignore", [])
        return not ignored or not all(any(_glob_match(f, p) for p in ignored) for f in event.changed)

    # -- a run ---------------------------------------------------------------------------------------

    def run(self, workflow_name: str, event: Event, *, gate_only: Collection[str] = ()) -> RunResult:
        """``gate_only``: jobs decided (needs, ``if:``, environment, matrix) but whose steps are not
        run; such a job that would run ends ``would-run``. For a test about who runs what, not how."""
        text = self.git(self.origin, "show", f"{event.sha}:.github/workflows/{workflow_name}")
        workflow = yaml.safe_load(text)
        self.run_counter += 1
        result = RunResult(workflow_name, self.triggered(workflow, event), self.run_counter)
        if not result.triggered:
            return result
        run_dir = self.work / f"run-{result.run_id}"
        result.artifacts = run_dir / "artifacts"
        result.artifacts.mkdir(parents=True)
        event_path = run_dir / "event.json"
        event_path.write_text(json.dumps(event.payload), encoding="utf-8")
        jobs: dict[str, Any] = workflow["jobs"]
        done: dict[str, JobResult] = {}
        pending = list(jobs)
        while pending:
            ready = [j for j in pending if all(n in done for n in self._needs(jobs[j]))]
            assert ready, f"{workflow_name}: a needs cycle among {pending}"
            for job_id in ready:
                pending.remove(job_id)
                done[job_id] = self._job(
                    workflow_name, workflow, job_id, event, result, run_dir, done, job_id in gate_only
                )
        result.jobs = done
        return result

    @staticmethod
    def _needs(spec: Mapping[str, Any]) -> list[str]:
        needs = spec.get("needs", [])
        return [needs] if isinstance(needs, str) else list(needs)

    def _github(self, event: Event, run: RunResult, workspace: Path, job_id: str) -> dict[str, Any]:
        pr = event.payload.get("pull_request")
        return {
            "event_name": event.name,
            "event": event.payload,
            "ref": event.ref,
            "ref_name": event.ref.split("/", 2)[-1],
            "sha": event.sha,
            "repository": self.repository,
            "repository_owner": self.repository.split("/")[0],
            "server_url": SERVER_URL,
            "api_url": self.api_url,
            "run_id": str(run.run_id),
            "run_attempt": "1",
            "run_number": str(run.run_id),
            "token": self.token,
            "workspace": str(workspace),
            "head_ref": pr["head"]["ref"] if pr else "",
            "base_ref": pr["base"]["ref"] if pr else "",
            "actor": "octocat",
            "job": job_id,
            "workflow": run.workflow,
        }

    def _job(
        self,
        workflow_name: str,
        workflow: Mapping[str, Any],
        job_id: str,
        event: Event,
        run: RunResult,
        run_dir: Path,
        done: Mapping[str, JobResult],
        gate_only: bool = False,
    ) -> JobResult:
        spec = workflow["jobs"][job_id]
        job = JobResult(job_id, "skipped")
        needs = {n: {"result": done[n].result, "outputs": done[n].outputs} for n in self._needs(spec)}
        job_dir = run_dir / job_id
        workspace = job_dir / "workspace"
        temp = job_dir / "temp"
        for folder in (workspace, temp):
            folder.mkdir(parents=True)
        github = self._github(event, run, workspace, job_id)
        base_context: dict[str, Any] = {
            "github": github,
            "needs": needs,
            "vars": {},
            "secrets": {"GITHUB_TOKEN": self.token},
            "inputs": event.payload.get("inputs", {}),
            "env": dict(workflow.get("env") or {}),
            "matrix": {},
            "strategy": {},
            "runner": {"os": "Linux", "arch": "X64", "temp": str(temp), "name": "emulated"},
            "job": {"status": "success"},
            "steps": {},
        }
        if any(n["result"] == "waiting" for n in needs.values()):
            job.result = "waiting"  # behind a job that waits for an approval
            return job
        needs_ok = all(n["result"] == "success" for n in needs.values())
        status_functions = {
            "success": lambda: needs_ok,
            "failure": lambda: not needs_ok,
            "always": lambda: True,
            "cancelled": lambda: False,
            "hashfiles": lambda *patterns: hash_files(workspace, list(patterns)),
        }
        if "if" in spec and not evaluate_condition(spec["if"], base_context, status_functions):
            return job
        if "if" not in spec and not needs_ok:
            return job
        if "environment" in spec:
            env_spec = spec["environment"]
            name = env_spec["name"] if isinstance(env_spec, dict) else env_spec
            job.environment = substitute(str(name), base_context, status_functions)
            if job.environment in self.protected_environments:
                job.result = "waiting"
                return job
        combos = self._matrix(spec)
        kept = [c for c in combos if self.select_matrix(workflow_name, job_id, c)]
        assert kept, f"{workflow_name}/{job_id}: no matrix combination is emulated here"
        # One combination is enough to prove the steps; the others differ only by the interpreter.
        combo = kept[0]
        if gate_only:
            job.result = "would-run"
            return job
        context = {**base_context, "matrix": combo, "strategy": {"job-index": 0}}
        job.workspace = workspace
        self._steps(workflow_name, job_id, spec, context, job, event, run, job_dir, workspace, temp)
        return job

    @staticmethod
    def _matrix(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
        matrix = (spec.get("strategy") or {}).get("matrix")
        if not matrix:
            return [{}]
        combos: list[dict[str, Any]] = [{}]
        for key, values in matrix.items():
            if key in ("include", "exclude"):
                raise AssertionError("matrix include/exclude is not emulated")
            combos = [{**c, key: v} for c in combos for v in values]
        return combos

    # -- steps -----------------------------------------------------------------------------------------

    def _steps(
        self,
        workflow_name: str,
        job_id: str,
        spec: Mapping[str, Any],
        context: dict[str, Any],
        job: JobResult,
        event: Event,
        run: RunResult,
        job_dir: Path,
        workspace: Path,
        temp: Path,
    ) -> None:
        files = {name: job_dir / f"{name}.txt" for name in ("output", "env", "path", "summary")}
        for path in files.values():
            path.touch()
        bin_dir = job_dir / "bin"
        bin_dir.mkdir()
        if shutil.which("sudo") is None and os.geteuid() == 0:
            # GitHub's runners have passwordless sudo; as root here it only resets the environment.
            sudo = bin_dir / "sudo"
            sudo.write_text('#!/bin/sh\nexec env -i PATH="$PATH" HOME="$HOME" "$@"\n', encoding="utf-8")
            sudo.chmod(0o755)
        github = context["github"]
        base_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GITHUB_", "RUNNER_", "PYTEST_", "VIRTUAL_ENV"))
        }
        base_env.pop("CI", None)
        base_env.pop("PYTHONPATH", None)
        # The interpreter running the tests is not the runner's: its virtualenv is not on PATH.
        venv_bin = str(Path(sys.prefix) / "bin")
        base_env["PATH"] = os.pathsep.join(
            p for p in base_env.get("PATH", "").split(os.pathsep) if p != venv_bin
        )
        base_env.update(
            {
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(workspace),
                "GITHUB_REPOSITORY": self.repository,
                "GITHUB_REPOSITORY_OWNER": self.repository.split("/")[0],
                "GITHUB_SERVER_URL": SERVER_URL,
                "GITHUB_API_URL": self.api_url,
                "GITHUB_RUN_ID": github["run_id"],
                "GITHUB_RUN_ATTEMPT": "1",
                "GITHUB_RUN_NUMBER": github["run_number"],
                "GITHUB_SHA": event.sha,
                "GITHUB_REF": event.ref,
                "GITHUB_REF_NAME": github["ref_name"],
                "GITHUB_EVENT_NAME": event.name,
                "GITHUB_EVENT_PATH": str(job_dir.parent / "event.json"),
                "GITHUB_HEAD_REF": github["head_ref"],
                "GITHUB_BASE_REF": github["base_ref"],
                "GITHUB_JOB": job_id,
                "GITHUB_WORKFLOW": workflow_name,
                "GITHUB_ACTOR": "octocat",
                "GITHUB_OUTPUT": str(files["output"]),
                "GITHUB_ENV": str(files["env"]),
                "GITHUB_PATH": str(files["path"]),
                "GITHUB_STEP_SUMMARY": str(files["summary"]),
                "RUNNER_TEMP": str(temp),
                "RUNNER_OS": "Linux",
                "RUNNER_ARCH": "X64",
            }
        )
        base_env.update(self.runner_env(workflow_name, job_id))
        job_env = {k: substitute(to_text(v), context, {}) for k, v in (spec.get("env") or {}).items()}
        context["env"] = {**context["env"], **job_env}
        extra_path: list[str] = [str(bin_dir)]
        failed = False
        post: list[Callable[[bool], None]] = []
        for index, step in enumerate(spec.get("steps", [])):
            name = step.get("name") or step.get("uses") or (step.get("run") or "").strip().splitlines()[0]
            step_id = step.get("id", f"__{index}")
            functions = {
                "success": lambda failed=failed: not failed,
                "failure": lambda failed=failed: failed,
                "always": lambda: True,
                "cancelled": lambda: False,
                "hashfiles": lambda *patterns: hash_files(workspace, list(patterns)),
            }
            exported = _read_kv_file(files["env"])
            context["env"] = {**context["env"], **exported}
            condition = step.get("if", "success()")
            if not evaluate_condition(condition, context, functions):
                job.steps.append(StepResult(name, "skipped", "skipped"))
                context["steps"][step_id] = {"outcome": "skipped", "conclusion": "skipped", "outputs": {}}
                continue
            reason = next(
                (
                    why
                    for (wf, j, key), why in self.not_emulated.items()
                    if wf == workflow_name and j == job_id and key in (step.get("id"), step.get("name"))
                ),
                None,
            )
            if reason is not None:
                job.steps.append(StepResult(name, "not-emulated", "success", reason))
                context["steps"][step_id] = {"outcome": "success", "conclusion": "success", "outputs": {}}
                continue
            step_env = {
                k: substitute(to_text(v), context, functions) for k, v in (step.get("env") or {}).items()
            }
            paths = [line for line in files["path"].read_text(encoding="utf-8").splitlines() if line]
            env = {**base_env, **{k: to_text(v) for k, v in context["env"].items()}, **step_env}
            env["PATH"] = os.pathsep.join([*reversed(paths), *extra_path, env["PATH"]])
            files["output"].write_text("", encoding="utf-8")
            started = time.monotonic()
            if "run" in step:
                ok, log = self._run_script(
                    step, context, functions, env, workspace, job_dir / f"step-{index}.sh"
                )
            else:
                ok, log = self._action(
                    workflow_name, step, context, functions, env, workspace, job_dir, run, post, files
                )
            outputs = _read_kv_file(files["output"])
            outcome = "success" if ok else "failure"
            conclusion = "success" if ok or step.get("continue-on-error") is True else "failure"
            job.steps.append(StepResult(name, outcome, conclusion, log, time.monotonic() - started))
            context["steps"][step_id] = {"outcome": outcome, "conclusion": conclusion, "outputs": outputs}
            if conclusion == "failure":
                failed = True
        for action in reversed(post):
            action(not failed)
        job.result = "failure" if failed else "success"
        job.summary = files["summary"].read_text(encoding="utf-8")
        outputs_spec = spec.get("outputs") or {}
        job.outputs = {k: substitute(str(v), context, {}) for k, v in outputs_spec.items()}

    def _run_script(
        self,
        step: Mapping[str, Any],
        context: Mapping[str, Any],
        functions: Mapping[str, Callable[..., Any]],
        env: dict[str, str],
        workspace: Path,
        script_path: Path,
    ) -> tuple[bool, str]:
        shell = step.get("shell", "bash")
        assert shell == "bash", f"shell {shell} is not emulated"
        script_path.write_text(substitute(str(step["run"]), context, functions), encoding="utf-8")
        cwd = workspace / step.get("working-directory", ".")
        try:
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_path)],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=self.step_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            return False, f"{exc.output or ''}\n(timed out after {self.step_timeout:.0f} s)"
        return done.returncode == 0, done.stdout + f"\n(exit status {done.returncode})"

    # -- actions ---------------------------------------------------------------------------------------

    def _action(
        self,
        workflow_name: str,
        step: Mapping[str, Any],
        context: Mapping[str, Any],
        functions: Mapping[str, Callable[..., Any]],
        env: dict[str, str],
        workspace: Path,
        job_dir: Path,
        run: RunResult,
        post: list[Callable[[bool], None]],
        files: Mapping[str, Path],
    ) -> tuple[bool, str]:
        uses = str(step["uses"])
        action = uses.split("@", 1)[0]
        args = {k: substitute(to_text(v), context, functions) for k, v in (step.get("with") or {}).items()}
        try:
            if action == "actions/checkout":
                return True, self._checkout(args, context, workspace)
            if action == "actions/setup-python":
                return True, self._setup_python(job_dir, files)
            if action in ("actions/cache", "actions/cache/restore"):
                hit, log = self._cache_restore(args, context, workspace, files)
                if action == "actions/cache" and hit != "exact":
                    post.append(lambda ok: self._cache_save(args, context, workspace) if ok else None)
                return True, log
            if action == "actions/cache/save":
                return True, self._cache_save(args, context, workspace)
            if action == "actions/upload-artifact":
                return True, self._upload(args, workspace, run)
            if action == "actions/download-artifact":
                return self._download(args, workspace, run)
        except (RuntimeError, OSError) as exc:
            return False, f"{uses}: {exc}"
        raise AssertionError(
            f"{workflow_name}: {uses} is not emulated (add it to the emulator or to not_emulated)"
        )

    def _checkout(self, args: Mapping[str, str], context: Mapping[str, Any], workspace: Path) -> str:
        github = context["github"]
        depth = int(args.get("fetch-depth", "1") or "1")
        shallow = ["--depth", str(depth)] if depth else []
        self.git(workspace, "init", "--quiet")
        self.git(workspace, "remote", "add", "origin", f"file://{self.origin}")
        if depth == 0:
            self.git(
                workspace,
                "fetch",
                "--quiet",
                "origin",
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
            )
        wanted = args.get("ref") or github["ref"]
        if wanted.startswith("refs/heads/"):
            branch = wanted.removeprefix("refs/heads/")
            target = github["sha"] if wanted == github["ref"] else wanted
            self.git(
                workspace, "fetch", "--quiet", *shallow, "origin", f"+{target}:refs/remotes/origin/{branch}"
            )
            self.git(workspace, "checkout", "--quiet", "-B", branch, f"refs/remotes/origin/{branch}")
        else:
            self.git(workspace, "fetch", "--quiet", *shallow, "origin", wanted)
            self.git(workspace, "checkout", "--quiet", "--detach", "FETCH_HEAD")
        return (
            f"checked out {wanted} at {self.git(workspace, 'rev-parse', 'HEAD')[:10]} (fetch-depth {depth})"
        )

    def _setup_python(self, job_dir: Path, files: Mapping[str, Path]) -> str:
        # One fresh virtualenv of this interpreter, copied by hard links into each job (what a job
        # installs adds files beside them: the next job starts from the fresh one again).
        fresh = self.work / "python"
        if not fresh.exists():
            subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True, capture_output=True)
        toolcache = job_dir / "python"
        _copy(fresh, toolcache, link=True)
        for script in (toolcache / "bin").iterdir():  # their #! lines name the fresh one
            if script.is_file() and not script.is_symlink() and script.read_bytes().startswith(b"#!"):
                text = script.read_text(encoding="utf-8").replace(str(fresh), str(toolcache))
                script.unlink()
                script.write_text(text, encoding="utf-8")
                script.chmod(0o755)
        with files["path"].open("a", encoding="utf-8") as out:
            out.write(f"{toolcache / 'bin'}\n")
        version = platform.python_version()
        with files["output"].open("a", encoding="utf-8") as out:
            out.write(f"python-version={version}\npython-path={toolcache / 'bin' / 'python'}\n")
        return f"Python {version} (the interpreter running the tests) at {toolcache}"

    # The cache store: one folder per entry, meta.json beside the saved paths.

    def _entries(self) -> Iterator[tuple[dict[str, Any], Path]]:
        for folder in self.cache_dir.iterdir():
            meta = folder / "meta.json"
            if meta.is_file():
                yield json.loads(meta.read_text(encoding="utf-8")), folder

    def _visible(self, meta: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
        github = context["github"]
        refs = {github["ref"], "refs/heads/main"}
        if github["base_ref"]:
            refs.add(f"refs/heads/{github['base_ref']}")
        return meta["ref"] in refs

    def _store(self, key: str, paths: list[str], sources: list[Path], ref: str, link: bool = False) -> Path:
        self.cache_counter += 1
        folder = self.cache_dir / f"entry-{self.cache_counter}"
        for index, source in enumerate(sources):
            _copy(source, folder / "files" / str(index), link=link)
        meta = {"key": key, "paths": paths, "ref": ref, "order": self.cache_counter}
        (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        return folder

    def _cache_restore(
        self, args: Mapping[str, str], context: Mapping[str, Any], workspace: Path, files: Mapping[str, Path]
    ) -> tuple[str, str]:
        key = args["key"]
        paths = [p for p in args["path"].splitlines() if p.strip()]
        prefixes = [p.strip() for p in args.get("restore-keys", "").splitlines() if p.strip()]
        entries = sorted(
            ((m, f) for m, f in self._entries() if self._visible(m, context) and m["paths"] == paths),
            key=lambda e: -int(e[0]["order"]),
        )
        found = next(((m, f) for m, f in entries if m["key"] == key), None)
        kind = "exact"
        if found is None and paths[0] in self.seed:
            source, pyproject_hash = self.seed[paths[0]]
            if pyproject_hash and pyproject_hash in key:
                folder = self._store(key, paths, [source], "refs/heads/main", link=True)
                found = (json.loads((folder / "meta.json").read_text(encoding="utf-8")), folder)
        if found is None:
            kind = "prefix"
            found = next(
                ((m, f) for prefix in prefixes for m, f in entries if m["key"].startswith(prefix)), None
            )
        with files["output"].open("a", encoding="utf-8") as out:
            out.write(f"cache-primary-key={key}\n")
            if found is None:
                out.write("cache-hit=false\n")
                return "miss", f"no cache for {key}"
            meta, folder = found
            out.write(
                f"cache-hit={'true' if kind == 'exact' else 'false'}\ncache-matched-key={meta['key']}\n"
            )
        for index, path in enumerate(paths):
            target = workspace / path
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            _copy(folder / "files" / str(index), target, link=paths[0] in self.seed)
        return kind, f"restored {meta['key']} ({kind} match) into {', '.join(paths)}"

    def _cache_save(self, args: Mapping[str, str], context: Mapping[str, Any], workspace: Path) -> str:
        key = args["key"]
        paths = [p for p in args["path"].splitlines() if p.strip()]
        if any(m["key"] == key and self._visible(m, context) for m, _ in self._entries()):
            return f"cache entry {key} exists (entries are immutable): not saved"
        if not all((workspace / p).exists() for p in paths):
            return f"warning: {', '.join(paths)} not found: no cache saved"
        self._store(key, paths, [workspace / p for p in paths], context["github"]["ref"])
        return f"saved {', '.join(paths)} as {key}"

    def _upload(self, args: Mapping[str, str], workspace: Path, run: RunResult) -> str:
        assert run.artifacts is not None
        name = args.get("name") or "artifact"
        target = run.artifacts / name
        source = workspace / args["path"]
        if target.exists():
            if args.get("overwrite") != "true":
                raise RuntimeError(f"an artifact named {name} exists")
            shutil.rmtree(target)
        if not source.exists() or (source.is_dir() and not any(source.rglob("*"))):
            if args.get("if-no-files-found", "warn") == "error":
                raise RuntimeError(f"no files at {args['path']}")
            return f"warning: no files at {args['path']}: no artifact uploaded"
        _copy(source, target / (source.name if source.is_file() else ""))
        return f"uploaded {args['path']} as {name}"

    def _download(self, args: Mapping[str, str], workspace: Path, run: RunResult) -> tuple[bool, str]:
        assert run.artifacts is not None
        name = args["name"]
        source = run.artifacts / name
        if not source.exists():
            return False, f"Unable to download artifact(s): Artifact not found for name: {name}"
        _copy(source, workspace / args.get("path", "."))
        return True, f"downloaded {name}"
