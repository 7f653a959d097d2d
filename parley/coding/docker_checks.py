"""Whether code should and can run in Docker: AutoGen 0.2's helpers (``autogen.code_utils``).

- `is_docker_running`: docker-py is installed and the daemon answers.
- `in_docker_container`: this process runs in a container (``/.dockerenv`` exists).
- `decide_use_docker`: the caller's choice, else the ``AUTOGEN_USE_DOCKER`` variable.
- `check_can_use_docker_or_throw`: refuse early when Docker is asked for and cannot be used.

Where parley differs from AutoGen 0.2: with neither an argument nor ``AUTOGEN_USE_DOCKER``,
`decide_use_docker` says False (0.2: True). Docker is opt-in in parley, so a machine without a
daemon runs code locally instead of failing (see "Differences from AutoGen 0.2").
"""

from __future__ import annotations

import os

from parley.coding._docker import daemon_answers
from parley.exceptions import DockerNotRunningError

__all__ = ["check_can_use_docker_or_throw", "decide_use_docker", "in_docker_container", "is_docker_running"]

_TRUE = frozenset({"1", "true", "yes", "t"})
_FALSE = frozenset({"0", "false", "no", "f"})


def is_docker_running() -> bool:
    """True when docker-py is installed and the Docker daemon answers a ping (waits at most about 5 s)."""
    return daemon_answers()


def in_docker_container() -> bool:
    """True when this process runs inside a Docker container (the file ``/.dockerenv`` exists)."""
    return os.path.exists("/.dockerenv")


def decide_use_docker(use_docker: bool | None) -> bool | None:
    """The caller's choice, or when it is None, what ``AUTOGEN_USE_DOCKER`` says.

    Args:
        use_docker: True or False to decide; None to read the variable.

    Returns:
        ``use_docker`` when it is not None. Otherwise the variable, compared without regard to
        case: ``1``, ``true``, ``yes``, ``t`` give True; ``0``, ``false``, ``no``, ``f`` give
        False; ``none`` gives None. An unset variable gives False (AutoGen 0.2: True).

    Raises:
        ValueError: the variable holds anything else.
    """
    if use_docker is not None:
        return use_docker
    value = os.environ.get("AUTOGEN_USE_DOCKER")
    if value is None:
        return False
    lower = value.strip().lower()
    if lower in _TRUE:
        return True
    if lower in _FALSE:
        return False
    if lower == "none":
        return None
    raise ValueError(
        f"Invalid value for AUTOGEN_USE_DOCKER: {value!r}. Set it to 1/true/yes, 0/false/no, or none "
        "(or unset it to run code locally)."
    )


def check_can_use_docker_or_throw(use_docker: object) -> None:
    """Raise when code is to run in Docker (``use_docker`` truthy) and cannot.

    Inside a container, code runs where it is, so nothing is checked there.

    Args:
        use_docker: True, an image name or a list of them to use Docker; None or False not to.

    Raises:
        DockerNotRunningError: Docker was asked for, this is not a container, and no daemon
            answers (a `RuntimeError`, as in AutoGen 0.2); the message says what to do.
    """
    if not use_docker or in_docker_container() or is_docker_running():
        return
    raise DockerNotRunningError(
        "Code execution is set to run in Docker, but Docker is not running (or docker-py is not installed: "
        "pip install 'pyparley[docker]'). Start Docker (`docker info` should answer), or run code locally: "
        "use_docker=False, code_execution_config={'executor': 'local'}, or AUTOGEN_USE_DOCKER=0."
    )
