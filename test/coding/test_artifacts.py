"""Artifacts: what a key's code left in its slot, listed, read and archived by the host, on real pools.

The files are made by code running in the members (local processes and a real ipykernel kernel),
never by the test writing into the pool's directories, so the slot the pool reads is the one the
code saw. Escapes (``..``, absolute paths, planted links) must come back as `ArtifactError` and
must not read anything outside.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from parley.coding import ArtifactEntry, CodeBlock, ExecutorPool, PooledExecutor
from parley.exceptions import ArtifactError, ConfigError

from ._docker_env import SANDBOX_IMAGE, require_docker
from ._kernel_env import py, require_kernel


async def run(executor: PooledExecutor, code: str) -> str:
    result = await executor.a_execute_code_blocks([py(code)])
    assert result.exit_code == 0, result.output
    return result.output.strip()


MAKE_FILES = """
import os
os.makedirs('out/deep', exist_ok=True)
open('out/a.txt', 'w').write('alpha')
open('out/deep/b.bin', 'wb').write(bytes(range(256)) * 4)
open('notes.md', 'w').write('# notes')
os.mkdir('empty')
"""


def user_files(entries: tuple[ArtifactEntry, ...]) -> list[tuple[str, str, int]]:
    """The entries but the local executor's own saved scripts."""
    return [(e.path, e.kind, e.size) for e in entries if not e.path.startswith("tmp_code_")]


async def test_a_keys_files_are_listed_read_and_archived_from_its_own_slot(tmp_path: Path) -> None:
    async with ExecutorPool("local", size=2, base_dir=tmp_path / "pool", options={"timeout": 30}) as pool:
        async with pool.acquire("a") as executor:
            await run(executor, MAKE_FILES)
        async with pool.acquire("b") as other:
            await run(other, "open('theirs.txt', 'w').write('b only')")

        top = await pool.list_artifacts("a")
        assert user_files(top.entries) == [
            ("empty", "directory", 0),
            ("notes.md", "file", 7),
            ("out", "directory", 0),
        ]
        assert not top.truncated
        everything = await pool.list_artifacts("a", "out", recursive=True)
        assert user_files(everything.entries) == [
            ("out/a.txt", "file", 5),
            ("out/deep", "directory", 0),
            ("out/deep/b.bin", "file", 1024),
        ]
        bounded = await pool.list_artifacts("a", "out", recursive=True, max_entries=2)
        assert [e.path for e in bounded.entries] == ["out/a.txt", "out/deep"]
        assert bounded.truncated

        assert await pool.read_artifact("a", "out/a.txt") == b"alpha"
        assert await pool.read_artifact("a", "./out/deep/../a.txt") == b"alpha"
        assert await pool.read_artifact("b", "theirs.txt") == b"b only"
        with pytest.raises(ArtifactError, match="does not exist") as missing:
            await pool.read_artifact("a", "theirs.txt")  # another key's file is not in this slot
        assert (missing.value.reason, missing.value.key) == ("missing", "a")
        with pytest.raises(ArtifactError, match="over the limit of 1,000 bytes") as big:
            await pool.read_artifact("a", "out/deep/b.bin", max_bytes=1000)
        assert big.value.reason == "too_large"
        assert len(await pool.read_artifact("a", "out/deep/b.bin", max_bytes=1024)) == 1024
        with pytest.raises(ArtifactError, match="not a regular file") as directory:
            await pool.read_artifact("a", "out")
        assert directory.value.reason == "not_a_file"

        archive = await pool.archive_artifacts("a", "out")
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            names = sorted(tar.getnames())
            assert names == ["out/a.txt", "out/deep", "out/deep/b.bin"]
            member = tar.extractfile("out/deep/b.bin")
            assert member is not None
            assert member.read() == bytes(range(256)) * 4
        whole = await pool.archive_artifacts("a", format="tar")
        with tarfile.open(fileobj=io.BytesIO(whole), mode="r:") as tar:
            assert {"empty", "notes.md", "out/a.txt", "out/deep/b.bin"} <= set(tar.getnames())
        one = await pool.archive_artifacts("a", "notes.md")
        with tarfile.open(fileobj=io.BytesIO(one), mode="r:gz") as tar:
            assert tar.getnames() == ["notes.md"]
        with pytest.raises(ArtifactError, match="larger than max_bytes=600") as over:
            await pool.archive_artifacts("a", "out", format="tar", max_bytes=600)
        assert over.value.reason == "too_large"
        with pytest.raises(ConfigError, match=r"format must be one of 'tar\.gz', 'tar', got 'zip'"):
            await pool.archive_artifacts("a", format="zip")


