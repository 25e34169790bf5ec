"""``causal-eval pr-comment`` end to end against a fake GitHub API on 127.0.0.1, and its pure helpers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_causal_eval.cli import main
from pytest_causal_eval.report.pr_comment import (
    COMMENT_LIMIT,
    DEFAULT_MARKER,
    build_body,
    find_marked_comment,
    next_page_url,
    redact,
    run_url_from_env,
    unfinished_report,
)

from .conftest import PR, REPO, TOKEN, FakeGitHub

REPORT = (
    "## causal-eval: A/B\n\n| benchmark | base | head | change |\n|---|---|---|---|\n"
    "| a | 1 ms | 1.2 ms | +20% |\n"
)


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "ab.md"
    path.write_text(REPORT, encoding="utf-8")
    return path


def run_cli(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    github: FakeGitHub,
    markdown: Path,
    *extra: str,
    token: str | None = TOKEN,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    monkeypatch.setenv("GITHUB_API_URL", github.api_url)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    monkeypatch.delenv("GITHUB_RUN_ID", raising=False)  # no run link unless a test sets one
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    if token is None:
        monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    else:
        monkeypatch.setenv("GITHUB_TOKEN", token)
    status = main(["pr-comment", "--markdown", str(markdown), "--repo", REPO, "--pr", str(PR), *extra])
    out, err = capsys.readouterr()
    assert TOKEN not in out + err
    assert "Traceback" not in out + err
    return status, out, err


# -- against the fake API ----------------------------------------------------------------------------


def test_creates_the_comment_when_none_is_marked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, report: Path
) -> None:
    github.add_comment("LGTM")
    status, out, _ = run_cli(monkeypatch, capsys, github, report)
    assert status == 0
    assert github.methods() == ["GET", "POST"]
    assert all(r["authorized"] for r in github.requests)
    assert github.requests[0]["query"]["per_page"] == ["100"]
    assert github.requests[0]["accept"] == "application/vnd.github+json"
    assert len(github.comments) == 2
    posted = github.comments[-1]["body"]
    assert posted.startswith(DEFAULT_MARKER + "\n")
    assert REPORT in posted
    assert "created" in out and github.comments[-1]["html_url"] in out


def test_updates_the_marked_comment_in_place_found_on_page_two(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, report: Path
) -> None:
    for i in range(120):
        github.add_comment(f"comment {i}")
    ours = github.add_comment(f"{DEFAULT_MARKER}\nold report")
    for i in range(9):
        github.add_comment(f"later {i}")
    status, out, _ = run_cli(monkeypatch, capsys, github, report)
    assert status == 0
    assert github.methods() == ["GET", "GET", "PATCH"]
    assert github.requests[1]["query"]["page"] == ["2"]
    assert github.requests[2]["path"].endswith(f"/issues/comments/{ours['id']}")
    assert len(github.comments) == 130
    assert ours["body"] == f"{DEFAULT_MARKER}\n{REPORT}"
    assert "updated" in out


def test_second_run_updates_the_comment_the_first_created(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, report: Path
) -> None:
    assert run_cli(monkeypatch, capsys, github, report)[0] == 0
    report.write_text("## second run\n", encoding="utf-8")
    assert run_cli(monkeypatch, capsys, github, report)[0] == 0
    assert github.methods() == ["GET", "POST", "GET", "PATCH"]
    assert [c["body"] for c in github.comments] == [f"{DEFAULT_MARKER}\n## second run\n"]


def test_stops_listing_once_the_marked_comment_is_found(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, report: Path
) -> None:
    github.add_comment(f"{DEFAULT_MARKER}\nfirst")
    for i in range(150):
        github.add_comment(f"comment {i}")
    status, _, _ = run_cli(monkeypatch, capsys, github, report)
    assert status == 0
    assert github.methods() == ["GET", "PATCH"]


def test_custom_marker(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, report: Path
) -> None:
    marker = "<!-- gpu-gate -->"
    github.add_comment(f"{DEFAULT_MARKER}\nanother tool's report")
    status, _, _ = run_cli(monkeypatch, capsys, github, report, "--marker", marker)
    assert status == 0
    assert github.methods() == ["GET", "POST"]
    assert github.comments[-1]["body"].startswith(marker + "\n")
    assert github.comments[0]["body"] == f"{DEFAULT_MARKER}\nanother tool's report"


def test_a_huge_report_is_cut_to_fit_with_a_note(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.md"
    rows = "".join(f"| bench_{i:06d} | 1.00 ms | 1.01 ms | +1% |\n" for i in range(6000))
    huge.write_text("| benchmark | base | head | change |\n|---|---|---|---|\n" + rows, encoding="utf-8")
    assert len(huge.read_text(encoding="utf-8")) > 3 * COMMENT_LIMIT
    status, out, _ = run_cli(monkeypatch, capsys, github, huge)
    assert status == 0
    body = github.comments[-1]["body"]
    assert len(body) < COMMENT_LIMIT
    assert body.startswith(DEFAULT_MARKER)
    assert "Report truncated" in body
    assert "cut to" in out


def test_wrong_token_is_a_clear_error_that_never_prints_the_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, report: Path
) -> None:
    github.fail_status = 401
    github.fail_message = f"Bad credentials: {TOKEN}"  # a server that echoes it must not make us print it
    status, _, err = run_cli(monkeypatch, capsys, github, report)
    assert status == 1
    assert "refused the token" in err and "401" in err and "GITHUB_TOKEN" in err
    assert "***" in err


def test_token_not_sent_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, report: Path
) -> None:
    status, _, err = run_cli(monkeypatch, capsys, github, report, token="ghs_someOtherToken")
    assert status == 1
    assert "refused the token (401 Bad credentials)" in err
    assert github.comments == []


def test_unknown_repository_or_pr_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, report: Path
) -> None:
    github.fail_status = 404
    github.fail_message = "Not Found"
    status, _, err = run_cli(monkeypatch, capsys, github, report)
    assert status == 1
    assert f"pull request #{PR} of {REPO} was not found (404 Not Found)" in err


def test_read_only_token_names_the_permission(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, report: Path
) -> None:
    github.add_comment("LGTM")
    github.fail_status = 403
    github.fail_message = "Resource not accessible by integration"
    status, _, err = run_cli(monkeypatch, capsys, github, report)
    assert status == 1
    assert "pull-requests: write" in err and "fork" in err


def test_missing_token_is_a_usage_error_before_any_request(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, report: Path
) -> None:
    status, _, err = run_cli(monkeypatch, capsys, github, report, token=None)
    assert status == 2
    assert "GITHUB_TOKEN is not set" in err
    assert github.requests == []


def test_missing_report_file_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, tmp_path: Path
) -> None:
    status, _, err = run_cli(monkeypatch, capsys, github, tmp_path / "absent.md")
    assert status == 2
    assert "--markdown" in err and "absent.md" in err
    assert github.requests == []


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [("--repo", "not-a-repo", "OWNER/NAME"), ("--pr", "0", "positive integer"), ("--marker", " ", "empty")],
)
def test_malformed_arguments_are_usage_errors(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    github: FakeGitHub,
    report: Path,
    flag: str,
    value: str,
    said: str,
) -> None:
    status, _, err = run_cli(monkeypatch, capsys, github, report, flag, value)
    assert status == 2
    assert flag in err and said in err
    assert github.requests == []


def test_next_page_on_another_origin_is_not_followed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, report: Path
) -> None:
    for i in range(101):
        github.add_comment(f"comment {i}")
    github.next_origin = f"http://localhost:{github.port}"
    status, _, err = run_cli(monkeypatch, capsys, github, report)
    assert status == 1
    assert "outside" in err
    assert github.methods() == ["GET"]


def test_unreachable_api_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, report: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        github.port = sock.getsockname()[1]  # nothing listens there once closed
    status, _, err = run_cli(monkeypatch, capsys, github, report)
    assert status == 1
    assert "cannot reach the GitHub API" in err


def _subprocess(github: FakeGitHub, report: Path, token: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": token}
    env.pop("GITHUB_REPOSITORY", None)
    command = [sys.executable, "-m", "pytest_causal_eval.cli", "pr-comment", "--markdown", str(report)]
    command += ["--repo", REPO, "--pr", str(PR)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_console_command_end_to_end(github: FakeGitHub, report: Path) -> None:
    done = _subprocess(github, report, TOKEN)
    assert done.returncode == 0, done.stderr
    assert github.methods() == ["GET", "POST"]
    again = _subprocess(github, report, "ghs_wrongToken")
    assert again.returncode == 1
    assert "refused the token" in again.stderr
    for result in (done, again):
        assert "Traceback" not in result.stderr
        assert TOKEN not in result.stdout + result.stderr


RUN_URL = f"https://github.example/{REPO}/actions/runs/4242"


def test_the_comment_links_to_the_workflow_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, report: Path
) -> None:
    actions = {
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_RUN_ID": "4242",
    }
    status, _, _ = run_cli(monkeypatch, capsys, github, report, env=actions)
    assert status == 0
    body = github.comments[-1]["body"]
    assert body.startswith(f"{DEFAULT_MARKER}\n{REPORT}")
    assert body.rstrip().endswith(f"[Workflow run]({RUN_URL}): logs, job summary and artifacts.")


def test_run_url_flag_and_a_report_that_links_the_run_already(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, tmp_path: Path
) -> None:
    linked = tmp_path / "linked.md"
    linked.write_text(f"verdicts, see [the run]({RUN_URL})\n", encoding="utf-8")
    assert run_cli(monkeypatch, capsys, github, linked, "--run-url", RUN_URL)[0] == 0
    assert github.comments[-1]["body"].count(RUN_URL) == 1
    status, _, err = run_cli(monkeypatch, capsys, github, linked, "--run-url", "runs/4242")
    assert status == 2 and "--run-url" in err


def test_a_gate_that_died_replaces_the_stale_verdicts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, tmp_path: Path
) -> None:
    stale = github.add_comment(f"{DEFAULT_MARKER}\n| a | 1 ms | 1.2 ms | +20% | regressed |\n")
    missing = tmp_path / "ab.md"  # the gate died before writing it
    status, out, _ = run_cli(
        monkeypatch, capsys, github, missing, "--if-missing", "unfinished", "--run-url", RUN_URL
    )
    assert status == 0
    assert github.methods() == ["GET", "PATCH"]
    body = stale["body"]
    assert body.startswith(DEFAULT_MARKER)
    assert "the gate did not finish" in body and f"see run {RUN_URL}" in body
    assert "regressed" not in body and "+20%" not in body
    assert "did not finish" in out
    # An empty report is no report either.
    missing.write_text("\n", encoding="utf-8")
    assert run_cli(monkeypatch, capsys, github, missing, "--if-missing", "unfinished")[0] == 0
    assert "the gate did not finish" in stale["body"] and "see this pull request's checks" in stale["body"]


def test_a_written_report_is_posted_even_with_if_missing_unfinished(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, report: Path
) -> None:
    status, _, _ = run_cli(monkeypatch, capsys, github, report, "--if-missing", "unfinished")
    assert status == 0
    assert github.comments[-1]["body"] == f"{DEFAULT_MARKER}\n{REPORT}"


def test_a_missing_report_without_if_missing_is_still_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], github: FakeGitHub, tmp_path: Path
) -> None:
    status, _, err = run_cli(monkeypatch, capsys, github, tmp_path / "ab.md", "--if-missing", "error")
    assert status == 2 and "--if-missing unfinished" in err
    assert github.requests == []


# -- pure helpers ------------------------------------------------------------------------------------


def test_body_keeps_a_report_that_already_carries_the_marker() -> None:
    text = f"# Report\n{DEFAULT_MARKER}\nrows\n"
    assert build_body(text) == text
    assert build_body("rows\n") == f"{DEFAULT_MARKER}\nrows\n"


def test_truncation_cuts_at_a_line_closes_the_fence_and_keeps_the_marker() -> None:
    text = "intro\n```\n" + "".join(f"line {i:04d}\n" for i in range(400)) + "```\n"
    body = build_body(text, limit=1200)
    assert len(body) < 1200
    assert body.startswith(DEFAULT_MARKER + "\n")
    kept = body.split("\n\n---\n")[0]
    assert kept.endswith("\n```")  # the open fence is closed before the note
    assert all(line.startswith(("line ", "intro", "```", DEFAULT_MARKER)) for line in kept.splitlines())
    assert f"of {len(DEFAULT_MARKER) + 1 + len(text):,} characters" in body


def test_truncation_keeps_a_marker_that_sat_past_the_cut() -> None:
    text = "x\n" * 1000 + DEFAULT_MARKER + "\n"
    body = build_body(text, limit=500)
    assert len(body) < 500
    assert body.count(DEFAULT_MARKER) == 1 and body.startswith(DEFAULT_MARKER)


def test_body_at_the_limit_is_cut_just_below_it() -> None:
    assert len(build_body("a" * (COMMENT_LIMIT - len(DEFAULT_MARKER) - 2))) == COMMENT_LIMIT - 1
    assert len(build_body("a\n" * COMMENT_LIMIT)) < COMMENT_LIMIT


def test_find_marked_comment_takes_the_oldest() -> None:
    comments = [
        {"id": 1, "body": "x"},
        {"id": 2, "body": f"a {DEFAULT_MARKER}"},
        {"id": 3, "body": DEFAULT_MARKER},
    ]
    assert find_marked_comment(comments, DEFAULT_MARKER) == comments[1]
    assert find_marked_comment([{"id": 4, "body": None}], DEFAULT_MARKER) is None


def test_next_page_url_reads_githubs_link_header() -> None:
    link = (
        '<https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=2>; rel="next", '
        '<https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=5>; rel="last"'
    )
    assert (
        next_page_url(link) == "https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=2"
    )
    assert next_page_url('<https://x/?page=1>; rel="prev", <https://x/?page=1>; rel="first"') is None
    assert next_page_url(None) is None
    assert next_page_url("") is None


def test_truncation_keeps_the_run_link() -> None:
    body = build_body("x\n" * 1000, limit=700, run_url=RUN_URL)
    assert len(body) < 700
    assert body.startswith(DEFAULT_MARKER) and "Report truncated" in body
    assert body.rstrip().endswith(f"[Workflow run]({RUN_URL}): logs, job summary and artifacts.")


def test_run_url_from_env_and_the_unfinished_text() -> None:
    env = {"GITHUB_SERVER_URL": "https://github.example/", "GITHUB_REPOSITORY": REPO, "GITHUB_RUN_ID": "4242"}
    assert run_url_from_env(env) == RUN_URL
    assert run_url_from_env({**env, "GITHUB_RUN_ID": ""}) is None
    assert f"see run {RUN_URL}" in unfinished_report(RUN_URL)
    assert "checks" in unfinished_report(None)


def test_redact() -> None:
    assert redact("a secret b secret", "secret") == "a *** b ***"
    assert redact("text", None) == "text"
