"""``LocalServer``: run ``causal-eval serve`` in a subprocess on 127.0.0.1 for tests and suites.

::

    with LocalServer("oracle", {"task": "association", "seed": 0, "n": 500}) as server:
        model = create_model("openai", base_url=server.base_url, model_name=server.model_name)

Picks a free port, starts the server with the current interpreter, waits until ``/health``
answers (or the process exits, whose stderr is then reported), and stops it on exit.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from typing import IO, Any

from pytest_causal_eval.engine.errors import EngineError

__all__ = ["LocalServer", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class LocalServer:
    """A ``causal-eval serve`` subprocess; a context manager (``start()``/``stop()`` also work)."""

    def __init__(
        self,
        model: str,
        model_args: Mapping[str, Any] | None = None,
        *,
        faults: str | None = None,
        fault_seed: int = 0,
        fault_stall_s: float | None = None,
        retry_after: str | None = None,
        served_name: str | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout_s: float = 60.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.model = model
        self.model_args = dict(model_args or {})
        self.faults = faults
        self.fault_seed = fault_seed
        self.fault_stall_s = fault_stall_s
        self.retry_after = retry_after
        self.model_name = served_name or model
        self.host = host
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self.env = dict(env) if env is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (``.../v1``)."""
        return f"{self.url}/v1"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "pytest_causal_eval.cli", "serve", "--model", self.model]
        for key, value in self.model_args.items():
            text = value if isinstance(value, str) else json.dumps(value)
            cmd += ["--model-arg", f"{key}={text}"]
        cmd += ["--host", self.host, "--port", str(self.port), "--served-name", self.model_name]
        if self.faults:
            cmd += ["--faults", self.faults, "--fault-seed", str(self.fault_seed)]
            if self.fault_stall_s is not None:
                cmd += ["--fault-stall", str(self.fault_stall_s)]
            if self.retry_after is not None:
                cmd += ["--fault-retry-after", self.retry_after]
        return cmd

    def start(self) -> LocalServer:
        import httpx

        if self._proc is not None:
            return self
        if self.port is None:
            self.port = free_port(self.host)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        env = {**os.environ, **(self.env or {})}
        self._proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            status = self._proc.poll()
            if status is not None:
                output = self._output()
                self.stop()
                raise EngineError(
                    f"causal-eval serve exited with status {status} {self._proc_status(output)}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise EngineError(
                    f"causal-eval serve did not become healthy within {self.startup_timeout_s}s"
                )
            time.sleep(0.05)

    @staticmethod
    def _proc_status(output: str) -> str:
        tail = "\n".join(output.strip().splitlines()[-5:])
        return f"(output: {tail})" if tail else "(no output)"

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def output(self) -> str:
        """What the server printed so far."""
        return self._output()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT if os.name != "nt" else signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
