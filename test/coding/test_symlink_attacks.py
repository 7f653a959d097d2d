"""The host never follows a symbolic link that sandboxed code planted in ``work_dir``.

Code in a Docker container shares ``work_dir`` (a bind mount) with the host process, which may be
root. A link planted at the name the host writes next would make it write the next block's text
to any host path. These tests plant links the ways an attacker would (at the next default file
name, at a ``# filename:`` target, at a directory on the way, racing the write) and check that
the target outside ``work_dir`` keeps its content: through the shared helpers, and through real
blocks on the local and Docker executors.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.agentchat._images import ImageBudget, image_parts
from parley.coding import CodeBlock
from parley.coding._blocks import NotRun, save_block
from parley.coding._files import SymlinkNotFollowedError, open_file_in, read_file_in, write_file_in

from .conftest import MakeExecutor, building

SECRET = "host secret, must not change\n"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A host file outside work_dir that an attacker wants overwritten or read."""
    target = tmp_path / "outside" / "target.txt"
    target.parent.mkdir()
    target.write_text(SECRET)
    return target


# --- write_file_in ------------------------------------------------------------------------------------


def test_write_file_in_creates_directories_and_writes(work: Path) -> None:
    assert write_file_in(work, "a/b/c.py", b"x\n") == work / "a" / "b" / "c.py"
    assert (work / "a" / "b" / "c.py").read_bytes() == b"x\n"
    assert write_file_in(work, "a/b/c.py", b"y\n") == work / "a" / "b" / "c.py"
    assert (work / "a" / "b" / "c.py").read_bytes() == b"y\n"
    assert sorted(p.name for p in (work / "a" / "b").iterdir()) == ["c.py"]  # no temporary file left


def test_a_link_at_the_file_name_is_replaced_not_followed(work: Path, target: Path) -> None:
    (work / "next.py").symlink_to(target)
    write_file_in(work, "next.py", b"print('block')\n")
    assert target.read_text() == SECRET
    assert not (work / "next.py").is_symlink()
    assert (work / "next.py").read_bytes() == b"print('block')\n"


@pytest.mark.parametrize("inside", [False, True], ids=["to-outside", "to-inside"])
def test_a_linked_directory_on_the_way_is_refused(work: Path, target: Path, inside: bool) -> None:
    real = work / "real" if inside else target.parent
    real.mkdir(exist_ok=True)
    (work / "sub").symlink_to(real, target_is_directory=True)
    with pytest.raises(SymlinkNotFollowedError) as info:
        write_file_in(work, "sub/deeper/x.py", b"x")
    assert info.value.filename == str(work / "sub")
    assert sorted(p.name for p in real.iterdir()) == ([] if inside else ["target.txt"])


def test_a_link_deeper_down_is_refused_too(work: Path, target: Path) -> None:
    (work / "a" / "b").mkdir(parents=True)
    (work / "a" / "b" / "c").symlink_to(target.parent, target_is_directory=True)
    with pytest.raises(SymlinkNotFollowedError, match="not followed"):
        write_file_in(work, "a/b/c/target.txt", b"overwritten")
    assert target.read_text() == SECRET


def test_the_root_itself_may_be_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    write_file_in(tmp_path / "alias", "x.py", b"x")
    assert (real / "x.py").read_bytes() == b"x"


@pytest.mark.parametrize("relative", ["../x.py", "a/../../x.py", "/etc/x.py", "", "."])
def test_paths_leaving_the_root_are_refused(work: Path, relative: str) -> None:
    with pytest.raises(ValueError, match="not a relative path"):
        write_file_in(work, relative, b"x")


def test_a_failed_write_leaves_no_temporary_file(work: Path) -> None:
    (work / "dir.py").mkdir()
    with pytest.raises(IsADirectoryError):
        write_file_in(work, "dir.py", b"x")
    assert [p.name for p in work.iterdir()] == ["dir.py"]


# --- reading ---------------------------------------------------------------------------------------------


def test_reading_refuses_links_and_non_regular_files(work: Path, target: Path) -> None:
    (work / "ok.png").write_bytes(b"png")
    assert read_file_in(work, "ok.png") == b"png"
    (work / "leak.png").symlink_to(target)
    with pytest.raises(SymlinkNotFollowedError):
        read_file_in(work, "leak.png")
    (work / "dir").symlink_to(target.parent, target_is_directory=True)
    with pytest.raises(SymlinkNotFollowedError):
        read_file_in(work, "dir/target.txt")
    os.mkfifo(work / "fifo.png")  # opening it for reading would block without O_NONBLOCK
    with pytest.raises(OSError, match="not a regular file"):
        open_file_in(work, "fifo.png")
    with pytest.raises(OSError, match="larger than 2 bytes"):
        read_file_in(work, "ok.png", max_bytes=2)


