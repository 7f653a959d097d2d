"""AutoGen 0.2's ``autogen.logger.sqlite_logger``: re-exports `parley._runlog.sqlite_logger`."""

from parley._runlog.sqlite_logger import SqliteLogger

__all__ = ["SqliteLogger"]
