"""Code files take an inode made ahead (``O_TMPFILE``), and a spare someone reached is never used."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.coding import CodeBlock, LocalCommandLineCodeExecutor, _spare_files
from parley.coding._files import write_file_in

pytestmark = pytest.mark.skipif(not _spare_files._SPARES.works, reason="needs O_TMPFILE and /proc (Linux)")


def _key(directory: Path) -> tuple[int, int]:
    info = os.stat(directory)
    return info.st_dev, info.st_ino


def _spare_ready(directory: Path) -> int:
    """The fd of the spare made for ``directory``, once the background thread has made it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        spare = _spare_files._SPARES._by_dir.get(_key(directory))
        if spare is not None:
            return spare
        time.sleep(0.005)
    raise AssertionError(f"no spare file was made in {directory}")


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    with _spare_files._SPARES._lock:
        spare = _spare_files._SPARES._by_dir.pop(_key(tmp_path), None)
    if spare is not None:
        os.close(spare)


def test_a_code_file_written_ahead_is_the_spare_made_for_its_directory(work: Path) -> None:
    _spare_files.make_spare(work)
    spare_inode = os.fstat(_spare_ready(work)).st_ino
    path = write_file_in(work, "tmp_code_a.py", b"print(1)\n", ahead=True)
    assert os.stat(path).st_ino == spare_inode
    assert path.read_bytes() == b"print(1)\n"
    assert os.listdir(work) == ["tmp_code_a.py"]  # no temporary name left behind
    assert _key(work) not in _spare_files._SPARES._by_dir  # taken: the next is made after a run


def test_a_spare_over_an_existing_name_replaces_it_and_never_follows_a_link(
    work: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "target"
    outside.write_text("untouched\n")
    (work / "run.py").symlink_to(outside)
    _spare_files.make_spare(work)
    _spare_ready(work)
    write_file_in(work, "run.py", b"print(2)\n", ahead=True)
    assert not (work / "run.py").is_symlink()
    assert (work / "run.py").read_bytes() == b"print(2)\n"
    assert outside.read_text() == "untouched\n"
    assert sorted(os.listdir(work)) == ["run.py"]


@pytest.mark.parametrize("how", ["written", "linked"])
def test_a_spare_someone_reached_through_proc_is_thrown_away(work: Path, how: str) -> None:
    _spare_files.make_spare(work)
    spare = _spare_ready(work)
    if how == "written":  # what a same-user process can do through /proc/<host>/fd/<n>
        fd = os.open(f"/proc/{os.getpid()}/fd/{spare}", os.O_WRONLY)
        os.write(fd, b"print(1)\nprint('injected')\n")
        os.close(fd)
    else:
        dir_fd = os.open(work, os.O_RDONLY | os.O_DIRECTORY)
        try:  # with a dir_fd, os.link is linkat(..., AT_SYMLINK_FOLLOW): the file itself gets the name
            os.link(f"/proc/{os.getpid()}/fd/{spare}", "kept-name", dst_dir_fd=dir_fd, follow_symlinks=True)
        finally:
            os.close(dir_fd)
    path = write_file_in(work, "tmp_code_b.py", b"print(1)\n", ahead=True)
    assert path.read_bytes() == b"print(1)\n"
    if how == "linked":
        assert not os.path.samefile(path, work / "kept-name")


def test_a_forked_child_forgets_its_parents_spares(work: Path) -> None:
    _spare_files.make_spare(work)
    _spare_ready(work)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os._exit(0 if not _spare_files._SPARES._by_dir and _spare_files._SPARES._jobs is None else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _key(work) in _spare_files._SPARES._by_dir  # the parent keeps its own


def test_a_block_cannot_plant_code_in_another_executors_next_file(tmp_path: Path) -> None:
    """A hostile block writes into every unnamed file the host holds; the other executor runs its own code."""
    victim_dir, attacker_dir = tmp_path / "victim", tmp_path / "attacker"
    attack = f"""
import os
host = {os.getpid()}
for name in os.listdir(f"/proc/{{host}}/fd"):
    try:
        target = os.readlink(f"/proc/{{host}}/fd/{{name}}")
        if target.endswith("(deleted)") and "#" in target:
            fd = os.open(f"/proc/{{host}}/fd/{{name}}", os.O_WRONLY)
            os.write(fd, b"print('planted')" + b" " * 64 + b"\\n")
            os.close(fd)
            print("wrote", target)
    except OSError:
        pass
"""
    with (
        LocalCommandLineCodeExecutor(work_dir=victim_dir, timeout=30) as victim,
        LocalCommandLineCodeExecutor(work_dir=attacker_dir, timeout=30) as attacker,
    ):
        assert victim.execute_code_blocks([CodeBlock(code="print('first')", language="python")]).output == "first\n"
        _spare_ready(victim_dir)
        planted = attacker.execute_code_blocks([CodeBlock(code=attack, language="python")])
        assert "wrote" in planted.output, planted.output  # it did reach the victim's spare
        result = victim.execute_code_blocks([CodeBlock(code="print('mine')", language="python")])
    assert (result.exit_code, result.output) == (0, "mine\n")


def test_spares_are_kept_for_a_bounded_number_of_directories(tmp_path: Path) -> None:
    dirs = [tmp_path / str(i) for i in range(_spare_files.MAX_DIRECTORIES + 4)]
    for directory in dirs:
        directory.mkdir()
        _spare_files.make_spare(directory)
    _spare_ready(dirs[-1])
    assert len(_spare_files._SPARES._by_dir) <= _spare_files.MAX_DIRECTORIES
    for directory in dirs:
        with _spare_files._SPARES._lock:
            spare = _spare_files._SPARES._by_dir.pop(_key(directory), None)
        if spare is not None:
            os.close(spare)


def test_without_o_tmpfile_files_are_written_as_before(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_spare_files._SPARES, "works", False)
    _spare_files.make_spare(work)
    path = write_file_in(work, "tmp_code_c.py", b"print(3)\n", ahead=True)
    assert path.read_bytes() == b"print(3)\n"
    assert os.listdir(work) == ["tmp_code_c.py"]
    assert _key(work) not in _spare_files._SPARES._by_dir
