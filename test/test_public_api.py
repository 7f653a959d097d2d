"""The public surface: sorted, complete ``__all__`` lists, cheap import, and the layer rules."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "parley"
PUBLIC_MODULES = [
    "parley",
    "parley.agentchat",
    "parley.llm",
    "parley.coding",
    "parley.testing",
    "parley.exceptions",
    "parley.io",
    "parley.coding.jupyter",
    "parley.llm.cache",
    "parley.math_utils",
    "parley.runtime.mcp",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
    for attr in exported:
        assert getattr(module, attr) is not None, f"{name}.{attr} is in __all__ but not importable"


@pytest.mark.parametrize("name", [m for m in PUBLIC_MODULES if m != "parley"])
def test_all_is_complete(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        k
        for k, v in vars(module).items()
        if not k.startswith("_") and getattr(v, "__module__", "").startswith("parley") and not isinstance(v, type(sys))
    }
    lazy = set(getattr(module, "_LAZY", {}))
    missing = public - set(module.__all__) - lazy
    assert not missing, f"{name} exposes {sorted(missing)} without listing them in __all__"


def test_top_level_reexports_autogen_names() -> None:
    import parley

    for name in (
        "Agent", "LLMAgent", "ConversableAgent", "AssistantAgent", "UserProxyAgent", "ChatResult",
        "initiate_chats", "gather_usage_summary", "config_list_from_json", "filter_config", "ModelClient",
    ):  # fmt: skip
        assert name in parley.__all__
        assert getattr(parley, name) is not None


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


# Each layer may import only the layers listed for it (imports point down only). The runtime is
# the top layer, and AutoGen 0.2's module paths are re-exports for users: no layer imports either.
COMPAT = (
    "parley.cache",
    "parley.code_utils",
    "parley.exception_utils",
    "parley.function_utils",
    "parley.logger",
    "parley.oai",
    "parley.runtime_logging",
)
ABOVE_ALL = ("parley.runtime", "parley.cli", *COMPAT)
FORBIDDEN = {
    "coding": ("parley.agentchat", "parley.llm", "parley.testing", *ABOVE_ALL),
    "llm": ("parley.agentchat", "parley.testing", *ABOVE_ALL),
    "testing": ("parley.agentchat", *ABOVE_ALL),
    "agentchat": ("parley.testing", *ABOVE_ALL),
    "_runlog": ("parley.agentchat", "parley.llm", "parley.coding", "parley.testing", *ABOVE_ALL),
}


def _within(module: str, packages: tuple[str, ...]) -> bool:
    """True when ``module`` is one of ``packages`` or inside one (``parley.runtime_logging`` is not in runtime)."""
    return any(module == p or module.startswith(p + ".") for p in packages)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_down_only(layer: str) -> None:
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for mod in _imports(path):
            if _within(mod, FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not bad, "\n".join(bad)


def test_sdks_are_imported_by_one_adapter_each() -> None:
    users: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for mod in _imports(path):
            top = mod.split(".")[0]
            if top in ("openai", "docker", "jupyter_client", "tornado", "mcp", "mcp_types", "redis", "azure"):
                users.setdefault(top, []).append(str(path.relative_to(ROOT)))
    for sdk, files in users.items():
        assert len(set(files)) == 1, f"{sdk} is imported by several modules: {sorted(set(files))}"


def test_import_parley_is_cheap_and_quiet() -> None:
    code = (
        "import sys, parley\n"
        "heavy = [m for m in ('openai', 'pydantic', 'rich', 'httpx', 'markdown_it', 'docker', 'jupyter_client',"
        " 'tornado', 'redis', 'azure') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import parley pulled in heavy modules: {out.stdout.strip()}"
    assert out.stderr == ""
