"""The documentation runs: every Python block in ``website/docs`` executes, and the site builds.

Each page's ```python blocks run in order, sharing one namespace as a reader running the page
top to bottom would, in a fresh interpreter (`sys.executable`) whose working directory is an
empty temporary folder. A traceback names the page and the line of the opening fence; its line
numbers count from the block's first line. A block opts out
only with an explicit ``<!-- skip-test -->`` HTML comment right before it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import require

ROOT = Path(__file__).resolve().parent.parent
WEBSITE = ROOT / "website"
DOCS = WEBSITE / "docs"
PAGES = sorted(DOCS.glob("*.md"))
PYTHON_TAGS = ("python", "py", "python3")
SKIP_MARKER = "<!-- skip-test -->"
# The docs run against scripted models only: no hosted model may be reached from them.
MODEL_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OAI_CONFIG_LIST")

RUNNER = """\
import json, sys
blocks = json.loads(sys.stdin.read())
namespace = {"__name__": "__main__"}
for page, line, code in blocks:
    exec(compile(code, f"{page}:{line}", "exec"), namespace)
"""


@dataclass(frozen=True)
class Block:
    """A fenced Python block: its code and the 1-based line of its opening fence."""

    code: str
    line: int
    skipped: bool


def python_blocks(markdown: str) -> list[Block]:
    """The ```python blocks of a page, in order, each marked skipped when a skip marker precedes it."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(markdown)
    blocks = []
    for i, token in enumerate(tokens):
        if token.type != "fence" or token.map is None:
            continue
        words = token.info.split()
        if not words or words[0].lower() not in PYTHON_TAGS:
            continue
        before = tokens[i - 1] if i else None
        skipped = before is not None and before.type == "html_block" and before.content.strip() == SKIP_MARKER
        blocks.append(Block(token.content, token.map[0] + 1, skipped))
    return blocks


def test_block_extraction() -> None:
    page = (
        "Intro\n\n```python\nx = 1\n```\n\n~~~py\ny = 2\n~~~\n\n```bash\nls\n```\n\n"
        f"{SKIP_MARKER}\n```python\nz = 3\n```\n\n````markdown\n```python\nnot = code\n```\n````\n"
    )
    blocks = python_blocks(page)
    assert [(b.code, b.line, b.skipped) for b in blocks] == [
        ("x = 1\n", 3, False),
        ("y = 2\n", 7, False),
        ("z = 3\n", 16, True),
    ]


def test_there_are_pages_with_code() -> None:
    assert [p.name for p in PAGES if python_blocks(p.read_text(encoding="utf-8"))], "no runnable docs"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_code_runs(page: Path, tmp_path: Path) -> None:
    blocks = [b for b in python_blocks(page.read_text(encoding="utf-8")) if not b.skipped]
    if not blocks:
        pytest.skip(f"{page.name} has no Python blocks")
    payload = json.dumps([[f"website/docs/{page.name}", b.line, b.code] for b in blocks])
    env = {k: v for k, v in os.environ.items() if k not in MODEL_ENV}
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=payload,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, (
        f"{page.name}: a Python block failed (exit {proc.returncode}).\n"
        f"--- stdout (last 3000 chars)\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-6000:]}"
    )


@pytest.mark.timeout(120)
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    # Skips where mkdocs is missing; on CI (CI=true) fails instead.
    require(importlib.util.find_spec("mkdocs") is not None, "mkdocs (pip install 'pyparley[docs]')")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(WEBSITE / "mkdocs.yml"), "-d", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    assert (tmp_path / "index.html").is_file()
    # an API page, rendered from the docstrings, for every public module
    sys.path.insert(0, str(WEBSITE / "hooks"))
    try:
        from api_pages import public_modules  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(WEBSITE / "hooks"))
    modules = public_modules()
    assert {"parley", "parley.agentchat.conversable_agent", "parley.coding.pool", "parley.llm.wrapper"} <= set(modules)
    for module in modules:
        page = (tmp_path / "api" / module / "index.html").read_text(encoding="utf-8")
        assert 'class="doc doc-' in page, f"{module}: no rendered reference"
    pool = (tmp_path / "api" / "parley.coding.pool" / "index.html").read_text(encoding="utf-8")
    assert "acquire_timeout" in pool  # from ExecutorPool's docstring
    # works offline: no script, stylesheet or font from another host, and code coloured at build time
    for html in tmp_path.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', text), html
    started = (tmp_path / "getting-started" / "index.html").read_text(encoding="utf-8")
    assert '<span class="kn">from</span>' in started
    assert (tmp_path / "search" / "search_index.json").is_file()
    gallery = (tmp_path / "examples" / "index.html").read_text(encoding="utf-8")
    assert "examples/two_agents.replies.yaml" in gallery
    # each script is shown as it is (the snippet lines were expanded, not printed)
    for word in ("initiate_chat", "LineCounter", "ExecutorPool", "price_summary"):
        assert f">{word}<" in gallery, word
    assert "8&lt;" not in gallery
    assert "8 &lt;" not in gallery
