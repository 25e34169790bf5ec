"""A real HTTP server on 127.0.0.1 that misbehaves on purpose, for the HTTP adapter's hostile tests.

``ScriptedServer(reply)`` serves every ``POST`` with ``reply(request)``, a function returning a
:class:`Reply`: a status, headers and a body given as bytes or as an iterator of chunks (streamed
as it is produced, so a test can send gigabytes without holding them). The server counts the body
bytes it managed to send (``sent``) and stops sending when the client hangs up.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def authorization(self) -> str:
        return self.headers.get("authorization", "")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)


def completion(content: str) -> bytes:
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()


def error(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()


def repeat(chunk: bytes, total: int) -> Iterator[bytes]:
    """``total`` bytes made of ``chunk`` repeated, produced lazily."""
    sent = 0
    while sent < total:
        part = chunk[: total - sent]
        sent += len(part)
        yield part


class ScriptedServer:
    def __init__(self, reply: Callable[[Request], Reply]) -> None:
        self.reply = reply
        self.sent = 0
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._answer(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(self.rfile.read(length))

            def _answer(self, body: bytes) -> None:
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with outer._lock:
                    outer.requests.append(request)
                reply = outer.reply(request)
                self.send_response(reply.status)
                headers = {k.lower(): v for k, v in reply.headers.items()}
                if isinstance(reply.body, bytes):
                    headers.setdefault("content-length", str(len(reply.body)))
                    chunks: Iterable[bytes] = [reply.body]
                else:
                    chunks = reply.body
                if "content-length" not in headers:
                    headers["connection"] = "close"  # the body ends when the connection does
                    self.close_connection = True
                headers.setdefault("content-type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        with outer._lock:
                            outer.sent += len(chunk)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client hanging up mid-exchange is what these tests do on purpose

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
