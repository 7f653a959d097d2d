"""User functions that model-written code can import (AutoGen 0.2's ``autogen.coding.func_with_reqs``).

A local executor given ``functions=[...]`` writes them to one module in its ``work_dir``
(``functions.py`` by default) before the first block runs, installs the packages they need, and
tells the model their signatures (`to_stub`), so a block can ``from functions import load_data``.

- A plain function is written as its source (``inspect.getsource``), decorators dropped.
- `with_requirements` (or `FunctionWithRequirements.from_callable`) adds the packages to
  install (``python_packages``, pip requirement strings) and the imports the module needs
  (``global_imports``: ``"polars"``, ``Alias("numpy", "np")``,
  ``ImportFromModule("pathlib", ["Path"])``); the decorated function stays callable as before.
- `FunctionWithRequirements.from_str` takes the source as a string. Unlike AutoGen 0.2, the
  string is parsed but never executed on this machine: its stub comes from the parsed
  definition, and it runs only in the executor's processes.

Rendering is deterministic: imports appear once each, in the order first given.
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias, TypeVar

from typing_extensions import ParamSpec

__all__ = [
    "Alias",
    "FunctionWithRequirements",
    "FunctionWithRequirementsStr",
    "Import",
    "ImportFromModule",
    "UserFunction",
    "build_python_functions_file",
    "import_line",
    "required_packages",
    "to_code",
    "to_stub",
    "with_requirements",
]

T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True)
class Alias:
    """``import name as alias`` (or, inside `ImportFromModule`, ``name as alias``)."""

    name: str
    alias: str


@dataclass(frozen=True)
class ImportFromModule:
    """``from module import a, b as c``: ``ImportFromModule("module", ["a", Alias("b", "c")])``."""

    module: str
    imports: Sequence[str | Alias]


Import: TypeAlias = str | ImportFromModule | Alias
"""One import a functions module needs: a module name (``"json"``), an `Alias` or an `ImportFromModule`."""


def import_line(item: Import) -> str:
    """The Python statement for one `Import`."""
    if isinstance(item, str):
        return f"import {item}"
    if isinstance(item, Alias):
        return f"import {item.name} as {item.alias}"
    names = ", ".join(n if isinstance(n, str) else f"{n.name} as {n.alias}" for n in item.imports)
    return f"from {item.module} import {names}"


@dataclass
class FunctionWithRequirements(Generic[T, P]):
    """A function, with the packages and imports it needs in the executor's environment.

    Calling it calls ``func``.

    Attributes:
        func: the function (a ``def``, whose source `inspect.getsource` can read).
        python_packages: pip requirement strings (``"polars"``, ``"numpy>=1.26"``). Default none.
        global_imports: the imports the function's module needs. Default none.
    """

    func: Callable[P, T]
    python_packages: list[str] = field(default_factory=list)
    global_imports: list[Import] = field(default_factory=list)

    @classmethod
    def from_callable(
        cls, func: Callable[P, T], python_packages: Sequence[str] = (), global_imports: Sequence[Import] = ()
    ) -> FunctionWithRequirements[T, P]:
        """Wrap ``func`` with its requirements (the same as `with_requirements` without the decorator)."""
        return cls(func=func, python_packages=list(python_packages), global_imports=list(global_imports))

    @staticmethod
    def from_str(
        func: str, python_packages: Sequence[str] = (), global_imports: Sequence[Import] = ()
    ) -> FunctionWithRequirementsStr:
        """A function given as source text; see `FunctionWithRequirementsStr`."""
        return FunctionWithRequirementsStr(func, python_packages, global_imports)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``func``."""
        return self.func(*args, **kwargs)


class FunctionWithRequirementsStr:
    """A function given as source text: exactly one top-level ``def``, parsed here, never run here.

    Args:
        func: the source of one function (decorators, if any, are dropped when it is written).
        python_packages: pip requirement strings for the executor's environment. Default none.
        global_imports: the imports the function's module needs. Default none.

    Raises:
        ValueError: the text is not valid Python, or does not hold exactly one top-level
            function definition.
    """

    def __init__(self, func: str, python_packages: Sequence[str] = (), global_imports: Sequence[Import] = ()) -> None:
        try:
            tree = ast.parse(textwrap.dedent(func))
        except SyntaxError as exc:
            raise ValueError(f"Could not compile the function: {exc}") from exc
        defs = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
        if len(defs) != 1:
            raise ValueError(f"The string must define exactly one function at top level; it defines {len(defs)}.")
        self.func = func
        self.python_packages = list(python_packages)
        self.global_imports = list(global_imports)
        self._definition = defs[0]

    @property
    def __name__(self) -> str:
        """The function's name."""
        return self._definition.name

    def stub(self) -> str:
        """The function's signature and docstring, with ``...`` for a body."""
        return _stub_of(self._definition)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Refuse: the function exists only as text here.

        Raises:
            NotImplementedError: always.
        """
        raise NotImplementedError(
            f"{self.__name__} was given as source text: it runs only in the executor's processes "
            f"(import it there from the functions module)."
        )

    def __repr__(self) -> str:
        return f"FunctionWithRequirementsStr({self.__name__!r}, python_packages={self.python_packages!r})"


UserFunction: TypeAlias = FunctionWithRequirements[Any, Any] | FunctionWithRequirementsStr | Callable[..., Any]
"""What an executor's ``functions=`` list holds."""


