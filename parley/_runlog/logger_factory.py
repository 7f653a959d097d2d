"""`LoggerFactory`: a runtime logger by type name (AutoGen 0.2's ``autogen.logger.logger_factory``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from parley._runlog.base_logger import BaseLogger
from parley._runlog.file_logger import FileLogger
from parley._runlog.sqlite_logger import SqliteLogger

__all__ = ["LoggerFactory"]


class LoggerFactory:
    """Make a runtime logger from its type name."""

    @staticmethod
    def get_logger(logger_type: str = "sqlite", config: Mapping[str, Any] | None = None) -> BaseLogger:
        """A new, not yet started logger.

        Args:
            logger_type: ``"sqlite"`` (`SqliteLogger`) or ``"file"`` (`FileLogger`).
            config: the logger's configuration (``dbname`` / ``filename``).

        Raises:
            ValueError: an unknown ``logger_type``.
        """
        if logger_type == "sqlite":
            return SqliteLogger(config)
        if logger_type == "file":
            return FileLogger(config)
        raise ValueError(f"Unknown logger type {logger_type!r}: use 'sqlite' or 'file'.")
