"""AutoGen 0.2's ``autogen.logger.logger_utils``: re-exports `parley._runlog.logger_utils`."""

from parley._runlog.logger_utils import SECRET_KEYS, get_current_ts, to_dict

__all__ = ["SECRET_KEYS", "get_current_ts", "to_dict"]
