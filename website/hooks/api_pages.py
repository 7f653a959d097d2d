"""An mkdocs hook: one API reference page per public module of parley, made at build time.

A module is public when no part of its dotted name starts with an underscore. Each page holds
one mkdocstrings directive (``::: parley.x.y``), so the reference is rendered from the
docstrings, and a module added to the package gets its page without editing the site.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

PACKAGE = Path(__file__).resolve().parents[2] / "parley"


def public_modules() -> list[str]:
    """Dotted names of parley's public modules, sorted (packages before their modules)."""
    names = []
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] == "__main__" or any(p.startswith("_") for p in parts):
            continue
        names.append(".".join(parts))
    return sorted(set(names))


def _page(module: str) -> str:
    return f"api/{module}.md"


def on_config(config: Any) -> Any:
    """Add an "API reference" section listing every public module to the nav."""
    pages = [{module: _page(module)} for module in public_modules()]
    config["nav"] = [*(config["nav"] or []), {"API reference": ["api/index.md", *pages]}]
    return config


def on_files(files: Files, config: Any) -> Files:
    """Add the generated pages: an index, and one page per public module."""
    modules = public_modules()
    index = "# API reference\n\nOne page per public module, rendered from its docstrings.\n\n" + "".join(
        f"- [`{m}`]({m}.md)\n" for m in modules
    )
    files.append(File.generated(config, "api/index.md", content=index))
    for module in modules:
        files.append(File.generated(config, _page(module), content=f"# `{module}`\n\n::: {module}\n"))
    return files
