"""AutoGen 0.2's ``autogen.logger.logger_factory``: re-exports `parley._runlog.logger_factory`."""

from parley._runlog.logger_factory import LoggerFactory

__all__ = ["LoggerFactory"]
