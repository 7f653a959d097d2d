"""AutoGen 0.2's ``autogen.logger.base_logger``: re-exports `parley._runlog.base_logger`."""

from parley._runlog.base_logger import BaseLogger, LLMConfig

__all__ = ["BaseLogger", "LLMConfig"]
