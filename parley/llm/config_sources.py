"""Config lists built from keys in environment variables, ``.env`` files and key files (AutoGen 0.2's helpers).

`parley.llm.config.config_list_from_json` reads a whole list from JSON. The helpers here build
one from API keys found elsewhere:

- `get_config_list`: one entry per key, with optional base URLs, ``api_type`` and ``api_version``.
- `config_list_openai_aoai`: OpenAI and Azure OpenAI keys and base URLs from the environment
  variables ``OPENAI_API_KEY``, ``OPENAI_API_BASE``, ``AZURE_OPENAI_API_KEY`` and
  ``AZURE_OPENAI_API_BASE`` (several values one per line), or from key files.
- `config_list_from_models`, `config_list_gpt4_gpt35`: the same, once per model.
- `config_list_from_dotenv`: keys named in a ``.env`` file or the environment, per model.

Unlike AutoGen 0.2, nothing here writes to ``os.environ`` except `config_list_from_dotenv`,
which loads the ``.env`` file into it without overriding variables already set (as
python-dotenv's ``load_dotenv`` does).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from parley._logging import get_logger
from parley.exceptions import UsageError
from parley.llm.config import filter_config
from parley.llm.providers import DEFAULT_AZURE_API_VERSION

__all__ = [
    "DEFAULT_AZURE_API_VERSION",
    "config_list_from_dotenv",
    "config_list_from_models",
    "config_list_gpt4_gpt35",
    "config_list_openai_aoai",
    "get_config",
    "get_config_list",
    "is_valid_api_key",
    "load_dotenv_file",
]

logger = get_logger("parley.llm")

_OPENAI_KEY = re.compile(r"sk-([A-Za-z0-9]+(-+[A-Za-z0-9]+)*-)?[A-Za-z0-9]{32,}")
_DOTENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*")
_DEFAULT_DOTENV_MODELS = ("gpt-4", "gpt-3.5-turbo")


def is_valid_api_key(api_key: str) -> bool:
    """Whether ``api_key`` has the shape of an OpenAI API key (``sk-`` then 32+ letters and digits).

    A project or service prefix such as ``sk-proj-`` is allowed. Nothing is sent anywhere.
    """
    return _OPENAI_KEY.fullmatch(api_key) is not None


def get_config_list(
    api_keys: Sequence[str],
    base_urls: Sequence[str] | None = None,
    api_type: str | None = None,
    api_version: str | None = None,
) -> list[dict[str, Any]]:
    """One config entry per API key; blank keys are skipped.

    Args:
        api_keys: the keys.
        base_urls: one base URL per key, or None for none.
        api_type: put in every entry when given (``"azure"`` ...).
        api_version: put in every entry when given.

    Returns:
        Entries with ``api_key`` and, when given, ``base_url``, ``api_type``, ``api_version``.

    Raises:
        UsageError: ``base_urls`` is given and its length differs from ``api_keys``' (a
            `ConfigError`, so a ``ValueError``, and an ``AssertionError`` as 0.2 raised).
    """
    if base_urls is not None and len(api_keys) != len(base_urls):
        # 0.2's words exactly (its tests compare them), raised also under python -O; the counts
        # go in a note, which tracebacks show.
        error = UsageError("The length of api_keys must match the length of base_urls", key="base_urls")
        if hasattr(error, "add_note"):
            error.add_note(f"Got {len(api_keys)} key(s) and {len(base_urls)} URL(s).")
        raise error
    entries: list[dict[str, Any]] = []
    for index, api_key in enumerate(api_keys):
        if not api_key.strip():
            continue
        entry: dict[str, Any] = {"api_key": api_key}
        if base_urls:
            entry["base_url"] = base_urls[index]
        if api_type:
            entry["api_type"] = api_type
        if api_version:
            entry["api_version"] = api_version
        entries.append(entry)
    return entries


def _lines(value: str | None) -> list[str]:
    return value.split("\n") if value else []


def _read(folder: str | os.PathLike[str] | None, name: str | None, fallback: str | None) -> str | None:
    """The stripped text of ``folder/name`` when it exists, else ``fallback``."""
    if folder is None or name is None:
        return fallback
    path = Path(folder) / name
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        logger.info("%s not found; using the environment variable instead, if set.", path)
        return fallback


def config_list_openai_aoai(
    key_file_path: str | os.PathLike[str] | None = ".",
    openai_api_key_file: str | None = "key_openai.txt",
    aoai_api_key_file: str | None = "key_aoai.txt",
    openai_api_base_file: str | None = "base_openai.txt",
    aoai_api_base_file: str | None = "base_aoai.txt",
    exclude: str | None = None,
) -> list[dict[str, Any]]:
    """Entries for OpenAI and Azure OpenAI keys from key files or environment variables.

    Each value is read from its file in ``key_file_path`` when the file exists, else from its
    environment variable: ``OPENAI_API_KEY``, ``OPENAI_API_BASE``, ``AZURE_OPENAI_API_KEY``,
    ``AZURE_OPENAI_API_BASE``. Several keys (and base URLs, one per key) go one per line.

    Args:
        key_file_path: the folder of the key files; None reads only the environment.
        openai_api_key_file: file of OpenAI keys; None to skip the file.
        aoai_api_key_file: file of Azure OpenAI keys; None to skip.
        openai_api_base_file: file of OpenAI base URLs; None to skip.
        aoai_api_base_file: file of Azure OpenAI endpoints; None to skip.
        exclude: ``"openai"`` or ``"aoai"`` to leave that kind out.

    Returns:
        The OpenAI entries, then the Azure ones (``api_type="azure"``, ``api_version`` =
        `DEFAULT_AZURE_API_VERSION`); empty when no key is found.

    Raises:
        ConfigError: a kind has a different number of keys and base URLs.
    """
    entries: list[dict[str, Any]] = []
    if exclude != "openai":
        keys = _read(key_file_path, openai_api_key_file, os.environ.get("OPENAI_API_KEY"))
        bases = _read(key_file_path, openai_api_base_file, os.environ.get("OPENAI_API_BASE"))
        entries += get_config_list(_lines(keys), _lines(bases) if bases is not None else None)
    if exclude != "aoai":
        keys = _read(key_file_path, aoai_api_key_file, os.environ.get("AZURE_OPENAI_API_KEY"))
        bases = _read(key_file_path, aoai_api_base_file, os.environ.get("AZURE_OPENAI_API_BASE"))
        key_lines = _lines(keys)
        entries += get_config_list(
            key_lines, _lines(bases) if key_lines else None, api_type="azure", api_version=DEFAULT_AZURE_API_VERSION
        )
    return entries


def config_list_from_models(
    key_file_path: str | os.PathLike[str] | None = ".",
    openai_api_key_file: str | None = "key_openai.txt",
    aoai_api_key_file: str | None = "key_aoai.txt",
    aoai_api_base_file: str | None = "base_aoai.txt",
    exclude: str | None = None,
    model_list: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """`config_list_openai_aoai`'s entries, repeated for each model of ``model_list`` (model first).

    Raises:
        ConfigError: as `config_list_openai_aoai`.
    """
    entries = config_list_openai_aoai(
        key_file_path=key_file_path,
        openai_api_key_file=openai_api_key_file,
        aoai_api_key_file=aoai_api_key_file,
        aoai_api_base_file=aoai_api_base_file,
        exclude=exclude,
    )
    if model_list:
        return [{**entry, "model": model} for model in model_list for entry in entries]
    return entries


def config_list_gpt4_gpt35(
    key_file_path: str | os.PathLike[str] | None = ".",
    openai_api_key_file: str | None = "key_openai.txt",
    aoai_api_key_file: str | None = "key_aoai.txt",
    aoai_api_base_file: str | None = "base_aoai.txt",
    exclude: str | None = None,
) -> list[dict[str, Any]]:
    """`config_list_from_models` for ``gpt-4`` and ``gpt-3.5-turbo``."""
    return config_list_from_models(
        key_file_path, openai_api_key_file, aoai_api_key_file, aoai_api_base_file, exclude, ["gpt-4", "gpt-3.5-turbo"]
    )


def get_config(
    api_key: str | None, base_url: str | None = None, api_type: str | None = None, api_version: str | None = None
) -> dict[str, Any]:
    """One entry; ``base_url``, ``api_type`` and ``api_version`` may name environment variables to read.

    Each of the three is replaced by the environment variable of that name when one is set.
    """
    entry: dict[str, Any] = {"api_key": api_key}
    for key, value in (("base_url", base_url), ("api_type", api_type), ("api_version", api_version)):
        if value:
            entry[key] = os.environ.get(value, value)
    return entry


def load_dotenv_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read ``KEY=value`` lines from a ``.env`` file into ``os.environ``, keeping variables already set.

    Blank lines, ``#`` comments and an ``export`` prefix are allowed; a value may be quoted with
    ``'`` or ``"``. Lines of another shape are skipped.

    Returns:
        Every variable the file defines, with its value from the file.

    Raises:
        OSError: the file cannot be read.
    """
    found: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.fullmatch(line)
        if match is None:
            continue
        name, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        found[name] = value
        os.environ.setdefault(name, value)
    return found


