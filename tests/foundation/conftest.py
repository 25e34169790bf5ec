from __future__ import annotations

import pytest
from fakeclock import FAKE_CLOCK_SOURCE


@pytest.fixture
def fake_timer_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(FAKE_CLOCK_SOURCE)
