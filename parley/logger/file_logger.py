"""AutoGen 0.2's ``autogen.logger.file_logger``: re-exports `parley._runlog.file_logger`."""

from parley._runlog.file_logger import FileLogger

__all__ = ["FileLogger"]
