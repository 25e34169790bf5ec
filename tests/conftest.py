"""Shared by every test directory."""

# numpy is a C extension that cannot be imported twice in one process; pytester's in-process runs
# restore sys.modules afterwards, so it is imported here once, before any of them.
import numpy  # noqa: F401
import pytest
from required import require_valgrind


@pytest.fixture(autouse=True)
def _no_pytest_asyncio_in_pytester_runs(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest-asyncio (a dev dependency) loads into every pytester run and warns there when its
    asyncio_default_fixture_loop_scope is unset, which the -W error runs turn into errors. The
    projects these tests build do not use it; the tests that do pass -p asyncio (which unblocks
    it). Set after pytester, which clears PYTEST_ADDOPTS."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")
        monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:asyncio")


@pytest.fixture
def needs_valgrind() -> None:
    """valgrind on a platform its client requests support: skipped locally without it, failed in CI."""
    require_valgrind()
