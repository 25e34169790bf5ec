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


# Sentence-style choices: each ends in punctuation, and one choice is a prefix of another.
COPA = ("The ball was pushed.", "The ball was pushed hard.", "It rained, so the street got wet!")

SENTENCE_CASES = [
    # response, strict, flexible
    ("The ball was pushed.", COPA[0], COPA[0]),
    ("the ball was pushed", COPA[0], COPA[0]),
    ("**The ball was pushed hard.**", COPA[1], COPA[1]),
    ("It rained, so the street got wet!", COPA[2], COPA[2]),
    ("It rained, so the street got wet.", COPA[2], COPA[2]),
    ("The answer is The ball was pushed hard.", None, COPA[1]),
    ("The answer is the ball was pushed.", None, COPA[0]),
    ("Answer: It rained, so the street got wet!\nBecause water.", None, COPA[2]),
    ("The answer is it rained, so the street got wet. I am sure.", None, COPA[2]),
    ("The ball was pushed hard. That is why it rolled.", None, COPA[1]),
    ("The ball was pushed, I think.", None, COPA[0]),
    ("I would say the ball was pushed hard here.", None, COPA[1]),
    ("I would say the ball was pushed here.", None, COPA[0]),
    ("The ball was pushed, or the ball was pushed hard.", None, None),
    ("(B)", COPA[1], COPA[1]),
    ("The answer is (C).", None, COPA[2]),
    ("The answer is unclear.", None, None),
]


@pytest.mark.parametrize(("response", "strict", "flexible"), SENTENCE_CASES)
def test_sentence_choices(response: str, strict: str | None, flexible: str | None) -> None:
    assert extract_answer(response, COPA, "strict") == strict
    assert extract_answer(response, COPA, "flexible") == flexible


def test_every_choice_reads_back_as_itself_in_both_modes() -> None:
    """What the oracle answers (a choice's own text) is that choice: strict scored 0% on any
    dataset whose choices end in punctuation."""
    for choice in COPA:
        assert extract_answer(choice, COPA, "strict") == choice
        assert extract_answer(choice, COPA, "flexible") == choice
        assert extract_answer(f"The answer is {choice}", COPA, "flexible") == choice


def test_later_statement_wins_on_one_line() -> None:
    assert extract_answer("The answer is yes, but no: the answer is no.", YN, "flexible") == "no"
    assert extract_answer("Answer: (A). Hmm, Answer: (B)", MC, "flexible") == "dog"
