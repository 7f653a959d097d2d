r"""``parley.math_utils``: AutoGen 0.2's helpers for grading answers to math problems.

A response states its final answer as ``\boxed{...}`` (the MATH dataset's convention). These
functions pull that answer out, normalise the LaTeX that does not change its value (spaces,
``\left``/``\right``, ``\dfrac``, ``a/b``, a trailing unit, a percent sign, ``x = ``), compare
two answers, and pick the majority answer among several responses.

Example:
    >>> get_answer("So the area is $\\boxed{\\frac12}$.")
    '\\frac12'
    >>> is_equiv("\\frac12", "1/2")
    1.0
    >>> eval_math_responses(["\\boxed{2}", "\\boxed{3}", "\\boxed{2}"], solution="\\boxed{2}")["votes"]
    2
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = [
    "eval_math_responses",
    "get_answer",
    "is_equiv",
    "is_equiv_chain_of_thought",
    "last_boxed_only_string",
    "normalize_answer",
    "remove_boxed",
    "voting_counts",
]

_BOXED = "\\boxed{"
# Plain substitutions that never change an answer's value, applied in this order.
_REWRITES = (
    ("\n", ""),
    ("\\!", ""),
    ("\\\\", "\\"),
    ("tfrac", "frac"),
    ("dfrac", "frac"),
    ("\\left", ""),
    ("\\right", ""),
    ("^{\\circ}", ""),
    ("^\\circ", ""),
    ("\\$", ""),
)


def remove_boxed(string: str) -> str | None:
    r"""The text inside ``string`` when the whole of it is one ``\boxed{...}``.

    Args:
        string: for example ``"\boxed{\frac{2}{3}}"``.

    Returns:
        ``"\frac{2}{3}"`` for that example; None when ``string`` does not start with
        ``\boxed{`` and end with ``}``.
    """
    if string.startswith(_BOXED) and string.endswith("}"):
        return string[len(_BOXED) : -1]
    return None


def last_boxed_only_string(string: str) -> str | None:
    r"""The last ``\boxed{...}`` in ``string`` (or, if there is none, the last ``\fbox{...}``).

    Braces are matched, so ``\boxed{\frac{1}{2}}`` comes back whole.

    Returns:
        The ``\boxed{...}`` (or ``\fbox{...}``) text, including the command and its braces;
        None when there is none or its braces are not closed.
    """
    start = string.rfind("\\boxed")
    if start < 0:
        start = string.rfind("\\fbox")
    if start < 0:
        return None
    depth = 0
    for end in range(start, len(string)):
        if string[end] == "{":
            depth += 1
        elif string[end] == "}":
            depth -= 1
            if depth == 0:
                return string[start : end + 1]
    return None


def get_answer(solution: str | None) -> str | None:
    r"""The final answer of a response: the content of its last ``\boxed{...}``.

    Returns:
        None when ``solution`` is None or holds no complete ``\boxed{...}``.
    """
    if solution is None:
        return None
    boxed = last_boxed_only_string(solution)
    return None if boxed is None else remove_boxed(boxed)


def _braced_fracs(text: str) -> str:
    # \frac12 -> \frac{1}{2}, \frac1{72} -> \frac{1}{72}, \frac1b -> \frac{1}{b}
    head, *parts = text.split("\\frac")
    out = [head]
    for part in parts:
        if part.startswith("{"):
            out.append("\\frac" + part)
        elif len(part) < 2:
            return text
        elif part[1] == "{":
            out.append("\\frac{" + part[0] + "}" + part[1:])
        else:
            out.append("\\frac{" + part[0] + "}{" + part[1] + "}" + part[2:])
    return "".join(out)


def normalize_answer(answer: str) -> str:
    r"""``answer`` with formatting that does not change its value taken out.

    Removes line breaks, spaces, ``\!``, ``\left``/``\right``, degree marks, ``\$``, a
    trailing unit written as ``\text{ ...}``, percent signs, and a short ``x = `` prefix;
    writes ``\tfrac``/``\dfrac`` as ``\frac``, braces ``\sqrt3`` and ``\frac12``, adds the
    zero to ``.5``, and writes ``0.5`` and integer ``a/b`` as ``\frac{a}{b}``.

    Raises:
        ValueError: ``answer`` has more than one ``\text{ `` unit marker.
    """
    for old, new in _REWRITES:
        answer = answer.replace(old, new)
    units = answer.split("\\text{ ")
    if len(units) > 2:
        raise ValueError(f"cannot tell the unit in {answer!r}: more than one '\\text{{ '")
    answer = units[0].replace("\\%", "").replace("%", "")
    answer = answer.replace(" .", " 0.").replace("{.", "{0.")
    if answer.startswith("."):
        answer = "0" + answer
    sides = answer.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:
        answer = sides[1]
    answer = re.sub(r"\\sqrt([^{])", r"\\sqrt{\1}", answer).replace(" ", "")
    answer = _braced_fracs(answer)
    if answer == "0.5":
        return "\\frac{1}{2}"
    fraction = re.fullmatch(r"(-?\d+)/(-?\d+)", answer)
    if fraction and answer == f"{int(fraction[1])}/{int(fraction[2])}":
        return f"\\frac{{{int(fraction[1])}}}{{{int(fraction[2])}}}"
    return answer


def is_equiv(str1: str | None, str2: str | None) -> float:
    """1.0 when two answers are equal after `normalize_answer`, else 0.0.

    Two None answers are equal; None and an answer are not. When an answer cannot be
    normalised, the raw strings are compared.
    """
    if str1 is None or str2 is None:
        return float(str1 is None and str2 is None)
    try:
        return float(normalize_answer(str1) == normalize_answer(str2))
    except ValueError:
        return float(str1 == str2)


def is_equiv_chain_of_thought(str1: str | None, str2: str | None) -> float:
    """`is_equiv` of the boxed answers (`get_answer`) of two whole responses (None: no answer)."""
    return is_equiv(get_answer(str1), get_answer(str2))


def voting_counts(responses: Sequence[str]) -> dict[int, int]:
    """How many responses give each distinct answer.

    Returns:
        ``{index of the first response giving an answer: number of responses giving it}``;
        responses without a boxed answer are not counted.
    """
    counts: dict[int, int] = {}
    for i, response in enumerate(responses):
        if get_answer(response) is None:
            continue
        same = next((j for j in counts if is_equiv_chain_of_thought(response, responses[j])), i)
        counts[same] = counts.get(same, 0) + 1
    return counts


def eval_math_responses(responses: Sequence[str], solution: str | None = None, **_: Any) -> dict[str, Any]:
    r"""Pick the majority answer among ``responses`` and grade it (and them) against ``solution``.

    Args:
        responses: whole responses, each ending its answer as ``\boxed{...}``.
        solution: the reference solution with its own ``\boxed{...}``; None to only vote.
        **_: ignored (0.2 passed its config through).

    Returns:
        ``expected_success`` (the chance that at least one of n draws at the observed success
        rate succeeds), ``success`` (any response correct), ``success_vote`` (1.0 if the voted
        answer is correct, or if neither it nor ``solution`` has an answer), ``voted_answer``
        (the first response with the majority answer; the first response if none has an
        answer) and ``votes`` (its count). With no responses: zeros, False and None.
    """
    n = len(responses)
    if n == 0:
        return {"expected_success": 0, "success": False, "success_vote": 0, "voted_answer": None, "votes": 0}
    correct = [is_equiv_chain_of_thought(r, solution) for r in responses] if solution is not None else []
    winner, votes = max(voting_counts(responses).items(), key=lambda item: item[1], default=(0, 0))
    return {
        "expected_success": 1 - (1 - sum(correct) / n) ** n,
        "success": any(correct),
        "success_vote": is_equiv_chain_of_thought(responses[winner], solution),
        "voted_answer": responses[winner],
        "votes": votes,
    }
