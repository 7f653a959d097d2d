"""`parley.math_utils`: AutoGen 0.2's boxed-answer extraction, normalisation and majority vote."""

from __future__ import annotations

import pytest

from parley.math_utils import (
    eval_math_responses,
    get_answer,
    is_equiv,
    is_equiv_chain_of_thought,
    last_boxed_only_string,
    normalize_answer,
    remove_boxed,
    voting_counts,
)


def test_the_last_boxed_answer_is_found_with_its_braces_matched() -> None:
    text = "First \\boxed{1}, then $\\boxed{\\frac{2}{3}}$ at last."
    assert last_boxed_only_string(text) == "\\boxed{\\frac{2}{3}}"
    assert remove_boxed("\\boxed{\\frac{2}{3}}") == "\\frac{2}{3}"
    assert get_answer(text) == "\\frac{2}{3}"
    assert get_answer("only \\fbox{7} here") is None  # \fbox is found, but only \boxed is unwrapped
    assert last_boxed_only_string("only \\fbox{7} here") == "\\fbox{7}"


@pytest.mark.parametrize("text", ["no answer", "\\boxed{unclosed", None])
def test_a_response_without_a_complete_boxed_answer_has_none(text: str | None) -> None:
    assert get_answer(text) is None


def test_remove_boxed_needs_the_whole_string_boxed() -> None:
    assert remove_boxed("x \\boxed{1}") is None
    assert remove_boxed("\\boxed{1") is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("\\frac12", "1/2"),
        ("0.5", "\\dfrac{1}{2}"),
        (".5", "0.5"),
        ("x = 3", "3"),
        ("\\left(1, 2\\right)", "(1,2)"),
        ("90^\\circ", "90"),
        ("10\\text{ cm}", "10"),
        ("50\\%", "50"),
        ("\\sqrt3", "\\sqrt{3}"),
        ("\\frac1{72}", "\\frac{1}{72}"),
        ("\\$5", "5"),
    ],
)
def test_formatting_that_keeps_the_value_is_ignored(a: str, b: str) -> None:
    assert is_equiv(a, b) == 1.0
    assert is_equiv_chain_of_thought(f"so \\boxed{{{a}}}", f"\\boxed{{{b}}}") == 1.0


@pytest.mark.parametrize(("a", "b"), [("3", "4"), ("\\frac12", "\\frac21"), ("a=b=c", "c"), ("3", None)])
def test_different_values_are_not_equivalent(a: str, b: str | None) -> None:
    assert is_equiv(a, b) == 0.0


def test_two_missing_answers_are_equivalent() -> None:
    assert is_equiv(None, None) == 1.0
    assert is_equiv_chain_of_thought("no answer", "none either") == 1.0


def test_normalize_answer_refuses_an_ambiguous_unit_and_is_equiv_then_compares_raw_text() -> None:
    with pytest.raises(ValueError, match="unit"):
        normalize_answer("1\\text{ m}2\\text{ s}")
    assert is_equiv("1\\text{ m}2\\text{ s}", "1\\text{ m}2\\text{ s}") == 1.0


def test_votes_group_equivalent_answers_under_their_first_response() -> None:
    responses = ["\\boxed{2}", "no answer", "\\boxed{3}", "\\boxed{\\frac{4}{2}}", "\\boxed{2.0}", "\\boxed{2}"]
    # "\frac{4}{2}" and "2.0" are not rewritten to "2": only formatting is normalised, not arithmetic.
    assert voting_counts(responses) == {0: 2, 2: 1, 3: 1, 4: 1}


def test_eval_math_responses_reports_the_majority_answer_and_its_grade() -> None:
    responses = ["\\boxed{3}", "\\boxed{\\frac12}", "so \\boxed{1/2}", "\\boxed{4}"]
    metrics = eval_math_responses(responses, solution="The answer is \\boxed{0.5}.")
    assert metrics == {
        "expected_success": 1 - (1 - 2 / 4) ** 4,
        "success": True,
        "success_vote": 1.0,
        "voted_answer": "\\boxed{\\frac12}",
        "votes": 2,
    }
    wrong = eval_math_responses(["\\boxed{3}", "\\boxed{3}", "\\boxed{0.5}"], solution="\\boxed{1/2}")
    assert (wrong["success"], wrong["success_vote"], wrong["votes"]) == (True, 0.0, 2)


def test_eval_math_responses_without_responses_or_solution() -> None:
    empty = {"expected_success": 0, "success": False, "success_vote": 0, "voted_answer": None, "votes": 0}
    assert eval_math_responses([]) == empty
    only_vote = eval_math_responses(["\\boxed{1}", "\\boxed{1}"])
    assert (only_vote["voted_answer"], only_vote["votes"], only_vote["success"]) == ("\\boxed{1}", 2, False)
    no_answers = eval_math_responses(["I do not know."], solution="\\boxed{1}")
    assert (no_answers["voted_answer"], no_answers["votes"], no_answers["success_vote"]) == ("I do not know.", 0, 0.0)
