"""Safe artifact file names for measurement ids, and the index that maps them back (pure)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["INDEX_SCHEMA_VERSION", "artifact_stem", "build_index", "merge_index"]

INDEX_SCHEMA_VERSION = 1
_MAX_STEM = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def artifact_stem(measurement_id: str) -> str:
    """A file-name stem for a measurement id: ASCII letters, digits, ``._-`` only, never ``..`` or a
    leading dot, at most ~90 characters, and unique per id thanks to a short hash of the full id.

    ``tests/test_x.py::test_a[../../etc é]`` -> ``tests_test_x.py_test_a_.etc_e_-1a2b3c4d5e``.
    """
    folded = unicodedata.normalize("NFKD", measurement_id).encode("ascii", "ignore").decode("ascii")
    readable = _UNSAFE.sub("_", folded)
    readable = re.sub(r"\.{2,}", ".", readable)
    readable = readable.strip("._-")[:_MAX_STEM].strip("._-") or "measurement"
    digest = hashlib.sha256(measurement_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{readable}-{digest}"


def build_index(artifacts: Iterable[tuple[str, Mapping[str, str]]]) -> dict[str, Any]:
    """``[(measurement id, {kind: file name})]`` -> the index document (file name -> id, id -> files)."""
    files: dict[str, str] = {}
    measurements: dict[str, dict[str, str]] = {}
    for measurement_id, kinds in artifacts:
        for kind, name in sorted(kinds.items()):
            files[name] = measurement_id
            measurements.setdefault(measurement_id, {})[kind] = name
    return {"schema_version": INDEX_SCHEMA_VERSION, "files": files, "measurements": measurements}


def merge_index(old: Any, new: Mapping[str, Any]) -> dict[str, Any]:
    """Keep entries of an earlier run's index (its files are still on disk) unless this run rewrote them."""
    if not isinstance(old, Mapping) or old.get("schema_version") != INDEX_SCHEMA_VERSION:
        return dict(new)
    old_files = old.get("files")
    old_measurements = old.get("measurements")
    if not isinstance(old_files, Mapping) or not isinstance(old_measurements, Mapping):
        return dict(new)
    files = {str(k): str(v) for k, v in old_files.items()}
    measurements: dict[str, dict[str, str]] = {}
    for mid, kinds in old_measurements.items():
        if isinstance(kinds, Mapping):
            measurements[str(mid)] = {str(k): str(v) for k, v in kinds.items()}
    for mid in new["measurements"]:
        for stale in measurements.pop(mid, {}).values():
            files.pop(stale, None)
    files.update(new["files"])
    measurements.update({k: dict(v) for k, v in new["measurements"].items()})
    return {"schema_version": INDEX_SCHEMA_VERSION, "files": files, "measurements": measurements}
