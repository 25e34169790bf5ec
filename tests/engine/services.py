"""Services the engine tests need, started on 127.0.0.1 by the tests themselves (helpers, no fixtures)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from required import unavailable

from pytest_causal_eval.engine import free_port


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


class RedisServer:
    """A private redis-server on 127.0.0.1 (no persistence); ``kill()`` ends it at once."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server not installed (scripts/test-services.sh installs it)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not _wait_port(self.port, self.proc):
            self.stop()
            unavailable(f"redis-server did not start on 127.0.0.1:{self.port}")

    def kill(self) -> None:
        """SIGKILL, as a crash or an out-of-memory kill would: no goodbye to the clients."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
