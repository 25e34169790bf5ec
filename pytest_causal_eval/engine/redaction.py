"""Redaction of credentials from text we print, raise or write (pure, no I/O).

A model server may echo what it was sent (``HTTP 401: Incorrect API key provided: Bearer sk-...``)
and a response may carry a token. :func:`redact` removes, before anything reaches a message, a
file, a cache or an exception:

* every configured secret (e.g. the API key), verbatim, percent-encoded (either way) and
  JSON-escaped, when it has at least
  :data:`MIN_SECRET_LENGTH` characters (shorter values such as ``EMPTY`` or ``none``, common for
  local servers, are not secrets and would mangle ordinary words);
* ``Bearer``/``Basic``/``Token`` credentials, ``sk-...`` style keys, ``api_key=...``/``"api-key":
  "..."`` values and the ``user:password@`` part of URLs.

Each is replaced by ``***`` keeping the label (``Bearer ***``, ``sk-***``), so a message still says
what was wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "redact"]

REDACTED = "***"
MIN_SECRET_LENGTH = 6

_TOKEN = r"[A-Za-z0-9._~+/=\-]+"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"(?i)\b(bearer|basic|token)(\s+){_TOKEN}"), rf"\1\2{REDACTED}"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-*.]{6,}"), f"sk-{REDACTED}"),
    (
        re.compile(r"""(?i)\b(api[_-]?key|access[_-]?token|secret)(["']?\s*[:=]\s*["']?)[^\s"',;}&]+"""),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/@\s]+@"), rf"\1{REDACTED}@"),
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without the given ``secrets`` nor anything that looks like a credential."""
    for secret in secrets:
        if not secret or len(secret) < MIN_SECRET_LENGTH:
            continue
        forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), json.dumps(secret)[1:-1]}
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