def test_images_for_the_model_never_follow_a_link(work: Path, target: Path) -> None:
    (work / "plot.png").write_bytes(b"\x89PNG")
    (work / "stolen.png").symlink_to(target)
    (work / "sub").symlink_to(target.parent, target_is_directory=True)
    paths = [str(work / "plot.png"), str(work / "stolen.png"), str(work / "sub" / "x.png"), str(target) + ".png"]
    parts, left_out = image_parts(paths, ImageBudget(), root=work)
    assert len(parts) == 1
    assert left_out == [
        f"{work / 'stolen.png'} ({work / 'stolen.png'} is a symbolic link, which is not followed)",
        f"{work / 'sub' / 'x.png'} ({work / 'sub'} is a symbolic link, which is not followed)",
        f"{target}.png (outside the working directory, not read)",
    ]
    parts, left_out = image_parts([str(work / "stolen.png")], ImageBudget())  # no root: the file itself
    assert parts == []
    assert "is a symbolic link, which is not followed" in left_out[0]


# --- save_block, shared by every executor ---------------------------------------------------------------


def test_save_block_replaces_a_link_planted_at_the_default_name(work: Path, target: Path) -> None:
    (work / "tmp_code_next.py").symlink_to(target)
    saved = save_block("print('next')", work, "tmp_code_next.py", outside_rule="stay.")
    assert saved == work / "tmp_code_next.py"
    assert target.read_text() == SECRET
    assert saved.read_text() == "print('next')\n"


def test_save_block_makes_a_missing_work_dir_and_keeps_writing_in_it(tmp_path: Path) -> None:
    work = tmp_path / "not" / "yet"
    first = save_block("print(1)", work, "a.py", outside_rule="stay.")
    assert first == work.resolve() / "a.py"
    assert first.read_text() == "print(1)\n"
    shutil.rmtree(tmp_path / "not")  # removed between blocks (by a block, or the user)
    again = save_block("print(2)", work, "b.py", outside_rule="stay.")
    assert isinstance(again, Path)
    assert again.read_text() == "print(2)\n"


def test_save_block_refuses_a_link_swapped_in_while_it_writes(work: Path, target: Path) -> None:
    """Another process flips a directory between real and a link to outside; no write goes through it.

    Checking the resolved path first and then writing (as parley did) loses this race.
    """
    outside = target.parent
    (work / "sub").mkdir()
    flipper = subprocess.Popen([sys.executable, "-c", _FLIP, str(work), str(outside)])
    try:
        results = [save_block("# filename: sub/x.py\nprint(1)", work, None, outside_rule="stay.") for _ in range(3000)]
    finally:
        flipper.kill()
        flipper.wait()
    assert sorted(p.name for p in outside.iterdir()) == ["target.txt"]
    assert target.read_text() == SECRET
    assert any(isinstance(r, Path) for r in results)  # the race was run: some writes found the real directory
    assert all(r.text.startswith("Not run:") for r in results if isinstance(r, NotRun))


# Swaps work/sub (a real directory) with work/link (a link to outside) over and over, each swap
# one atomic renameat2(RENAME_EXCHANGE), as code in a container can.
_FLIP = """
import ctypes, os, sys
work, outside = sys.argv[1:]
os.symlink(outside, os.path.join(work, "link"))
renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
sub, link = os.path.join(work, "sub").encode(), os.path.join(work, "link").encode()
while True:
    renameat2(-100, sub, -100, link, 2)  # AT_FDCWD, RENAME_EXCHANGE
"""


# --- real blocks, on the local and Docker executors ---------------------------------------------------------


@pytest.fixture(params=["local", "docker"])
def make(request: pytest.FixtureRequest, work: Path) -> Iterator[MakeExecutor]:
    with building(request.param, work) as make:
        yield make


def _sh(code: str) -> CodeBlock:
    return CodeBlock(code, "sh")


def test_a_link_at_the_next_blocks_predictable_name_is_not_written_through(make: MakeExecutor, target: Path) -> None:
    executor = make()
    victim = "print('the next block')"
    # Old parley named a block by its code's SHA-256, so a block could plant a link at the next one's name.
    predicted = [f"tmp_code_{hashlib.sha256(victim.encode()).hexdigest()}.py"]
    plant = " && ".join(f"ln -s {target} {name}" for name in predicted) + " && echo planted"
    assert executor.execute_code_blocks([_sh(plant)]).output == "planted\n"
    result = executor.execute_code_blocks([CodeBlock(victim, "python")])
    assert (result.exit_code, result.output) == (0, "the next block\n")
    assert target.read_text() == SECRET


def test_a_link_at_a_filename_target_is_not_written_through(make: MakeExecutor, work: Path, target: Path) -> None:
    executor = make()
    assert executor.execute_code_blocks([_sh(f"ln -s {target} named.py && echo planted")]).output == "planted\n"
    result = executor.execute_code_blocks([CodeBlock("# filename: named.py\nprint('overwrite?')", "python")])
    assert result.exit_code == 1
    assert "outside the working directory" in result.output
    assert target.read_text() == SECRET
    assert (work / "named.py").is_symlink()  # left alone


def test_a_linked_directory_on_the_way_is_not_written_through(make: MakeExecutor, target: Path) -> None:
    executor = make()
    plant = f"ln -s {target.parent} sub && echo planted"
    assert executor.execute_code_blocks([_sh(plant)]).output == "planted\n"
    result = executor.execute_code_blocks([CodeBlock("# filename: sub/target.txt\nprint('overwrite?')", "python")])
    assert result.exit_code == 1
    assert result.output.startswith("Not run:")
    assert target.read_text() == SECRET
    assert sorted(p.name for p in target.parent.iterdir()) == ["target.txt"]