async def test_paths_outside_the_slot_and_planted_links_are_refused_and_nothing_outside_is_read(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    (tmp_path / "secret_dir").mkdir()
    (tmp_path / "secret_dir" / "inner.txt").write_text("host secret too")
    async with ExecutorPool("local", size=1, base_dir=tmp_path / "pool", options={"timeout": 30}) as pool:
        async with pool.acquire("k") as executor:
            await run(
                executor,
                f"import os; os.symlink({str(secret)!r}, 'link.txt'); os.symlink({str(tmp_path / 'secret_dir')!r}, "
                "'linkdir'); os.mkfifo('pipe'); open('ok.txt', 'w').write('fine')",
            )
        slot = pool.slot_dir("k")
        for path, reason in [
            ("../secret.txt", "outside"),
            ("../../secret.txt", "outside"),
            (str(secret), "outside"),
            ("/etc/passwd", "outside"),
            ("link.txt", "symlink"),
            ("linkdir/inner.txt", "symlink"),
            ("pipe", "not_a_file"),
        ]:
            with pytest.raises(ArtifactError) as refused:
                await pool.read_artifact("k", path)
            assert refused.value.reason == reason, (path, str(refused.value))
            assert "host secret" not in str(refused.value)
        with pytest.raises(ArtifactError, match="symbolic link") as listing:
            await pool.list_artifacts("k", "linkdir")
        assert listing.value.reason == "symlink"
        with pytest.raises(ArtifactError, match="outside the sandbox's slot"):
            await pool.list_artifacts("k", "..")

        assert await pool.read_artifact("k", str(slot / "ok.txt")) == b"fine"  # absolute, inside: fine
        kinds = {e.path: e.kind for e in (await pool.list_artifacts("k")).entries}
        assert (kinds["link.txt"], kinds["linkdir"], kinds["pipe"]) == ("symlink", "symlink", "other")
        archive = await pool.archive_artifacts("k")  # the whole slot
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            names = set(tar.getnames())
            contents = b"".join(f.read() for m in tar.getmembers() if (f := tar.extractfile(m)) is not None)
        assert "ok.txt" in names
        assert not names & {"link.txt", "linkdir", "linkdir/inner.txt", "pipe"}  # links and FIFOs left out
        assert b"host secret" not in contents
    assert secret.read_text() == "host secret"


async def test_a_key_without_a_slot_gets_a_clear_error(tmp_path: Path) -> None:
    async with ExecutorPool("local", size=1, base_dir=tmp_path / "pool", options={"timeout": 30}) as pool:
        for call in (
            pool.read_artifact("never", "x.txt"),
            pool.list_artifacts("never"),
            pool.archive_artifacts("never"),
        ):
            with pytest.raises(ArtifactError, match="Key 'never' holds no slot in this pool") as no_slot:
                await call
            assert (no_slot.value.reason, no_slot.value.key) == ("no_slot", "never")
        async with pool.acquire("done") as executor:
            await run(executor, "open('kept.txt', 'w').write('x')")
        assert await pool.read_artifact("done", "kept.txt") == b"x"
        await pool.release("done")
        with pytest.raises(ArtifactError, match="it was released") as released:
            await pool.read_artifact("done", "kept.txt")
        assert released.value.reason == "no_slot"


@pytest.mark.kernel
@pytest.mark.timeout(120)
async def test_a_kernel_members_slot_is_its_working_directory(tmp_path: Path) -> None:
    require_kernel()
    async with ExecutorPool("ipython-embedded", size=1, base_dir=tmp_path / "pool", options={"timeout": 30}) as pool:
        async with pool.acquire("k") as executor:
            await run(executor, "import os; os.makedirs('plots', exist_ok=True); open('plots/p.csv', 'w').write('1,2')")
        listing = await pool.list_artifacts("k", "plots")
        assert [(e.path, e.kind, e.size) for e in listing.entries] == [("plots/p.csv", "file", 3)]
        assert await pool.read_artifact("k", "plots/p.csv") == b"1,2"
        with tarfile.open(fileobj=io.BytesIO(await pool.archive_artifacts("k", "plots")), mode="r:gz") as tar:
            assert tar.getnames() == ["plots/p.csv"]


@pytest.mark.docker
@pytest.mark.timeout(180)
async def test_a_docker_members_slot_is_the_host_side_of_workspace(tmp_path: Path) -> None:
    require_docker()
    options = {"image": SANDBOX_IMAGE, "timeout": 30}
    async with ExecutorPool("docker", size=1, base_dir=tmp_path / "pool", options=options) as pool:
        async with pool.acquire("k") as executor:
            where = await run(
                executor,
                "import os; os.makedirs('/workspace/out', exist_ok=True); "
                "open('/workspace/out/r.txt', 'w').write('from the container'); "
                "os.symlink('/etc/hostname', '/workspace/out/host'); print(os.getcwd())",
            )
        assert where == "/workspace"
        assert pool.slot_dir("k") == tmp_path / "pool" / "member-1"
        assert await pool.read_artifact("k", "out/r.txt") == b"from the container"
        assert await pool.read_artifact("k", "/workspace/out/r.txt") == b"from the container"  # the container's name
        listing = await pool.list_artifacts("k", "/workspace/out")
        assert [(e.path, e.kind) for e in listing.entries] == [("out/host", "symlink"), ("out/r.txt", "file")]
        with pytest.raises(ArtifactError) as link:
            await pool.read_artifact("k", "/workspace/out/host")
        assert link.value.reason == "symlink"
        with tarfile.open(fileobj=io.BytesIO(await pool.archive_artifacts("k", "out")), mode="r:gz") as tar:
            assert tar.getnames() == ["out/r.txt"]


async def test_an_archive_bounds_the_content_it_reads_not_only_its_compressed_size(tmp_path: Path) -> None:
    async with ExecutorPool("local", size=1, base_dir=tmp_path / "pool", options={"timeout": 30}) as pool:
        async with pool.acquire("k") as executor:
            await run(executor, "open('zeros.bin', 'wb').write(bytes(2_000_000))")  # compresses to a few KB
        with pytest.raises(ArtifactError, match=r"larger than max_bytes=1,000,000 bytes") as over:
            await pool.archive_artifacts("k", "zeros.bin", max_bytes=1_000_000)
        assert over.value.reason == "too_large"
        small = await pool.archive_artifacts("k", "zeros.bin", max_bytes=3_000_000)
        assert len(small) < 100_000
        with tarfile.open(fileobj=io.BytesIO(small), mode="r:gz") as tar:
            member = tar.getmember("zeros.bin")
            assert member.size == 2_000_000


@pytest.mark.timeout(60)
async def test_the_dispatcher_reads_a_sessions_artifacts(tmp_path: Path) -> None:
    from parley.coding import ExecutionDispatcher

    async with ExecutorPool("local", size=1, base_dir=tmp_path) as pool, ExecutionDispatcher(pool) as dispatcher:
        await dispatcher.execute("s1", [CodeBlock("open('out.txt', 'w').write('made in s1')", "python")])
        assert await dispatcher.read_artifact("s1", "out.txt") == b"made in s1"
        assert [entry.path for entry in (await dispatcher.list_artifacts("s1")).entries if entry.path == "out.txt"]
        assert len(await dispatcher.archive_artifacts("s1")) > 0
        with pytest.raises(ArtifactError, match="no slot"):
            await dispatcher.read_artifact("nobody", "out.txt")
