"""Runtime loggers (AutoGen 0.2's ``autogen.logger``): where `parley.runtime_logging` writes a session.

- `SqliteLogger`: AutoGen 0.2's tables in a SQLite database (default).
- `FileLogger`: JSON lines in a file.
- `BaseLogger`: what a custom logger implements; pass one to ``runtime_logging.start(logger=...)``.
"""

from parley.logger.base_logger import BaseLogger
from parley.logger.file_logger import FileLogger
from parley.logger.logger_factory import LoggerFactory
from parley.logger.sqlite_logger import SqliteLogger

__all__ = ["BaseLogger", "FileLogger", "LoggerFactory", "SqliteLogger"]
