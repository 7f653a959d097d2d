"""The ``# filename:`` marker and keeping code files inside work_dir."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from parley.coding._files import default_filename, filename_from_marker, resolve_in_work_dir


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("# filename: hello.py\nprint(1)", "hello.py"),
        ("#filename:hello.py\nprint(1)", "hello.py"),
        ("  # Filename:  sub/dir/run.sh  \necho", "sub/dir/run.sh"),
        ("# FILENAME: my file.py\nx", "my file.py"),
        ("#!/bin/bash\n# filename: run.sh\necho", "run.sh"),
        ("\n# filename: after_blank_lines.py\n", "after_blank_lines.py"),
        ("# filename: only_line.py", "only_line.py"),
    ],
)
def test_marker_names_the_file(code: str, name: str) -> None:
    assert filename_from_marker(code) == name


@pytest.mark.parametrize(
    "code",
    [
        "print(1)",
        "",
        "import os\n# filename: not_first.py",
        "#!/bin/bash\necho\n# filename: third_line.sh",
        "// filename: x.js",
        "<!-- filename: x.html -->",
        "# filename:\nprint(1)",
        "# save this as hello.py\nprint(1)",
    ],
)
def test_no_marker(code: str) -> None:
    assert filename_from_marker(code) is None


def test_default_filename_is_random_not_the_hash_of_the_code() -> None:
    names = {default_filename("python") for _ in range(100)}
    assert len(names) == 100
    assert all(re.fullmatch(r"tmp_code_[0-9a-f]{32}\.py", name) for name in names)
    assert f"tmp_code_{hashlib.sha256(b'print(1)').hexdigest()}.py" not in names
    assert default_filename("bash").endswith(".sh")
    assert default_filename("pwsh").endswith(".ps1")
    assert default_filename("json").endswith(".json")
    assert default_filename("brainfuck").endswith(".txt")


def test_relative_names_resolve_inside(tmp_path: Path) -> None:
    work = tmp_path / "work"
    assert resolve_in_work_dir(work, "a.py") == work / "a.py"
    assert resolve_in_work_dir(work, "sub/dir/a.py") == work / "sub" / "dir" / "a.py"
    assert resolve_in_work_dir(work, "sub/../a.py") == work / "a.py"
    assert resolve_in_work_dir(work, "./a.py") == work / "a.py"


def test_work_dir_need_not_exist(tmp_path: Path) -> None:
    work = tmp_path / "not" / "created"
    assert resolve_in_work_dir(work, "a.py") == work / "a.py"
    assert not work.exists()


def test_relative_work_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_in_work_dir(Path("work"), "a.py") == tmp_path / "work" / "a.py"
    assert resolve_in_work_dir(Path("."), "../a.py") is None


@pytest.mark.parametrize("name", ["../a.py", "sub/../../a.py", "..", ".", "", "a\x00.py"])
def test_escaping_or_invalid_names_are_refused(tmp_path: Path, name: str) -> None:
    assert resolve_in_work_dir(tmp_path / "work", name) is None


def test_absolute_paths_are_allowed_only_inside(tmp_path: Path) -> None:
    work = tmp_path / "work"
    assert resolve_in_work_dir(work, str(work / "x.py")) == work / "x.py"
    assert resolve_in_work_dir(work, str(tmp_path / "x.py")) is None
    assert resolve_in_work_dir(work, "/etc/passwd") is None
    assert resolve_in_work_dir(work, str(tmp_path / "workshop" / "x.py")) is None


def test_symlinked_directory_pointing_outside_is_refused(tmp_path: Path) -> None:
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    (work / "link").symlink_to(outside, target_is_directory=True)
    assert resolve_in_work_dir(work, "link/x.py") is None


def test_symlinked_file_pointing_outside_is_refused(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "x.py").symlink_to(tmp_path / "target.py")
    assert resolve_in_work_dir(work, "x.py") is None


def test_symlinked_work_dir_is_followed(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    assert resolve_in_work_dir(tmp_path / "alias", "x.py") == real / "x.py"
