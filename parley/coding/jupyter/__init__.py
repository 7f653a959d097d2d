"""Code executors on Jupyter kernels (AutoGen 0.2's ``autogen.coding.jupyter``).

- `EmbeddedIPythonCodeExecutor` (executor name ``"ipython-embedded"``): a local IPython kernel
  that the executor starts, keeps and stops; state persists between blocks.
- `NotebookCodeExecutor` (``"notebook"``): the kernel of the notebook you are working in;
  agent code shares your namespace and its outputs render inline.
- `JupyterCodeExecutor` (``"jupyter"``): a kernel on a Jupyter Kernel Gateway (or Enterprise
  Gateway, or Jupyter Server), located by a `JupyterConnectionInfo` (or a `JupyterConnectable`,
  or a URL); state persists
  between blocks, and the kernel's files live on the gateway's machine.
- `LocalJupyterServer`: starts a Jupyter Kernel Gateway on this machine and gives its
  connection info, for `JupyterCodeExecutor`.
- `DockerJupyterServer`: the same in a Docker container (an image with the gateway is built
  once from a base image); needs the ``docker`` extra too.

Importing this package is cheap: jupyter_client is imported when a local kernel first starts
(by `parley.coding.jupyter._kernel`, the one module that imports it), tornado when a gateway is
first contacted (by `parley.coding.jupyter._gateway_rest`), and IPython is never imported by parley
(the notebook executor uses the one already running). Needs the ``jupyter`` extra:
``pip install 'pyparley[jupyter]'``.
"""

from parley.coding.base import IPythonCodeResult
from parley.coding.jupyter.base import JupyterConnectable, JupyterConnectionInfo
from parley.coding.jupyter.docker_jupyter_server import DockerJupyterServer
from parley.coding.jupyter.embedded_ipython_code_executor import EmbeddedIPythonCodeExecutor
from parley.coding.jupyter.jupyter_code_executor import JupyterCodeExecutor
from parley.coding.jupyter.local_jupyter_server import LocalJupyterServer
from parley.coding.jupyter.notebook_code_executor import NotebookCodeExecutor

__all__ = [
    "DockerJupyterServer",
    "EmbeddedIPythonCodeExecutor",
    "IPythonCodeResult",
    "JupyterCodeExecutor",
    "JupyterConnectable",
    "JupyterConnectionInfo",
    "LocalJupyterServer",
    "NotebookCodeExecutor",
]
