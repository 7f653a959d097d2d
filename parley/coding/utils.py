"""Language tags for code blocks: normalising aliases and inferring the language of untagged code.

These helpers are pure functions shared by the extractor and every executor, so a block tagged
``py`` and a block built by hand as ``CodeBlock(code, "Python")`` mean the same thing everywhere.

Decisions worth knowing:

- ``py``, ``py3`` and ``python3`` mean ``python``; ``ps1`` and ``powershell`` mean ``pwsh``.
- ``sh``, ``bash`` and ``shell`` stay as they are: each executor decides which interpreter runs
  them (the local executor runs ``sh`` with ``sh`` and the other two with ``bash``).
- ``console`` (and ``shell-session``) is *not* an alias of ``sh``. Such blocks are transcripts:
  prompts (``$ ``) mixed with the output of commands, so running them as a script would run the
  output too. They stay ``console`` and executors refuse them.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
from types import SimpleNamespace
from typing import Any

__all__ = [
    "JSON_CHECK_LIMIT",
    "LANGUAGE_ALIASES",
    "PYTHON_CHECK_LIMIT",
    "SHELL_COMMANDS",
    "create_virtual_env",
    "get_powershell_command",
    "infer_lang",
    "normalize_lang",
    "silence_pip",
]

LANGUAGE_ALIASES: dict[str, str] = {
    "py": "python",
    "py3": "python",
    "python3": "python",
    "ps1": "pwsh",
    "powershell": "pwsh",
}
"""Alternative language tags and the canonical tag each one stands for."""

SHELL_COMMANDS: frozenset[str] = frozenset(
    {
        "apt",
        "apt-get",
        "brew",
        "cat",
        "cd",
        "chmod",
        "conda",
        "cp",
        "curl",
        "docker",
        "echo",
        "export",
        "git",
        "grep",
        "head",
        "kill",
        "ls",
        "make",
        "mkdir",
        "mv",
        "npm",
        "pip",
        "pip3",
        "printf",
        "pwd",
        "python",
        "python3",
        "rm",
        "rmdir",
        "sed",
        "source",
        "tail",
        "tar",
        "touch",
        "uv",
        "wget",
        "which",
    }
)
"""First words that mark an untagged line as a shell command when it is not valid Python."""

# A known command followed by the end of the line or by arguments. Arguments may not start like
# the continuation of a Python expression (`ls = 3`, `cat(x)`, `echo.upper()`, `cd[0]`).
_SHELL_LINE = re.compile(r"^(?P<cmd>[A-Za-z][\w.+-]*)(?:\s*$|\s+(?![=(\[:]|\.\w|[-+*/%&|^<>]=))")
_SHEBANG_SHELLS = ("sh", "bash", "zsh", "dash", "ksh")
# A line that starts a top-level statement (not a clause continuing one), for cutting a long block.
_TOP_LEVEL_LINE = re.compile(r"(?<=\n)(?=[A-Za-z_@])(?!(?:else|elif|except|finally)\b)")

JSON_CHECK_LIMIT = 4 * 1024 * 1024
"""The longest block, in characters, that `infer_lang` tries to read as JSON (4 MiB)."""

PYTHON_CHECK_LIMIT = 32 * 1024
"""How much of a block, in characters, `infer_lang` hands to Python's parser (32 KiB).

