"""``causal-eval pr-comment``: post a Markdown report as the pull request's comment, updated in place.

Lists the pull request's comments through the GitHub REST API (every page), finds the one that holds
the marker and edits it, or creates one. The body always carries the marker and is cut to fit
GitHub's limit, with a note. It ends with a link to the workflow run (--run-url, by default built
from the variables GitHub Actions sets). With --if-missing unfinished, a report file that is missing
or empty (the run died before writing it) replaces the comment with "the gate did not finish, see
run ...", so an older commit's verdicts do not stand as this one's. The token comes from
``$GITHUB_TOKEN`` and is never printed; the API from ``$GITHUB_API_URL`` (GitHub Enterprise sets
it), else the public API.

Exit status: 0 posted; 1 the API refused or could not be reached; 2 a usage error (no token, no
report file without --if-missing unfinished, a malformed --repo or --pr).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pytest_causal_eval.cli import CLIError
from pytest_causal_eval.cli._args import description
from pytest_causal_eval.report.pr_comment import (
    DEFAULT_MARKER,
    TRUNCATED,
    build_body,
    find_marked_comment,
    next_page_url,
    redact,
    run_url_from_env,
    unfinished_report,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["GitHubAPIError", "register", "run"]

PUBLIC_API = "https://api.github.com"
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
#: Comments per page (GitHub's maximum), and a bound on the pages read.
_PER_PAGE = 100
_MAX_PAGES = 1000


class GitHubAPIError(Exception):
    """The API refused a request or could not be reached; the message says which and what to check."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "pr-comment",
        help="post a Markdown report as the pull request's comment, updated in place (GitHub API)",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--markdown", required=True, metavar="PATH", help="the report to post (a Markdown file)"
    )
    parser.add_argument(
        "--repo",
        default=os.environ.get("GITHUB_REPOSITORY"),
        metavar="OWNER/NAME",
        help="the repository (default $GITHUB_REPOSITORY)",
    )
    parser.add_argument("--pr", required=True, metavar="N", help="the pull request number")
    parser.add_argument(
        "--marker",
        default=DEFAULT_MARKER,
        metavar="TEXT",
        help=f"what identifies the comment to update (default {DEFAULT_MARKER!r})",
    )
    parser.add_argument(
        "--api-url",
        default=None,
        metavar="URL",
        help=f"the REST API root (default $GITHUB_API_URL, else {PUBLIC_API})",
    )
    parser.add_argument(
        "--timeout", default="30", metavar="SECONDS", help="timeout of each API request (default 30)"
    )
    parser.add_argument(
        "--run-url",
        default=None,
        metavar="URL",
        help="the workflow run the comment links to (default "
        "$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID when set)",
    )
    parser.add_argument(
        "--if-missing",
        choices=("error", "unfinished"),
        default="error",
        help="when the --markdown file is missing or empty: error (exit 2, the default) or unfinished "
        "(post that the run did not finish, with the run link, replacing older verdicts)",
    )
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class _Request:
    repo: str
    pr: int
    marker: str
    api_url: str
    timeout: float
    markdown: str
    run_url: str | None
    #: The report file was missing or empty and the comment says the run did not finish.
    unfinished: bool


def _parse(args: argparse.Namespace) -> _Request:
    repo = args.repo
    if not repo:
        raise CLIError("--repo: not given and $GITHUB_REPOSITORY is not set; expected OWNER/NAME")
    if not _REPO.match(repo):
        raise CLIError(f"--repo: expected OWNER/NAME, got {repo!r}")
    try:
        pr = int(str(args.pr).strip().lstrip("#"))
    except ValueError:
        pr = 0
    if pr < 1:
        raise CLIError(f"--pr: expected a pull request number (a positive integer), got {args.pr!r}")
    if not args.marker.strip():
        raise CLIError("--marker: must not be empty (it identifies the comment to update)")
    api_url = (args.api_url or os.environ.get("GITHUB_API_URL") or PUBLIC_API).rstrip("/")
    if urlsplit(api_url).scheme not in ("http", "https") or not urlsplit(api_url).netloc:
        raise CLIError(f"--api-url: expected an http(s) URL, got {api_url!r}")
    try:
        timeout = float(args.timeout)
    except ValueError:
        timeout = 0.0
    if not timeout > 0:
        raise CLIError(f"--timeout: expected a positive number of seconds, got {args.timeout!r}")
    run_url = args.run_url.strip() if args.run_url is not None else run_url_from_env(os.environ)
    if run_url is not None and (
        urlsplit(run_url).scheme not in ("http", "https") or not urlsplit(run_url).netloc
    ):
        raise CLIError(f"--run-url: expected an http(s) URL, got {run_url!r}")
    path = Path(args.markdown)
    unfinished = args.if_missing == "unfinished"
    if path.is_file():
        try:
            markdown = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CLIError(f"--markdown: cannot read {path}: {exc}") from None
        unfinished = unfinished and not markdown.strip()
    elif path.exists() or not unfinished:
        raise CLIError(
            f"--markdown: {path} does not exist or is not a file "
            "(--if-missing unfinished posts that the run did not finish instead)"
        )
    if unfinished:
        markdown = unfinished_report(run_url)
    return _Request(repo, pr, args.marker, api_url, timeout, markdown, run_url, unfinished)


