"""`DiskCacheBackend`: a cache in one SQLite file, safe with many writers in many processes.

This is the only module that imports ``sqlite3``. Why SQLite from the standard library, and not
``diskcache``: ``diskcache`` is itself SQLite underneath (plus pickles and files for large
values), so it gives no extra safety between processes, and it would be one more dependency.
What makes several writing processes safe is SQLite's own locking, set up here as:

- **WAL journal** (``PRAGMA journal_mode=WAL``): readers never wait for a writer, and a crash in
  the middle of a write leaves the last committed state readable.
- **A busy timeout** (``PRAGMA busy_timeout``, `BUSY_TIMEOUT_S`): a writer that finds the file
  locked by another process waits for the lock instead of failing with "database is locked".
- **One statement per write** (``INSERT OR REPLACE`` in autocommit mode): every entry is written
  whole or not at all, and two processes storing the same key leave one complete value.
- **Connections opened once per cache**, on first use: AutoGen 0.2 opened the cache on every
  call, at ~6 ms a call.
- **A read that never waits**, `get_nowait`: a second connection with no busy timeout, tried
  first on the caller's thread. When it would have to wait (another thread is reading through
  it, or SQLite answers "busy"), the read goes to the cache's worker thread instead. A hit then
  costs a few microseconds instead of a thread hand-off (~50-100 µs).

SQLite's locks are POSIX file locks, so this holds on a local file system, not on NFS.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from parley.exceptions import CacheError

__all__ = ["BUSY_TIMEOUT_S", "FILE_NAME", "DiskCacheBackend"]

BUSY_TIMEOUT_S = 30.0
"""Seconds a write waits for another process's lock before failing."""

FILE_NAME = "cache.sqlite3"
"""The SQLite file inside a cache directory."""

_SCHEMA = "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL, stored_at REAL NOT NULL)"


class DiskCacheBackend:
    """A `parley.llm.cache.abstract.CacheBackend` in the SQLite file ``directory/cache.sqlite3``.

    Args:
        directory: the cache's folder, created on first use (with its parents).

    The constructor does no I/O. The connections are opened once, on the first `get` or `set`,
    and may be used from any thread (calls are serialized by locks).
    """

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / FILE_NAME
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._fast: sqlite3.Connection | None = None
        self._fast_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DiskCacheBackend({str(self.path.parent)!r})"

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            except (OSError, sqlite3.Error) as exc:
                raise self._error("cannot be opened", exc) from None
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute(_SCHEMA)
            except sqlite3.Error as exc:
                conn.close()
                raise self._error("cannot be set up", exc) from None
            self._conn = conn
            try:
                fast = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
            except sqlite3.Error:
                return conn  # reads keep to the waiting path
            with self._fast_lock:
                self._fast = fast
        return self._conn

    def _error(self, what: str, exc: BaseException) -> CacheError:
        hint = ""
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
            hint = " The file is not a parley cache: delete it, or choose another cache_path_root."
        return CacheError(f"The disk cache {str(self.path)!r} {what}: {exc}.{hint}")

    def get(self, key: str) -> str | None:
        """Return the value stored under ``key``, or None.

        Raises:
            CacheError: the file cannot be opened or read (the message names it).
        """
        with self._lock:
            conn = self._connect()
            try:
                row = conn.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as exc:
                raise self._error("cannot be read", exc) from None
        return None if row is None else str(row[0])

    def get_nowait(self, key: str) -> tuple[bool, str | None]:
        """Try to read ``key`` without waiting for any lock.

        Returns:
            ``(True, value_or_None)`` when it could read; ``(False, None)`` when reading would
            have to wait, or the store is not open yet: call `get` (on a worker thread) instead.
        """
        if self._fast is None or not self._fast_lock.acquire(blocking=False):
            return False, None
        try:
            if self._fast is None:
                return False, None
            row = self._fast.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error:
            return False, None  # busy, or broken: the waiting path waits, or names the error
        finally:
            self._fast_lock.release()
        return True, None if row is None else str(row[0])

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` in one atomic statement, waiting for other writers' locks.

        Raises:
            CacheError: the file cannot be opened or written, or another process held its lock
                for longer than `BUSY_TIMEOUT_S` seconds.
        """
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("INSERT OR REPLACE INTO entries VALUES (?, ?, ?)", (key, value, time.time()))
            except sqlite3.Error as exc:
                raise self._error("cannot be written", exc) from None

    def close(self) -> None:
        """Close the connections; safe to call twice, or before first use."""
        with self._lock:
            conn, self._conn = self._conn, None
        with self._fast_lock:
            fast, self._fast = self._fast, None
        for c in (conn, fast):
            if c is not None:
                c.close()
