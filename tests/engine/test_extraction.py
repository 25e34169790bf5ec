from __future__ import annotations

import pytest

from pytest_causal_eval.engine import extract_answer

YN = ("yes", "no")
MC = ("cat", "dog", "bird")

CASES = [
    # response, choices, strict, flexible
    ("Yes.", YN, "yes", "yes"),
    ("yes", YN, "yes", "yes"),
    ("  NO ", YN, "no", "no"),
    ("**No**", YN, "no", "no"),
    ("`yes`", YN, "yes", "yes"),
    ("The answer is yes", YN, None, "yes"),
    ("The answer is: **Yes**.", YN, None, "yes"),
    ("Answer: no", YN, None, "no"),
    ("Let's think step by step. X raises Y. Yes, it rises... So the answer is No.", YN, None, "no"),
    ("I first thought yes, but the answer is no.", YN, None, "no"),
    ("Yes, because the drug lowers blood pressure.", YN, None, "yes"),
    ("No. The effect is negative.", YN, None, "no"),
    ("The correct answer is yes.\n\nExplanation: ...", YN, None, "yes"),
    ("maybe", YN, None, None),
    ("", YN, None, None),
    ("yes and no", YN, None, None),
    ("The answer is unclear.", YN, None, None),
    ("Yesterday it rained.", YN, None, None),
    ("Nope", YN, None, None),
    ("No idea", YN, None, None),
    ("Yes - it does.", YN, None, "yes"),
    ("B", MC, "dog", "dog"),
    ("(B)", MC, "dog", "dog"),
    ("dog", MC, "dog", "dog"),
    ("The answer is (C).", MC, None, "bird"),
    ("The answer is dog.", MC, None, "dog"),
    ("A. cat", MC, "cat", "cat"),
    ("I would pick bird here", MC, None, "bird"),
    ("cat or dog", MC, None, None),
    ("D", MC, None, None),
]


@pytest.mark.parametrize(("response", "choices", "strict", "flexible"), CASES)
def test_extraction_table(
    response: str, choices: tuple[str, ...], strict: str | None, flexible: str | None
) -> None:
    assert extract_answer(response, choices, "strict") == strict
    assert extract_answer(response, choices, "flexible") == flexible


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="strict"):
        extract_answer("yes", YN, "loose")
