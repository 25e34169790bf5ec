"""What a number read from a file we own may be: baselines, results files and imports share these checks.

JSON parsed by Python lets through what no measurement can be: ``NaN`` and ``Infinity`` (and
``1e400``, which parses as infinity), ``true`` (a boolean is an ``int`` to Python), strings, and
magnitudes whose ratio overflows a float (``1e-320`` against ``1e-3``). Each check returns ``None``
for a good value and otherwise what was expected, for a message that names the file, the
measurement and the field (``problem(field, value, expected)``).

Bounds: a time compared by the gate is a positive number of seconds from 1 ps to 10^7 s (115 days;
a CPU time may be 0); a metric value is 0 or of magnitude 1e-100 to 1e100, so that the ratio of two
values always stays a finite float; a count (rounds, iterations) is a whole number up to 10^9, more
than a round per nanosecond of a one-second budget, so a hand-edited ``rounds`` of 1e30 cannot narrow
an interval into a verdict. The JSON Schemas under ``pytest_causal_eval/schema/`` state the same bounds.
"""

from __future__ import annotations

import math
from typing import Literal

__all__ = [
    "COUNT_MAX",
    "EXPECTED",
    "TIME_MAX",
    "TIME_MIN",
    "VALUE_MAX",
    "VALUE_MIN",
    "Kind",
    "check",
    "is_number",
    "non_finite_path",
    "problem",
    "shown",
]

TIME_MIN = 1e-12
TIME_MAX = 1e7
VALUE_MIN = 1e-100
VALUE_MAX = 1e100
COUNT_MAX = 10**9

Kind = Literal["time", "time_or_zero", "value", "count", "positive_count"]

EXPECTED: dict[str, str] = {
    "time": f"a positive number of seconds ({TIME_MIN:g} to {TIME_MAX:g})",
    "time_or_zero": f"a number of seconds from 0 to {TIME_MAX:g}",
    "value": f"a finite number (0, or of magnitude {VALUE_MIN:g} to {VALUE_MAX:g})",
    "count": "a whole number from 0 to 10^9",
    "positive_count": "a whole number >= 1",
}


def is_number(value: object) -> bool:
    """An int or float that is not a boolean and is finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def check(value: object, kind: Kind) -> str | None:
    """None when ``value`` is a good number of this kind, else what was expected."""
    if kind in ("count", "positive_count"):
        whole = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()  # 5.0: JSON has one number type
        )
        good = whole and value >= (kind == "positive_count")  # type: ignore[operator]
        if good and kind == "count":
            good = value <= COUNT_MAX  # type: ignore[operator]
        return None if good else EXPECTED[kind]
    if not is_number(value):
        return EXPECTED[kind]
    x = float(value)  # type: ignore[arg-type]  # is_number checked it is an int or float
    if kind == "time":
        good = TIME_MIN <= x <= TIME_MAX
    elif kind == "time_or_zero":
        good = 0 <= x <= TIME_MAX
    else:
        good = x == 0 or VALUE_MIN <= abs(x) <= VALUE_MAX
    return None if good else EXPECTED[kind]


def shown(value: object, limit: int = 40) -> str:
    """A short ``repr`` for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def problem(field: str, value: object, expected: str) -> str:
    """'time.summary.median is 'fast': expected a positive number of seconds (...)'."""
    return f"{field} is {shown(value)}: expected {expected}"


def non_finite_path(data: object, where: str = "") -> str | None:
    """Where in a JSON-like document a float is NaN or infinite (``measurements[2].extra.x``), or None:
    ``json.dumps`` would write it as a bare ``NaN``/``Infinity``, which is not JSON."""
    if isinstance(data, float):
        return None if math.isfinite(data) else (where or "the top level")
    if isinstance(data, dict):
        for key, value in data.items():
            found = non_finite_path(value, f"{where}.{key}" if where else str(key))
            if found is not None:
                return found
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            found = non_finite_path(value, f"{where}[{i}]")
            if found is not None:
                return found
    return None
