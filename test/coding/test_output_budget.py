"""OutputBudget: head and tail under a character budget, the whole output spilled to a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.coding._output import OutputBudget


def test_output_within_budget_is_kept_whole_and_nothing_is_written(tmp_path: Path) -> None:
    spill = tmp_path / "out.txt"
    with OutputBudget(10, spill) as budget:
        budget.feed_bytes(b"hello")
        budget.feed_text("world")
        result = budget.finish()
    assert result.text == "helloworld"
    assert (result.total_chars, result.cut_chars, result.full_output_file) == (10, 0, None)
    assert not spill.exists()


def test_output_over_budget_keeps_head_and_tail_and_spills_everything(tmp_path: Path) -> None:
    spill = tmp_path / "out.txt"
    text = "".join(f"line {i}\n" for i in range(1000))
    budget = OutputBudget(100, spill)
    for i in range(0, len(text), 37):
        budget.feed_text(text[i : i + 37])
    result = budget.finish()
    assert result.full_output_file == spill
    assert spill.read_text(encoding="utf-8") == text
    assert result.total_chars == len(text)
    assert result.cut_chars == len(text) - 100
    head, tail = text[:50], text[-50:]
    assert result.text.startswith(head)
    assert result.text.endswith(tail)
    marker = result.text[len(head) : -len(tail)]
    assert f"{len(text) - 100:,} characters cut" in marker
    assert str(spill) in marker


def test_odd_budget_gives_the_extra_character_to_the_tail(tmp_path: Path) -> None:
    budget = OutputBudget(5, tmp_path / "out.txt")
    budget.feed_text("abcdefghij")
    result = budget.finish()
    assert result.text.startswith("ab\n")
    assert result.text.endswith("\nhij")
    assert result.cut_chars == 5


def test_one_huge_chunk(tmp_path: Path) -> None:
    budget = OutputBudget(10, tmp_path / "out.txt")
    budget.feed_text("x" * 1_000_000 + "END")
    result = budget.finish()
    assert result.text.startswith("xxxxx\n")
    assert result.text.endswith("\nxxEND")
    assert result.total_chars == 1_000_003


def test_many_tiny_chunks_after_the_spill(tmp_path: Path) -> None:
    budget = OutputBudget(20, tmp_path / "out.txt")
    expected = "".join(str(i % 10) for i in range(5000))
    for ch in expected:
        budget.feed_text(ch)
    result = budget.finish()
    assert result.text.endswith("\n" + expected[-10:])
    assert (tmp_path / "out.txt").read_text() == expected


def test_utf8_character_split_between_chunks_is_decoded_whole(tmp_path: Path) -> None:
    data = "héllo wörld ✓".encode()
    budget = OutputBudget(100, tmp_path / "out.txt")
    for i in range(len(data)):
        budget.feed_bytes(data[i : i + 1])
    assert budget.finish().text == "héllo wörld ✓"


def test_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    budget = OutputBudget(100, tmp_path / "out.txt")
    budget.feed_bytes(b"ok \xff\xfe end")
    assert budget.finish().text == "ok \ufffd\ufffd end"


def test_truncated_utf8_at_the_end_is_replaced(tmp_path: Path) -> None:
    budget = OutputBudget(100, tmp_path / "out.txt")
    budget.feed_bytes("✓".encode()[:2])
    assert budget.finish().text == "\ufffd"


def test_spill_file_keeps_newlines_as_written(tmp_path: Path) -> None:
    budget = OutputBudget(4, tmp_path / "out.txt")
    budget.feed_bytes(b"a\r\nb\r\nc\r\n")
    budget.finish()
    assert (tmp_path / "out.txt").read_bytes() == b"a\r\nb\r\nc\r\n"


def test_ends_with_newline(tmp_path: Path) -> None:
    budget = OutputBudget(100, tmp_path / "out.txt")
    assert budget.ends_with_newline
    budget.feed_text("no newline")
    assert not budget.ends_with_newline
    budget.feed_text("line\n")
    assert budget.ends_with_newline


def test_spill_directory_is_created(tmp_path: Path) -> None:
    spill = tmp_path / "not" / "yet" / "out.txt"
    budget = OutputBudget(2, spill)
    budget.feed_text("abc")
    assert budget.finish().full_output_file == spill
    assert spill.read_text() == "abc"


def test_feeding_after_finish_of_a_spilled_output_is_an_error(tmp_path: Path) -> None:
    budget = OutputBudget(2, tmp_path / "out.txt")
    budget.feed_text("abc")
    budget.finish()
    with pytest.raises(ValueError, match="closed"):
        budget.feed_text("more")


@pytest.mark.parametrize("max_chars", [-1, 0, 1])
def test_budget_must_hold_a_head_and_a_tail(tmp_path: Path, max_chars: int) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        OutputBudget(max_chars, tmp_path / "out.txt")
