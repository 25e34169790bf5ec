"""A fake GitHub REST API on 127.0.0.1 (http.server in a thread) for ``causal-eval pr-comment``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

TOKEN = "ghs_fakeSecretToken0123456789abcdef"
REPO = "octo-org/eval-pipeline"
PR = 7
PREFIX = "/api/v3"  # served under a path, as GitHub Enterprise's API is


@dataclass
class FakeGitHub:
    """State of the fake API: the pull request's comments and every request it was sent."""

    host: str = "127.0.0.1"
    port: int = 0
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: When set, every request gets this status and message.
    fail_status: int | None = None
    fail_message: str = ""
    #: When set, the first page's Link header points its next page at this origin instead.
    next_origin: str | None = None
    next_id: int = 1000

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}{PREFIX}"

    def add_comment(self, body: str, login: str = "someone") -> dict[str, Any]:
        self.next_id += 1
        comment = {
            "id": self.next_id,
            "body": body,
            "user": {"login": login},
            "html_url": f"https://github.example/{REPO}/pull/{PR}#issuecomment-{self.next_id}",
        }
        self.comments.append(comment)
        return comment

    def methods(self) -> list[str]:
        return [r["method"] for r in self.requests]


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    list_path = f"{PREFIX}/repos/{REPO}/issues/{PR}/comments"
    edit_prefix = f"{PREFIX}/repos/{REPO}/issues/comments/"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body: Any = json.loads(self.rfile.read(length)) if length else {}
            state.requests.append(
                {
                    "method": method,
                    "path": url.path,
                    "query": parse_qs(url.query),
                    "authorized": self.headers.get("Authorization") == f"Bearer {TOKEN}",
                    "accept": self.headers.get("Accept"),
                    "json": body,
                }
            )
            if state.fail_status is not None:
                self._send(state.fail_status, {"message": state.fail_message})
                return
            if not state.requests[-1]["authorized"]:
                self._send(401, {"message": "Bad credentials"})
                return
            if url.path == list_path and method == "GET":
                query = parse_qs(url.query)
                per_page = min(int(query.get("per_page", ["30"])[0]), 100)
                page = int(query.get("page", ["1"])[0])
                chunk = state.comments[(page - 1) * per_page : page * per_page]
                headers = {}
                if page * per_page < len(state.comments):
                    origin = state.next_origin or f"http://{state.host}:{state.port}"
                    nxt = f"{origin}{list_path}?per_page={per_page}&page={page + 1}"
                    headers["Link"] = f'<{nxt}>; rel="next", <{nxt}>; rel="last"'
                self._send(200, chunk, headers)
            elif url.path == list_path and method == "POST":
                self._send(201, state.add_comment(body["body"], login="github-actions[bot]"))
            elif url.path.startswith(edit_prefix) and method == "PATCH":
                wanted = int(url.path[len(edit_prefix) :])
                for comment in state.comments:
                    if comment["id"] == wanted:
                        comment["body"] = body["body"]
                        self._send(200, comment)
                        return
                self._send(404, {"message": "Not Found"})
            else:
                self._send(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