Parsing ordinary code costs about 2 ms per KiB here, and up to 4 ms for many tiny statements;
a longer block is judged by its head.
"""


def normalize_lang(language: str) -> str:
    """Return the canonical, lower-cased form of a language tag.

    Args:
        language: a tag as written after a code fence (``"Python3"``, ``"ps1"`` ...).

    Returns:
        The tag lower-cased and stripped, with aliases (`LANGUAGE_ALIASES`) replaced by their
        canonical tag. Unknown tags are returned lower-cased, unchanged otherwise.
    """
    tag = language.strip().lower()
    return LANGUAGE_ALIASES.get(tag, tag)


def _first_code_line(code: str) -> str:
    for line in code.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped
    return ""


def _shebang_lang(code: str) -> str | None:
    first = code.lstrip().split("\n", 1)[0]
    if not first.startswith("#!"):
        return None
    words = [w.rsplit("/", 1)[-1] for w in first[2:].split()]
    if words and words[0] == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    interpreter = words[0] if words else ""
    if interpreter.startswith("python"):
        return "python"
    if interpreter in _SHEBANG_SHELLS:
        return "sh"
    return None


def _looks_like_shell(line: str) -> bool:
    if line.startswith(("pip ", "pip3 ", "python ", "python3 ", "$ ")):
        return True
    match = _SHELL_LINE.match(line)
    return match is not None and match.group("cmd") in SHELL_COMMANDS


def infer_lang(code: str) -> str:
    """Guess the language of a code block that has no language tag.

    The rules, in order:

    1. A shebang names the interpreter: ``#!/usr/bin/env python3`` gives ``"python"``,
       ``#!/bin/bash`` gives ``"sh"``.
    2. The first line that is neither blank nor a ``#`` comment starts with ``pip ``,
       ``python ``, ``python3 `` or ``$ ``, or is a known shell command (`SHELL_COMMANDS`) given
       arguments that cannot continue a Python expression (``ls -la`` but not ``ls = 3``):
       ``"sh"``.
    3. The whole block parses as JSON: ``"json"``.
    4. The code compiles as Python (``compile(code, "<block>", "exec")``): ``"python"``, unless
       it is data that happens to be valid Python and would do nothing when run: only
       ``key: value`` lines (Python reads them as bare annotations) give ``"yaml"``, only bare
       literals and names give ``"text"``. Agents never run json, yaml or text blocks.
    5. Anything else: ``"unknown"``, which executors refuse to run.

    Rule 2 comes before rule 3 because many one-line shell commands (``ls -la``, ``cd ..``) are
    also valid Python expressions.

    The work is bounded, so any text (1 MB in at most about 0.15 s) gets an answer and
    nothing is raised. Rule 3 reads blocks of up to `JSON_CHECK_LIMIT` characters (JSON nested
    too deep for Python's reader is not JSON here). Rule 4 parses at most `PYTHON_CHECK_LIMIT`
    characters: a longer block is judged by its head, cut before the last top-level statement
    that fits (with none, the block is ``"unknown"``). Text nested deeper than Python's parser
    can hold (``"1+" * 100_000``, ``"not " * 100_000``) is ``"unknown"``.

    Args:
        code: the source of the block.

    Returns:
        ``"python"``, ``"sh"``, ``"json"``, ``"yaml"``, ``"text"`` or ``"unknown"``.
    """
    by_shebang = _shebang_lang(code)
    if by_shebang is not None:
        return by_shebang
    if _looks_like_shell(_first_code_line(code)):
        return "sh"
    if code.lstrip()[:1] in ("{", "[") and _is_json(code):
        return "json"
    tree = _python_tree(_python_head(code))
    if tree is None or not tree.body:
        return "unknown"
    return _data_kind(tree) or "python"


def _is_json(code: str) -> bool:
    """True when ``code`` (at most `JSON_CHECK_LIMIT` characters) parses as JSON."""
    if len(code) > JSON_CHECK_LIMIT:
        return False
    try:
        json.loads(code)
    except (ValueError, RecursionError):  # ValueError: bad JSON or a too-long integer
        return False
    return True


def _python_head(code: str) -> str:
    """``code``, or when longer than `PYTHON_CHECK_LIMIT`, its head cut before a top-level statement.

    The cut falls before the last line, within the limit, that starts in column 0 with a letter,
    ``_`` or ``@`` and is not a clause that continues a statement (``else``, ``elif``, ``except``,
    ``finally``). Without such a line the head is "": the block's language stays unknown.
    """
    if len(code) <= PYTHON_CHECK_LIMIT:
        return code
    cut = 0
    for match in _TOP_LEVEL_LINE.finditer(code, 0, PYTHON_CHECK_LIMIT):
        cut = match.start()
    return code[:cut]


def _python_tree(code: str) -> ast.Module | None:
    """The parsed module, or None when ``code`` is not Python that the parser can hold."""
    try:
        return ast.parse(code, "<block>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # RecursionError and MemoryError are the parser's own limits on nesting ("1+" * 100_000,
        # "not " * 100_000), raised before the C stack runs out; the block is not Python we can read.
        return None


_INERT_NODES = (ast.Constant, ast.Name, ast.Dict, ast.List, ast.Tuple, ast.Set, ast.UnaryOp, ast.BinOp,
                ast.expr_context, ast.operator, ast.unaryop)  # fmt: skip


def _inert(expr: ast.expr) -> bool:
    """True when evaluating ``expr`` can do nothing observable (no calls, attributes, subscripts)."""
    return all(isinstance(n, _INERT_NODES) for n in ast.walk(expr))


def _data_kind(tree: ast.Module) -> str | None:
    """``"yaml"``/``"text"`` when a parsed block is data that only looks like Python; else None."""
    if all(isinstance(s, ast.AnnAssign) and s.value is None for s in tree.body):
        return "yaml"
    if all(isinstance(s, ast.Expr) and _inert(s.value) for s in tree.body):
        return "text"
    return None


_PIP_SHELL = re.compile(r"^(?P<head>\s*(?:pip3?|python3?\s+-m\s+pip)\s+install)(?=\s|$)")
_PIP_MAGIC = re.compile(r"^(?P<head>\s*(?:!\s?|%)pip3?\s+install)(?=\s|$)")
_PIP_QUIET = re.compile(r"(?:^|\s)(?:-q+|--quiet)(?=\s|$)")
_PIP_LANGS = {"bash": _PIP_SHELL, "sh": _PIP_SHELL, "shell": _PIP_SHELL, "pwsh": _PIP_SHELL,
              "python": _PIP_MAGIC, "ipython": _PIP_MAGIC}  # fmt: skip


def silence_pip(code: str, lang: str) -> str:
    """Add ``-qqq`` to the ``pip install`` lines of a block, as AutoGen 0.2 does before running it.

    A package install prints pages of progress that fill the model's context; with ``-qqq`` pip
    prints only what went wrong (its ``ERROR:`` lines), and the exit code still says whether it
    worked. The lines changed:

    - in shell blocks (``bash``, ``sh``, ``shell``, ``pwsh``): a line that starts (after
      indentation) with ``pip install``, ``pip3 install`` or ``python -m pip install``;
    - in Python blocks (``python``, ``ipython``): a line that starts with IPython's
      ``!pip install`` or ``%pip install``, which the kernel executors run.

    A line that already asks for quiet output (``-q``, ``-qq``, ``--quiet``) is left as it is,
    and so is every other language.

    Args:
        code: the block's source.
        lang: its language tag (aliases such as ``py`` and ``ps1`` are understood).

    Returns:
        The source with ``-qqq`` after each such ``install``.
    """
    pattern = _PIP_LANGS.get(normalize_lang(lang))
    if pattern is None or "pip" not in code:
        return code
    lines = code.split("\n")
    for i, line in enumerate(lines):
        match = pattern.match(line)
        if match is not None and _PIP_QUIET.search(line, match.end()) is None:
            lines[i] = match.group("head") + " -qqq" + line[match.end() :]
    return "\n".join(lines)


def create_virtual_env(dir_path: str | os.PathLike[str], **env_args: Any) -> SimpleNamespace:
    """Create a Python virtual environment with pip in ``dir_path`` (AutoGen 0.2's helper).

    Pass the result as a local executor's ``virtual_env_context`` so code runs with its python.

    Args:
        dir_path: the folder to create it in.
        **env_args: passed to `venv.EnvBuilder` (``system_site_packages``, ``clear`` ...);
            ``with_pip`` defaults to True.

    Returns:
        The environment's context: ``env_dir``, ``bin_path``, ``env_exe`` (its python) ...

    Raises:
        OSError: the folder cannot be created, or ensurepip failed.
    """
    import venv

    builder = venv.EnvBuilder(**{"with_pip": True, **env_args})
    builder.create(dir_path)
    return builder.ensure_directories(dir_path)


def get_powershell_command() -> str | None:
    """The PowerShell command this machine has: ``"powershell"`` (Windows PowerShell) or ``"pwsh"``.

    Each is tried by running it once (``$PSVersionTable.PSVersion.Major``), as AutoGen 0.2 does.

    Returns:
        ``"powershell"`` or ``"pwsh"``, whichever answers first; None when one is found but
        neither answers successfully.

    Raises:
        FileNotFoundError: neither command is installed.
        PermissionError: a command exists but may not be run.
    """
    found = False
    for command, flag in (("powershell", None), ("pwsh", "-Command")):
        argv = [command, *([flag] if flag else []), "$PSVersionTable.PSVersion.Major"]
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except PermissionError as exc:
            raise PermissionError(f"No permission to run {command!r}: {exc}") from exc
        found = True
        if result.returncode == 0:
            return command
    if not found:
        raise FileNotFoundError(
            "Neither 'powershell' nor 'pwsh' is installed (or on PATH); install PowerShell to run pwsh blocks."
        )
    return None
