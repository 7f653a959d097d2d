"""Attacks on Docker pool slots: code in one slot replaces a slot's directory with a link to this machine's files.

Slots share a container and its user, so they are no boundary between conversations; but the
container stays the boundary to this machine. A slot's directory is ``<member>/slot-<k>`` here and
``/workspace/slot-<k>`` in the container: a link planted there (``ln -s /etc slot-2``) points, for
this process, at a path of this machine. Before, the next call of that slot handed the link's
target to ``nobody`` (``chown``, as root), wrote its code file there, and a reset emptied it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.coding import CodeBlock, ExecutorPool
from parley.coding._pool_members import empty_dir

from ._docker_env import SANDBOX_IMAGE, require_docker

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    """A directory of this machine's that no slot may touch, with a file in it."""
    path = tmp_path / "canary"
    path.mkdir()
    (path / "precious.txt").write_text("precious")
    return path


def _untouched(canary: Path) -> bool:
    owner = canary.stat()
    return sorted(os.listdir(canary)) == ["precious.txt"] and (owner.st_uid, owner.st_gid) == (os.getuid(), os.getgid())


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[ExecutorPool]:
    require_docker()
    options = {"image": SANDBOX_IMAGE, "timeout": 30}
    async with ExecutorPool("docker", size=1, slots_per_member=2, options=options, base_dir=tmp_path / "pool") as made:
        yield made


async def test_code_in_one_slot_cannot_send_another_slots_writes_to_this_machine(
    pool: ExecutorPool, canary: Path
) -> None:
    async with pool.acquire("victim") as victim:
        first = await victim.a_execute_code_blocks([CodeBlock("import os; print(os.getcwd())", "python")])
    assert first.exit_code == 0, first.output
    victims_dir = first.output.strip()
    plant = f"rm -rf {victims_dir} 2>/dev/null; ln -s {canary} {victims_dir} 2>/dev/null; echo tried"
    async with pool.acquire("attacker") as attacker:
        planted = await attacker.a_execute_code_blocks([CodeBlock(plant, "bash")])
    assert planted.output == "tried\n"
    async with pool.acquire("victim") as victim:
        again = await victim.a_execute_code_blocks([CodeBlock("import os; print(os.getcwd())", "python")])
    assert (again.exit_code, again.output.splitlines()[-1]) == (0, victims_dir), again.output
    await pool.release("victim")
    assert _untouched(canary)


async def test_a_link_at_a_slots_directory_is_removed_never_followed(
    pool: ExecutorPool, canary: Path, tmp_path: Path
) -> None:
    """Where code could plant the link (say, a host that is not root and shares its user with the container)."""
    async with pool.acquire("victim") as victim:
        first = await victim.a_execute_code_blocks([CodeBlock("import os; print(os.getcwd())", "python")])
        slot = tmp_path / "pool" / "member-1" / Path(first.output.strip()).name
        assert slot.is_dir()
        os.rename(slot, tmp_path / "moved")
        slot.symlink_to(canary)
        again = await victim.a_execute_code_blocks([CodeBlock("import os; print(os.listdir('.') == [])", "python")])
    assert again.exit_code == 0, again.output
    assert "had been replaced" in again.output
    assert again.output.endswith("False\n")  # its own code file, in a fresh real directory
    assert slot.is_dir()
    assert not slot.is_symlink()
    assert _untouched(canary)


def test_emptying_a_slot_replaced_by_a_link_removes_the_link_only(tmp_path: Path, canary: Path) -> None:
    slot = tmp_path / "slot-1"
    slot.symlink_to(canary)
    empty_dir(slot)
    assert not slot.is_symlink()
    assert _untouched(canary)
