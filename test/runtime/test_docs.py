"""The config reference page is generated from the pydantic models and kept up to date."""

from __future__ import annotations

from pathlib import Path

from parley.runtime._schema_doc import render

PAGE = Path(__file__).resolve().parents[2] / "website" / "docs" / "runtime-config.md"


def test_config_reference_is_up_to_date() -> None:
    assert PAGE.read_text() == render(), "run: python -m parley.runtime._schema_doc > website/docs/runtime-config.md"


def test_every_key_of_every_section_is_described() -> None:
    page = render()
    for key in ("max_steps", "max_duration_s", "max_cost_usd", "max_tokens", "api_key_env", "speaker_selection"):
        assert f"| `{key}` |" in page
    assert "|  |\n" not in page  # no key without a meaning
