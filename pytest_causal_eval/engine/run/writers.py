"""Incremental writers for per-question records (I/O only)."""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from pytest_causal_eval.engine.errors import EngineError

__all__ = ["JsonlWriter"]


class JsonlWriter:
    """Appends one JSON object per line and flushes each batch, so partial runs are readable."""

    def __init__(self, target: str | Path | IO[str]) -> None:
        if isinstance(target, (str, Path)):
            try:
                self._handle: IO[str] = Path(target).open("w", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise EngineError(f"cannot write {target}: {exc}") from None
            self._owned = True
        else:
            self._handle = target
            self._owned = False
        self.count = 0

    def write(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        self._handle.write("\n")
        self.count += 1

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        if self._owned:
            self._handle.close()
        else:
            self._handle.flush()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
