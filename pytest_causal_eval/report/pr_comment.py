"""The pull-request comment that carries a run's Markdown report: its body, and which comment it is.

Pure functions (no I/O): ``causal-eval pr-comment`` (cli/pr_comment.py) talks to the GitHub API.
One comment per pull request is updated in place; it is recognised by a marker, an HTML comment that
GitHub does not render. The body always ends with a link to the workflow run it came from; when the
run stopped before writing its report, the comment says so instead of keeping verdicts of an older
commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "COMMENT_LIMIT",
    "DEFAULT_MARKER",
    "TRUNCATED",
    "build_body",
    "find_marked_comment",
    "next_page_url",
    "redact",
    "run_url_from_env",
    "unfinished_report",
]

#: What identifies our comment among a pull request's comments.
DEFAULT_MARKER = "<!-- causal-eval-report -->"
#: GitHub refuses comment bodies of this many characters or more.
COMMENT_LIMIT = 65_536

#: How the note on a cut report begins.
TRUNCATED = "*Report truncated:"

_FENCE = re.compile(r"^\s*(```|~~~)")


def run_url_from_env(env: Mapping[str, str]) -> str | None:
    """The workflow run's page, from the variables GitHub Actions sets, or None outside a run."""
    server = env.get("GITHUB_SERVER_URL", "").strip().rstrip("/")
    repo = env.get("GITHUB_REPOSITORY", "").strip()
    run_id = env.get("GITHUB_RUN_ID", "").strip()
    if not (server and repo and run_id):
        return None
    return f"{server}/{repo}/actions/runs/{run_id}"


def unfinished_report(run_url: str | None) -> str:
    """What the comment says when the run ended before writing its report."""
    where = f"see run {run_url}" if run_url else "see this pull request's checks"
    return (
        "## causal-eval: the gate did not finish\n\n"
        f"The regression gate stopped before it wrote its report: {where}. "
        "No verdicts are shown; the ones this comment held before described an earlier commit.\n"
    )


def _run_footer(run_url: str | None, markdown: str) -> str:
    if not run_url or run_url in markdown:
        return ""
    return f"\n\n---\n[Workflow run]({run_url}): logs, job summary and artifacts.\n"


def _truncation_note(shown: int, total: int) -> str:
    return (
        f"\n\n---\n{TRUNCATED} the first {shown:,} of {total:,} characters are shown "
        "(a pull-request comment holds fewer than 65,536). The full report is in this run's job "
        "summary and artifacts.*\n"
    )


def _open_fence(lines: Iterable[str]) -> str | None:
    """The fence a Markdown text leaves open at its end (``` or ~~~), or None."""
    opened: str | None = None
    for line in lines:
        match = _FENCE.match(line)
        if match is None:
            continue
        if opened is None:
            opened = match.group(1)
        elif match.group(1) == opened:
            opened = None
    return opened


def build_body(
    markdown: str, marker: str = DEFAULT_MARKER, limit: int = COMMENT_LIMIT, run_url: str | None = None
) -> str:
    """The comment body: the marker first (unless the report carries it), the report, under ``limit``.

    With ``run_url``, a link to the workflow run ends the body (unless the report already links it).
    A report too long for a comment is cut at a line boundary, a code fence left open is closed, and a
    note says how much is shown; the marker and the run link are always kept, so the next run finds
    the comment again and the reader finds the run.
    """
    if not marker.strip():
        raise ValueError("the marker must not be empty")
    footer = _run_footer(run_url, markdown)
    body = markdown if marker in markdown else f"{marker}\n{markdown}"
    if len(body) + len(footer) < limit:
        return body + footer
    total = len(body)
    head = "" if body.startswith(marker) else f"{marker}\n"
    # Room for the worst case: the head, a closing fence, the note (with the largest numbers) and
    # the run link.
    reserve = len(head) + len("\n```\n") + len(_truncation_note(total, total)) + len(footer)
    room = limit - 1 - reserve
    if room <= 0:
        raise ValueError(f"limit {limit} leaves no room for the report")
    kept = body[:room]
    cut = kept.rfind("\n")
    if cut > 0:
        kept = kept[:cut]
    if head and marker in kept:
        head = ""
    fence = _open_fence(kept.splitlines())
    closing = f"\n{fence}" if fence else ""
    return f"{head}{kept}{closing}{_truncation_note(len(kept), total)}{footer}"


def find_marked_comment(comments: Iterable[Mapping[str, Any]], marker: str) -> Mapping[str, Any] | None:
    """The first (oldest) comment whose body holds ``marker``, or None."""
    for comment in comments:
        body = comment.get("body")
        if isinstance(body, str) and marker in body:
            return comment
    return None


_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[a-zA-Z]+\s*=\s*"?[^";,]*"?\s*)*)')
_REL_NEXT = re.compile(r'rel\s*=\s*"?([^";,]*)"?')


def next_page_url(link_header: str | None) -> str | None:
    """The ``rel="next"`` URL of an RFC 8288 Link header (GitHub's pagination), or None."""
    if not link_header:
        return None
    for match in _LINK.finditer(link_header):
        params = match.group(2)
        for rel in _REL_NEXT.finditer(params):
            if "next" in rel.group(1).split():
                return match.group(1)
    return None


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``."""
    if not secret:
        return text
    return text.replace(secret, "***")
