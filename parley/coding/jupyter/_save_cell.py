"""Save a ``# filename:`` block where a remote kernel runs, not on this machine.

A kernel on a gateway reads and writes the files of the machine it runs on, so a block that
names a file is saved there, in the kernel's working directory, by a small cell run before the
block. The rule is the one every executor keeps (`parley.coding._files.resolve_in_work_dir`):
the name, with symbolic links followed, must stay inside that directory. It is checked on the
kernel's side, because only there can the links be followed.

The helper is Python *source* sent to the kernel (whose interpreter need not have parley), and it
reports a refusal as a shell cell reports a failing script (see `parley.coding.jupyter._shell`):
it prints the text for the model and raises `EXIT_ERROR_NAME` with exit code 1, so the cell is
run with ``shell=True`` and the block is not run.
"""

from __future__ import annotations

from parley.coding.jupyter._shell import EXIT_ERROR_NAME, helper_cell

__all__ = ["SAVE_HELPER_NAME", "SAVE_HELPER_SOURCE", "save_cell"]

SAVE_HELPER_NAME = "__parley_save"
"""The helper's name in the kernel's namespace."""

SAVE_HELPER_SOURCE = f"""\
class {EXIT_ERROR_NAME}(Exception):
    pass


def {SAVE_HELPER_NAME}(name, code):
    import os
    root = os.path.realpath(os.getcwd())
    try:
        path = os.path.realpath(os.path.join(root, name))
        inside = path != root and os.path.commonpath([root, path]) == root
    except ValueError:  # a NUL character, or another drive
        inside = False
    if not inside:
        print("Not run: the '# filename: " + name + "' marker names a file outside the kernel's working "
              "directory " + root + " (on the machine the kernel runs on), and files must stay inside it. "
              "Use a relative path without '..', such as '# filename: " + os.path.basename(name) + "'.")
        raise {EXIT_ERROR_NAME}(1)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
    except OSError as exc:
        print("Not run: could not write " + path + ": " + str(exc))
        raise {EXIT_ERROR_NAME}(1)
"""
"""Python source defining ``__parley_save(name, code)``: save ``code`` as ``name`` in the working directory.

It returns None when saved; else it prints why not and raises `EXIT_ERROR_NAME` with value 1.
"""


def save_cell(name: str, code: str) -> str:
    """Return the cell that saves ``code`` as ``name`` in the kernel's working directory.

    Args:
        name: the file name from the block's ``# filename:`` marker, relative to the kernel's
            working directory (or absolute inside it).
        code: the block's source; it is saved as UTF-8, ending with a newline.
    """
    text = code if code.endswith("\n") else code + "\n"
    return helper_cell(SAVE_HELPER_NAME, SAVE_HELPER_SOURCE, f"{SAVE_HELPER_NAME}({name!r}, {text!r})")
