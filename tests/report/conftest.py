"""Fixtures of the report tests (helpers live in fakes.py)."""

from __future__ import annotations

import numpy  # noqa: F401 - pytester's in-process runs cannot import numpy (a C extension) twice
import pytest

import pytest_causal_eval.baseline.plugin
import pytest_causal_eval.report.plugin  # noqa: F401 - same reason


@pytest.fixture(autouse=True)
def no_github_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_STEP_SUMMARY", "GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