def _token() -> str:
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise CLIError(
            "GITHUB_TOKEN is not set: the GitHub API needs a token that may write pull-request comments "
            "(in a workflow: env: GITHUB_TOKEN: ${{ github.token }}, with permissions: pull-requests: write)"
        )
    return token


def _explain(status: int, what: str, request: _Request, api_message: str) -> str:
    said = f" ({status} {api_message})" if api_message else f" ({status})"
    if status == 401:
        return f"the GitHub API refused the token{said}: check GITHUB_TOKEN"
    if status == 403:
        return (
            f"the token may not {what} in {request.repo}{said}: the job needs "
            "'permissions: pull-requests: write', and a pull request from a fork gets a read-only token"
        )
    if status == 404:
        return (
            f"pull request #{request.pr} of {request.repo} was not found{said}, "
            "or the token cannot see that repository"
        )
    return f"the GitHub API could not {what} in {request.repo}{said}"


class _GitHub:
    """The few REST calls we make, with the token in a header and nowhere else."""

    def __init__(self, client: httpx.Client, request: _Request, token: str) -> None:
        self._client = client
        self._request = request
        self._token = token
        self._origin = urlsplit(request.api_url)[:2]

    def _call(self, method: str, url: str, what: str, json: Any = None) -> tuple[Any, str | None]:
        import httpx

        if urlsplit(url)[:2] != self._origin:
            raise GitHubAPIError(f"the GitHub API pointed to {url}, outside {self._request.api_url}")
        try:
            response = self._client.request(method, url, json=json)
        except httpx.HTTPError as exc:
            raise GitHubAPIError(
                f"cannot reach the GitHub API at {self._request.api_url} to {what}: "
                f"{type(exc).__name__}: {redact(str(exc), self._token)}"
            ) from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 300:
            message = payload.get("message", "") if isinstance(payload, dict) else ""
            raise GitHubAPIError(
                redact(_explain(response.status_code, what, self._request, str(message)), self._token)
            )
        return payload, response.headers.get("link")

    def find_comment(self, marker: str) -> dict[str, Any] | None:
        request = self._request
        url: str | None = (
            f"{request.api_url}/repos/{request.repo}/issues/{request.pr}/comments?per_page={_PER_PAGE}"
        )
        pages = 0
        while url is not None and pages < _MAX_PAGES:
            payload, link = self._call("GET", url, "list the comments")
            if not isinstance(payload, list):
                raise GitHubAPIError(
                    f"the GitHub API answered the comment list with {type(payload).__name__}"
                )
            found = find_marked_comment((c for c in payload if isinstance(c, dict)), marker)
            if found is not None:
                return dict(found)
            url = next_page_url(link)
            pages += 1
        return None

    def update(self, comment_id: Any, body: str) -> dict[str, Any]:
        request = self._request
        url = f"{request.api_url}/repos/{request.repo}/issues/comments/{comment_id}"
        payload, _ = self._call("PATCH", url, "edit the comment", json={"body": body})
        return payload if isinstance(payload, dict) else {}

    def create(self, body: str) -> dict[str, Any]:
        request = self._request
        url = f"{request.api_url}/repos/{request.repo}/issues/{request.pr}/comments"
        payload, _ = self._call("POST", url, "comment on the pull request", json={"body": body})
        return payload if isinstance(payload, dict) else {}


def run(args: argparse.Namespace) -> int:
    import httpx

    request = _parse(args)
    token = _token()
    body = build_body(request.markdown, request.marker, run_url=request.run_url)
    headers = {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {token}",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "causal-eval-pr-comment",
    }
    try:
        # A renamed repository answers with a redirect; httpx drops the token if one leads elsewhere.
        with httpx.Client(headers=headers, timeout=request.timeout, follow_redirects=True) as client:
            github = _GitHub(client, request, token)
            existing = github.find_comment(request.marker)
            if existing is not None:
                posted = github.update(existing.get("id"), body)
                action = "updated"
            else:
                posted = github.create(body)
                action = "created"
    except GitHubAPIError as exc:
        print(f"causal-eval pr-comment: error: {redact(str(exc), token)}", file=sys.stderr)
        return 1
    where = posted.get("html_url") or f"{request.repo}#{request.pr}"
    what = (
        "the 'did not finish' comment (no report was written)" if request.unfinished else "the report comment"
    )
    print(f"causal-eval pr-comment: {action} {what}: {where}")
    if TRUNCATED in body and TRUNCATED not in request.markdown:
        print(
            f"causal-eval pr-comment: the report was cut to {len(body):,} of "
            f"{len(request.markdown):,} characters to fit in a comment"
        )
    return 0
