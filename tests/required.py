"""What a test needs from the machine: skipped with the reason locally, a failure in CI (``CI=true``),
where `scripts/test-services.sh` installs every service and tool the tests use."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

from pytest_causal_eval.measure.valgrind import UnsupportedPlatformError, current_platform, request_code


def unavailable(reason: str) -> NoReturn:
    """Skip locally; fail in CI, where every service and extra must be present."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_valgrind() -> None:
    """Skip on a platform valgrind's client requests do not support; valgrind itself is required."""
    try:
        request_code(current_platform())
    except UnsupportedPlatformError as exc:
        pytest.skip(str(exc))
    if shutil.which("valgrind") is None:
        unavailable("valgrind is not installed (apt-get install valgrind)")
