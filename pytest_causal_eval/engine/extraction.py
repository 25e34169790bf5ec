"""Turning a model's free-text response into one of a question's choices.

``strict`` accepts a response that is exactly one choice (ignoring case, markdown emphasis,
surrounding punctuation and an option letter such as ``(A)``). ``flexible`` also reads
"the answer is X" / "Answer: X" (the last such statement wins, so a chain of thought ending in
"So the answer is No." is read correctly), a choice opening the response and followed by
punctuation ("Yes, because ..." but not "No idea") and, for multiple choice only, a response
that mentions exactly one choice. Anything else is unparseable and returns ``None``: callers
count it apart from wrong answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["EXTRACTION_MODES", "extract_answer"]

EXTRACTION_MODES = ("strict", "flexible")

_MARKUP = re.compile(r"[*_`#>]+")
_EDGE = re.compile(r"^[\s\"'.,;:!?()\[\]{}-]+|[\s\"'.,;:!?()\[\]{}-]+$")
_ANSWER_IS = re.compile(
    r"(?:the\s+(?:final\s+|correct\s+)?answer\s+(?:is|would\s+be|will\s+be)|\banswer\s*[:=-])\s*[:\-]?\s*"
    r"(\(?[a-z0-9][^\n.;,!?]*)",
    re.IGNORECASE,
)
_CLOSES = re.compile(r"\s*(?:$|[,.;:!?)\-])")
_LETTER = re.compile(r"^\(?([a-z])\)?[.:)]?$")


def _normalize(text: str) -> str:
    text = _MARKUP.sub("", text).strip().lower()
    text = re.sub(r"\s+", " ", text)
    return _EDGE.sub("", text)


def _letters(n: int) -> list[str]:
    return [chr(ord("a") + i) for i in range(n)]


def _match_exact(fragment: str, choices: Sequence[str]) -> str | None:
    """``fragment`` names exactly one choice: by its text or its option letter."""
    frag = _normalize(fragment)
    if not frag:
        return None
    lowered = [c.lower() for c in choices]
    if frag in lowered:
        return choices[lowered.index(frag)]
    if len(choices) > 2 or lowered != ["yes", "no"]:
        m = _LETTER.match(frag)
        if m and m.group(1) in _letters(len(choices)):
            return choices[_letters(len(choices)).index(m.group(1))]
        # "(B) the second option" / "B. the second option"
        m2 = re.match(r"^\(?([a-z])\)?[.:)]\s+(.+)$", frag)
        if m2 and m2.group(1) in _letters(len(choices)):
            return choices[_letters(len(choices)).index(m2.group(1))]
    return None


def _match_prefix(fragment: str, choices: Sequence[str]) -> str | None:
    """``fragment`` starts with a choice as a whole word (``"no, because ..."``)."""
    frag = _normalize(fragment)
    best: str | None = None
    for choice in choices:
        c = choice.lower()
        # the choice must end the response or be followed by punctuation: "no, because" but not "no idea"
        if frag.startswith(c) and _CLOSES.match(frag, len(c)) and (best is None or len(c) > len(best)):
            best = choice
    if best is None and (len(choices) > 2 or [c.lower() for c in choices] != ["yes", "no"]):
        m = re.match(r"^\(?([a-z])\)(?:\s|$)|^([a-z])[.:](?:\s|$)", frag)
        if m:
            letter = m.group(1) or m.group(2)
            if letter in _letters(len(choices)):
                best = choices[_letters(len(choices)).index(letter)]
    return best


def _mentioned(text: str, choices: Sequence[str]) -> str | None:
    """The only choice mentioned as a whole word/phrase, if exactly one is."""
    lowered = _MARKUP.sub("", text).lower()
    found = [c for c in choices if re.search(rf"(?<![a-z0-9]){re.escape(c.lower())}(?![a-z0-9])", lowered)]
    return found[0] if len(found) == 1 else None


def extract_answer(response: str, choices: Sequence[str], mode: str = "flexible") -> str | None:
    """The choice a response gives, or ``None`` when it cannot be read."""
    if mode not in EXTRACTION_MODES:
        raise ValueError(f"unknown extraction mode {mode!r}; valid modes: {', '.join(EXTRACTION_MODES)}")
    exact = _match_exact(response, choices)
    if exact is not None or mode == "strict":
        return exact
    statements = _ANSWER_IS.findall(_MARKUP.sub("", response))
    for fragment in reversed(statements):
        got = _match_exact(fragment, choices) or _match_prefix(fragment, choices)
        if got is not None:
            return got
    if statements:
        return None  # an explicit answer statement that names no choice
    first_line = next((ln for ln in response.strip().splitlines() if ln.strip()), "")
    got = _match_prefix(first_line, choices)
    if got is not None:
        sentence = re.split(r"[.!?;]", first_line, maxsplit=1)[0]
        others = [c for c in choices if c != got]
        if _mentioned(sentence, others) is None and not any(
            re.search(rf"(?<![a-z0-9]){re.escape(c.lower())}(?![a-z0-9])", sentence.lower()) for c in others
        ):
            return got
        return None
    if [c.lower() for c in choices] == ["yes", "no"]:
        return None  # "no" and "yes" occur in too many sentences to be read from a mention
    return _mentioned(response, choices)
