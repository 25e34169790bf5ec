"""Turning a model's free-text response into one of a question's choices.

Responses and choices are normalized alike (case, markdown emphasis, runs of whitespace, and
punctuation or quotes at either end are ignored), so a sentence-style choice such as
``"The ball was pushed."`` matches ``the ball was pushed``. ``strict`` accepts a response that is
exactly one choice (or its option letter, such as ``(A)``). ``flexible`` also reads "the answer
is X" / "Answer: X" up to the end of the line (the last such statement wins, so a chain of
thought ending in "So the answer is No." is read correctly), a choice opening the response and
followed by punctuation ("Yes, because ..." but not "No idea") and, for multiple choice only, a
response that mentions exactly one choice. Where one choice contains another ("pushed" and
"pushed hard"), the longest match wins. Anything else is unparseable and returns ``None``:
callers count it apart from wrong answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["EXTRACTION_MODES", "extract_answer"]

EXTRACTION_MODES = ("strict", "flexible")

_MARKUP = re.compile(r"[*_`#>]+")
_EDGE = re.compile(r"^[\s\"'.,;:!?()\[\]{}-]+|[\s\"'.,;:!?()\[\]{}-]+$")
#: "the answer is" / "Answer:": what follows it, up to the next such statement or the end of the
#: line, is the stated answer (a sentence-style choice may contain commas and end in a period).
_ANSWER_IS = re.compile(
    r"(?:the\s+(?:final\s+|correct\s+)?answer\s+(?:is|would\s+be|will\s+be)|\banswer\s*[:=-])\s*[:\-]?\s*",
    re.IGNORECASE,
)
_CLOSES = re.compile(r"\s*(?:$|[,.;:!?)\-])")
_LETTER = re.compile(r"^\(?([a-z])\)?[.:)]?$")


def _normalize(text: str) -> str:
    """Lower case, no markdown emphasis, single spaces, no punctuation or quotes at either end.

    Applied alike to responses and to choices, so ``"It rained."`` as a choice matches the
    response ``it rained``.
    """
    text = _MARKUP.sub("", text).strip().lower()
    text = re.sub(r"\s+", " ", text)
    return _EDGE.sub("", text)


def _letters(n: int) -> list[str]:
    return [chr(ord("a") + i) for i in range(n)]


def _is_yes_no(choices: Sequence[str]) -> bool:
    return [c.lower() for c in choices] == ["yes", "no"]


def _match_exact(fragment: str, choices: Sequence[str]) -> str | None:
    """``fragment`` names exactly one choice: by its text or its option letter."""
    frag = _normalize(fragment)
    if not frag:
        return None
    normed = [_normalize(c) for c in choices]
    if frag in normed:
        return choices[normed.index(frag)]
    if not _is_yes_no(choices):
        m = _LETTER.match(frag)
        if m and m.group(1) in _letters(len(choices)):
            return choices[_letters(len(choices)).index(m.group(1))]
        # "(B) the second option" / "B. the second option"
        m2 = re.match(r"^\(?([a-z])\)?[.:)]\s+(.+)$", frag)
        if m2 and m2.group(1) in _letters(len(choices)):
            return choices[_letters(len(choices)).index(m2.group(1))]
    return None


def _match_prefix(fragment: str, choices: Sequence[str]) -> tuple[str, str] | None:
    """``fragment`` starts with a choice as a whole word (``"no, because ..."``): the longest such
    choice and the normalized text after it."""
    frag = _normalize(fragment)
    best: tuple[str, str] | None = None
    best_len = -1
    for choice in choices:
        c = _normalize(choice)
        # the choice must end the response or be followed by punctuation: "no, because" but not "no idea"
        if c and frag.startswith(c) and _CLOSES.match(frag, len(c)) and len(c) > best_len:
            best, best_len = (choice, frag[len(c) :]), len(c)
    if best is None and not _is_yes_no(choices):
        m = re.match(r"^\(?([a-z])\)(?:\s|$)|^([a-z])[.:](?:\s|$)", frag)
        if m:
            letter = m.group(1) or m.group(2)
            if letter in _letters(len(choices)):
                best = (choices[_letters(len(choices)).index(letter)], frag[m.end() :])
    return best


def _mentions(text: str, choices: Sequence[str]) -> list[str]:
    """The choices ``text`` mentions as a whole word/phrase, leaving out a choice mentioned only
    inside a mention of a longer choice (``"pushed"`` inside ``"pushed hard"``)."""
    lowered = re.sub(r"\s+", " ", _MARKUP.sub("", text).lower())
    found: list[tuple[str, list[tuple[int, int]]]] = []
    for choice in choices:
        c = _normalize(choice)
        if not c:
            continue
        pattern = rf"(?<![a-z0-9]){re.escape(c)}(?![a-z0-9])"
        spans = [(m.start(), m.end()) for m in re.finditer(pattern, lowered)]
        if spans:
            found.append((choice, spans))

    def inside_longer(span: tuple[int, int], own: str) -> bool:
        return any(
            other != own and a <= span[0] and span[1] <= b and b - a > span[1] - span[0]
            for other, spans in found
            for a, b in spans
        )

    return [choice for choice, spans in found if not all(inside_longer(s, choice) for s in spans)]


def _mentioned(text: str, choices: Sequence[str]) -> str | None:
    """The only choice mentioned, if exactly one is."""
    found = _mentions(text, choices)
    return found[0] if len(found) == 1 else None


def _statements(response: str) -> list[str]:
    """What follows each "the answer is" / "Answer:", up to the next one or the end of the line."""
    text = _MARKUP.sub("", response)
    marks = list(_ANSWER_IS.finditer(text))
    out: list[str] = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        line_end = text.find("\n", m.end())
        if line_end != -1:
            end = min(end, line_end)
        fragment = text[m.end() : end]
        if re.match(r"\s*[\"'(]?[a-z0-9]", fragment, re.IGNORECASE):
            out.append(fragment)
    return out


def extract_answer(response: str, choices: Sequence[str], mode: str = "flexible") -> str | None:
    """The choice a response gives, or ``None`` when it cannot be read."""
    if mode not in EXTRACTION_MODES:
        raise ValueError(f"unknown extraction mode {mode!r}; valid modes: {', '.join(EXTRACTION_MODES)}")
    exact = _match_exact(response, choices)
    if exact is not None or mode == "strict":
        return exact
    statements = _statements(response)
    for fragment in reversed(statements):
        got = _match_exact(fragment, choices)
        if got is None:
            prefix = _match_prefix(fragment, choices)
            got = prefix[0] if prefix else None
        if got is not None:
            return got
    if statements:
        return None  # an explicit answer statement that names no choice
    first_line = next((ln for ln in response.strip().splitlines() if ln.strip()), "")
    prefix = _match_prefix(first_line, choices)
    if prefix is not None:
        got, rest = prefix
        # the rest of the sentence must not name another choice ("yes, well, no")
        sentence = re.split(r"[.!?;]", rest, maxsplit=1)[0]
        if not [c for c in _mentions(sentence, choices) if c != got]:
            return got
        return None
    if _is_yes_no(choices):
        return None  # "no" and "yes" occur in too many sentences to be read from a mention
    return _mentioned(response, choices)
