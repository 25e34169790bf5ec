"""What of a measurement's profile a baseline keeps, so a later regression can be diffed against it (pure).

The baseline store calls ``baseline_profile(measurement.extra)`` when saving an entry and
``restore_profile(entry)`` when turning an entry back into a ``Measurement`` for the explain hook.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["HOTSPOT_KEYS", "PROFILE_ENTRY_KEY", "baseline_profile", "restore_profile"]

PROFILE_ENTRY_KEY = "profile"
HOTSPOT_KEYS = ("hotspots", "instruction_hotspots")  # time mode's (shares of time), instruction mode's


def baseline_profile(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Hotspots (pyinstrument's; callgrind's in instruction mode) and memory summary (sites, backend,
    leak fit) without bulky raw readings; {} when none."""
    out: dict[str, Any] = {}
    for key in HOTSPOT_KEYS:
        hotspots = extra.get(key)
        if isinstance(hotspots, list):
            out[key] = [dict(h) for h in hotspots if isinstance(h, Mapping)]
    memory = extra.get("memory")
    if isinstance(memory, Mapping):
        kept = {k: v for k, v in memory.items() if k != "leak"}
        leak = memory.get("leak")
        if isinstance(leak, Mapping):
            kept["leak"] = {k: v for k, v in leak.items() if k != "retained"}
        out["memory"] = kept
    return out


def restore_profile(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The ``extra`` keys (``hotspots``, ``instruction_hotspots``, ``memory``) a stored entry's profile
    gives back."""
    stored = entry.get(PROFILE_ENTRY_KEY)
    if not isinstance(stored, Mapping):
        return {}
    return {k: stored[k] for k in (*HOTSPOT_KEYS, "memory") if k in stored}