def with_requirements(
    python_packages: Sequence[str] = (), global_imports: Sequence[Import] = ()
) -> Callable[[Callable[P, T]], FunctionWithRequirements[T, P]]:
    """Decorate a function with the packages and imports it needs where the executor runs it.

    Args:
        python_packages: pip requirement strings, installed before the first block runs.
        global_imports: the imports written at the top of the functions module.

    Returns:
        A decorator giving a `FunctionWithRequirements` that keeps the function's name,
        docstring and signature and calls it when called.
    """

    def wrap(func: Callable[P, T]) -> FunctionWithRequirements[T, P]:
        wrapped = FunctionWithRequirements.from_callable(func, python_packages, global_imports)
        functools.update_wrapper(wrapped, func)
        return wrapped

    return wrap


def _plain(func: UserFunction) -> Callable[..., Any]:
    return func.func if isinstance(func, FunctionWithRequirements) else func


def to_code(func: UserFunction) -> str:
    """The source a functions module holds for ``func``: its ``def``, dedented, without decorators.

    Raises:
        ValueError: the source cannot be read (a built-in, a function made by ``exec``) or is
            not a ``def`` (a lambda).
    """
    if isinstance(func, FunctionWithRequirementsStr):
        source = textwrap.dedent(func.func)
        start = func._definition.lineno
    else:
        plain = _plain(func)
        try:
            source = textwrap.dedent(inspect.getsource(plain))
        except (OSError, TypeError) as exc:
            raise ValueError(f"Cannot read the source of {plain!r}: {exc}. Pass it as source text instead.") from exc
        node = ast.parse(source).body[0] if source.lstrip().startswith(("def ", "async def ", "@")) else None
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = getattr(plain, "__name__", plain)
            raise ValueError(f"{name!r} is not a 'def' function; only those can be written.")
        start = node.lineno
    return "\n".join(source.splitlines()[start - 1 :]).rstrip() + "\n"


def _stub_of(definition: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    node = copy.deepcopy(definition)
    doc = ast.get_docstring(node, clean=False)
    node.body = [ast.Expr(ast.Constant(value)) for value in ((doc, ...) if doc is not None else (...,))]
    node.decorator_list = []
    return ast.unparse(ast.fix_missing_locations(node))


def to_stub(func: UserFunction) -> str:
    """The signature and docstring of ``func`` as Python source, with ``...`` for a body.

    This is what the model is shown (`format_functions_for_prompt`). Annotations are written as
    in the source (so ``from __future__ import annotations`` changes nothing); a function whose
    source cannot be read is described from `inspect.signature`.
    """
    if isinstance(func, FunctionWithRequirementsStr):
        return func.stub()
    try:
        (definition,) = ast.parse(to_code(func)).body
    except ValueError:
        plain = _plain(func)
        lines = [f"def {plain.__name__}{inspect.signature(plain)}:"]
        if plain.__doc__:
            lines.append(textwrap.indent('"""' + inspect.cleandoc(plain.__doc__) + '"""', "    "))
        return "\n".join([*lines, "    ..."])
    assert isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef))
    return _stub_of(definition)


def required_packages(functions: Iterable[UserFunction]) -> list[str]:
    """The pip requirements of ``functions``, each once, in the order first given."""
    packages: dict[str, None] = {}
    for func in functions:
        if isinstance(func, (FunctionWithRequirements, FunctionWithRequirementsStr)):
            packages.update(dict.fromkeys(func.python_packages))
    return list(packages)


def build_python_functions_file(functions: Iterable[UserFunction]) -> str:
    """The source of the functions module: every import once, then every function.

    Raises:
        ValueError: a function's source cannot be read (see `to_code`).
    """
    functions = list(functions)
    imports: dict[str, None] = {}
    for func in functions:
        if isinstance(func, (FunctionWithRequirements, FunctionWithRequirementsStr)):
            imports.update(dict.fromkeys(import_line(item) for item in func.global_imports))
    parts = ["\n".join(imports) + "\n" if imports else "", *(to_code(func) for func in functions)]
    return "\n\n".join(part for part in parts if part)
