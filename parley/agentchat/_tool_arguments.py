"""Reading the JSON arguments of a model's tool call, with bounds on what a model can send.

A tool call's ``arguments`` is text the model wrote. Python's `json` reads it, but not every
text: a number of more than 4,300 digits raises a plain `ValueError` (the interpreter's limit on
int conversion, whose cost grows with the square of the digits), and nesting more than about
1,000 levels raises `RecursionError`. Nesting that `json` still reads can break whatever walks
the value next (validation, the tool, the console). `read_arguments` is the one place that turns
arguments into a dict, for the tool runner and the console alike, and it bounds all three:

- `MAX_ARGUMENTS_CHARS` characters of text;
- `MAX_ARGUMENTS_DEPTH` levels of nested arrays and objects (the arguments object is level 1);
- `MAX_NUMBER_DIGITS` digits in one integer.

Anything it cannot read raises `UnreadableArguments`, whose text ends a sentence that starts
"the arguments for 'tool' ..." and says what to send instead. The tool runner sends
`error_result` back to the model as an ``"Error: ..."`` tool response, so the model can retry;
for text that is not JSON at all that is AutoGen 0.2.35's exact result.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "MAX_ARGUMENTS_CHARS",
    "MAX_ARGUMENTS_DEPTH",
    "MAX_NUMBER_DIGITS",
    "UnreadableArguments",
    "error_result",
    "exception_result",
    "read_arguments",
]

MAX_ARGUMENTS_CHARS = 1_048_576
"""The longest arguments text read, in characters (1 MiB; a model's whole reply is rarely a tenth of it)."""

MAX_ARGUMENTS_DEPTH = 100
"""The deepest nesting of arrays and objects read; the arguments object itself is level 1."""

MAX_NUMBER_DIGITS = 4300
"""The most digits an integer may have (Python's default ``sys.get_int_max_str_digits()``)."""

_QUOTED = 200  # characters of bad JSON quoted back to the model


class UnreadableArguments(ValueError):
    """Tool-call arguments that are not a JSON object within the bounds.

    ``str(e)`` completes the sentence "the arguments for 'tool' ...": what was wrong and what to
    send instead.
    """


class _NotJSON(UnreadableArguments):
    def __init__(self, error: json.JSONDecodeError, raw: str) -> None:
        super().__init__(
            f"are not valid JSON ({error.msg} at position {error.pos}): {raw[:_QUOTED]}\n"
            "The argument must be in JSON format."
        )
        self.decode_error = error


def error_result(name: str, error: UnreadableArguments) -> str:
    """The tool response for the call of ``name`` whose arguments raised ``error``.

    Text that is not JSON gets AutoGen 0.2's words (its tests compare them whole): ``Error: ``,
    the message of `json.JSONDecodeError`, then a line `` The argument must be in JSON format.``.
    The other errors say which bound was passed and what to send instead.
    """
    if isinstance(error, _NotJSON):
        return f"Error: {error.decode_error}\n The argument must be in JSON format."
    return f"Error: the arguments for {name!r} {error}"


def exception_result(error: BaseException) -> str:
    """The tool response for a call whose function raised ``error``: AutoGen 0.2's ``"Error: <message>"``.

    An exception without a message is named by its type instead (0.2 sent a bare ``"Error: "``).
    """
    return f"Error: {error}" if str(error) else f"Error: {type(error).__name__}"


class _LongNumber(Exception):
    def __init__(self, digits: int) -> None:
        self.digits = digits


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_NUMBER_DIGITS:
        raise _LongNumber(digits)
    return int(text)


def _deeper_than(value: Any, limit: int) -> bool:
    """True when ``value`` nests arrays and objects more than ``limit`` levels deep.

    Walks one level at a time, with no recursion, visiting each array and object once.
    """
    level: list[Any] = [value]
    depth = 1
    while level:
        if depth > limit:
            return True
        below: list[Any] = []
        for node in level:
            below += [c for c in (node.values() if isinstance(node, dict) else node) if isinstance(c, (dict, list))]
        level = below
        depth += 1
    return False


def _too_deep() -> UnreadableArguments:
    return UnreadableArguments(
        f"nest arrays and objects more than {MAX_ARGUMENTS_DEPTH} levels deep. Send flatter arguments: at most "
        f"{MAX_ARGUMENTS_DEPTH} levels, counting the arguments object as one."
    )


def read_arguments(raw: str) -> dict[str, Any]:
    """Parse a tool call's JSON arguments into a dict, within the module's bounds.

    Args:
        raw: the ``arguments`` text of the call; ``""`` means no arguments (``{}``).

    Returns:
        The arguments object.

    Raises:
        UnreadableArguments: ``raw`` is not a str, is longer than `MAX_ARGUMENTS_CHARS` characters, is not
            valid JSON, is JSON but not an object, nests deeper than `MAX_ARGUMENTS_DEPTH`
            levels, or holds an integer of more than `MAX_NUMBER_DIGITS` digits.
    """
    if not isinstance(raw, str):
        raise UnreadableArguments(f"must be JSON text (a str), got {type(raw).__name__}.")
    raw = raw or "{}"
    if len(raw) > MAX_ARGUMENTS_CHARS:
        raise UnreadableArguments(
            f"are {len(raw):,} characters long; the limit is {MAX_ARGUMENTS_CHARS:,}. Send less in one call: "
            "split the data over several calls, or pass a file name or a reference instead of the data itself."
        )
    try:
        value = json.loads(raw, parse_int=_int, strict=False)  # 0.2 read raw line breaks inside strings too
    except _LongNumber as e:
        raise UnreadableArguments(
            f"hold an integer of {e.digits:,} digits; the limit is {MAX_NUMBER_DIGITS:,}. Send a number that long "
            'as a string ("123...").'
        ) from None
    except RecursionError:  # json's parser refuses nesting near the interpreter's recursion limit
        raise _too_deep() from None
    except json.JSONDecodeError as e:
        raise _NotJSON(e, raw) from None
    except ValueError as e:  # an int within MAX_NUMBER_DIGITS but over a lower limit set for this interpreter
        raise UnreadableArguments(f"cannot be read ({e}). Send long numbers as strings.") from None
    if not isinstance(value, dict):
        raise UnreadableArguments(f'must be a JSON object such as {{"name": value}}, got {type(value).__name__}.')
    # Only text with that many brackets can nest that deep: skip the walk for ordinary arguments.
    if raw.count("[") + raw.count("{") > MAX_ARGUMENTS_DEPTH and _deeper_than(value, MAX_ARGUMENTS_DEPTH):
        raise _too_deep()
    return value
