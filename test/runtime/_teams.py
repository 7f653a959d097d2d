"""Team files and scripted model answers shared by the runtime tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

KEY_ENV = "PARLEY_TEST_RUNTIME_KEY"

PRINT_SLEEP_PRINT = (
    "```python\nimport time\nprint('first', flush=True)\ntime.sleep(2)\nprint('second', flush=True)\n```"
)


def pair_config(base_url: str, work_dir: Path, *, executor: dict[str, Any] | None = None) -> dict[str, Any]:
    """A runner (user proxy with an executor) and a coder (assistant) as a two-agent team."""
    return {
        "models": {"fast": [{"model": "gpt-4o-mini", "base_url": base_url, "api_key_env": KEY_ENV}]},
        "executors": {"sandbox": executor or {"kind": "commandline-local", "options": {"work_dir": str(work_dir)}}},
        "agents": {
            "coder": {"kind": "assistant", "model": "fast", "system_message": "You write Python."},
            "runner": {"kind": "user_proxy", "executor": "sandbox", "human_input_mode": "NEVER"},
        },
        "teams": {"pair": {"kind": "two_agent", "members": ["runner", "coder"]}},
    }


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
