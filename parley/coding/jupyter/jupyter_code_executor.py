"""``JupyterCodeExecutor``: a kernel on a running Jupyter server or Kernel Gateway (reserved).

AutoGen 0.2 has ``JupyterCodeExecutor`` for kernels served over HTTP and websockets. parley
reserves the name, and the ``"jupyter"`` executor name, for the same job (DESIGN.md: remote
kernels through the Jupyter Kernel Gateway protocol). This version does not have it yet, so
building one fails at once with an error that names what to use instead.
"""

from __future__ import annotations

from typing import Any, NoReturn

from parley.exceptions import ExecutorUnavailableError

__all__ = ["JupyterCodeExecutor"]

UNAVAILABLE = (
    "JupyterCodeExecutor (code run in a kernel of a running Jupyter server or Kernel Gateway) is not "
    "available in this version of parley. To run code in a local IPython kernel that parley starts and "
    "stops, use EmbeddedIPythonCodeExecutor (executor 'ipython-embedded'); to run it in the notebook you "
    "are working in, NotebookCodeExecutor (executor 'notebook')."
)
"""The error message, naming the executors to use instead."""


class JupyterCodeExecutor:
    """Reserved: not available yet; constructing one raises `ExecutorUnavailableError`.

    Raises:
        ExecutorUnavailableError: always, naming ``"ipython-embedded"`` and ``"notebook"`` as the
            executors to use instead.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ExecutorUnavailableError(UNAVAILABLE)