def _find_dotenv() -> Path | None:
    for folder in (Path.cwd(), *Path.cwd().parents):
        candidate = folder / ".env"
        if candidate.is_file():
            return candidate
    return None


def config_list_from_dotenv(
    dotenv_file_path: str | os.PathLike[str] | None = None,
    model_api_key_map: Mapping[str, Any] | None = None,
    filter_dict: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Entries per model, with the API key read from a ``.env`` file or the environment (AutoGen 0.2).

    The ``.env`` file (``dotenv_file_path``, else the first ``.env`` in the working directory or
    a parent) is loaded into ``os.environ`` without overriding what is set. A missing file is
    logged as a warning and the environment is used.

    Args:
        dotenv_file_path: the ``.env`` file.
        model_api_key_map: model name -> the environment variable holding its key, or a dict
            with ``api_key_env_var`` and any of ``base_url``, ``api_type``, ``api_version``
            (each may name an environment variable). ``gpt-4`` and ``gpt-3.5-turbo`` map to
            ``OPENAI_API_KEY`` unless given.
        filter_dict: keep only the entries `parley.llm.config.filter_config` accepts.

    Returns:
        One entry per model whose key is set and not blank (others are logged as warnings),
        filtered; empty (logged as an error) when none is left.
    """
    if dotenv_file_path:
        if Path(dotenv_file_path).is_file():
            load_dotenv_file(dotenv_file_path)
        else:
            logger.warning("The specified .env file %s does not exist.", dotenv_file_path)
    else:
        found = _find_dotenv()
        if found is None:
            logger.warning("No .env file found. Loading configurations from environment variables.")
        else:
            load_dotenv_file(found)
    models: dict[str, Any] = dict(model_api_key_map or {})
    for model in _DEFAULT_DOTENV_MODELS:
        models.setdefault(model, "OPENAI_API_KEY")
    entries: list[dict[str, Any]] = []
    for model, spec in models.items():
        if isinstance(spec, str):
            entry = get_config(os.environ.get(spec))
        elif isinstance(spec, Mapping):
            named = ("api_key_env_var", "base_url", "api_type", "api_version")
            api_key = os.environ.get(spec.get("api_key_env_var", "OPENAI_API_KEY"))
            entry = get_config(api_key, spec.get("base_url"), spec.get("api_type"), spec.get("api_version"))
            entry.update({k: v for k, v in spec.items() if k not in named})
        else:
            logger.warning("Unsupported type %s for model %s configuration; skipped.", type(spec).__name__, model)
            continue
        if not entry["api_key"] or not str(entry["api_key"]).strip():
            logger.warning(
                "API key not found or empty for model %s. Please ensure path to .env file is correct.", model
            )
            continue
        entries.append({**entry, "model": model})
    entries = filter_config(entries, filter_dict) if filter_dict else entries
    if not entries:
        logger.error("No configurations loaded.")
    return entries
