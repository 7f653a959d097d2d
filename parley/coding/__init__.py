"""Code extraction and execution. Imports nothing from ``parley.agentchat`` or ``parley.llm``.

Importing this package is cheap: markdown-it-py, psutil and the executors' third-party SDKs are
imported when first used.
"""

from parley.coding._artifacts import ArtifactEntry, ArtifactListing
from parley.coding.base import (
    AsyncCodeExecutor,
    CodeBlock,
    CodeExecutor,
    CodeExtractor,
    CodeResult,
    CommandLineCodeResult,
    IPythonCodeResult,
)
from parley.coding.capability import AgentCapability, ExecutorCapability
from parley.coding.dispatch import DispatchedBatch, DispatchStats, ExecutionDispatcher
from parley.coding.docker_commandline_code_executor import DockerCommandLineCodeExecutor
from parley.coding.factory import CodeExecutorFactory
from parley.coding.local_commandline_code_executor import LocalCommandLineCodeExecutor
from parley.coding.markdown_code_extractor import MarkdownCodeExtractor
from parley.coding.pool import ExecutorPool, PooledExecutor, PoolStats

__all__ = [
    "AgentCapability",
    "ArtifactEntry",
    "ArtifactListing",
    "AsyncCodeExecutor",
    "CodeBlock",
    "CodeExecutor",
    "CodeExecutorFactory",
    "CodeExtractor",
    "CodeResult",
    "CommandLineCodeResult",
    "DispatchStats",
    "DispatchedBatch",
    "DockerCommandLineCodeExecutor",
    "ExecutionDispatcher",
    "ExecutorCapability",
    "ExecutorPool",
    "IPythonCodeResult",
    "LocalCommandLineCodeExecutor",
    "MarkdownCodeExtractor",
    "PoolStats",
    "PooledExecutor",
]
