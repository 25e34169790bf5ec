"""Human formatting of times, sizes and rates (pure)."""

from __future__ import annotations

__all__ = ["COUNT_UNITS", "format_bytes", "format_count", "format_rate", "format_seconds", "format_value"]

# Units of per-call counts (instruction mode): shown with an SI suffix and no unit, "1.92M".
COUNT_UNITS = frozenset({"instructions", "cycles"})


def format_seconds(value: float) -> str:
    """3 significant digits with an SI time unit: 12.3 ms, 850 ns, 1.20 s."""
    value = float(f"{value:.3g}")  # 0.00099999 rounds to 0.001 and prints as 1.00 ms
    magnitude = abs(value)
    for limit, scale, unit in ((1.0, 1.0, "s"), (1e-3, 1e3, "ms"), (1e-6, 1e6, "us")):
        if magnitude >= limit:
            return f"{_sig3(value * scale)} {unit}"
    return f"{_sig3(value * 1e9)} ns"


def format_bytes(value: float) -> str:
    magnitude = abs(value)
    for limit, unit in ((1024.0**3, "GiB"), (1024.0**2, "MiB"), (1024.0, "KiB")):
        if magnitude >= limit:
            return f"{_sig3(value / limit)} {unit}"
    return f"{value:.0f} B"


def format_rate(value: float, unit: str = "/s") -> str:
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{_sig3(value / limit)}{suffix}{unit}"
    return f"{_sig3(value)}{unit}"


def format_count(value: float) -> str:
    """A count with 3 significant digits and an SI suffix: 1.92M, 815k, 2.04G, 950."""
    return format_rate(value, "")


def format_value(value: float, unit: str) -> str:
    """Format a metric value by its unit."""
    if unit in COUNT_UNITS:
        return format_count(value)
    if unit == "s":
        return format_seconds(value)
    if unit in ("B", "bytes"):
        return format_bytes(value)
    if unit.endswith("/s"):
        return format_rate(value, unit[len(unit) - 2 :] if unit == "/s" else " " + unit)
    if unit == "%":
        return f"{_sig3(value)}%"
    return f"{_sig3(value)}{(' ' + unit) if unit else ''}"


def _sig3(x: float) -> str:
    magnitude = abs(x)
    if magnitude >= 100 or magnitude == 0:
        return f"{x:.0f}"
    if magnitude >= 10:
        return f"{x:.1f}"
    if magnitude >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"
