"""CodeExecutorFactory: names, aliases, "module:Class", instances, the AutoGen 0.2 legacy form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from parley.coding import (
    CodeBlock,
    CodeExecutorFactory,
    CodeExtractor,
    CodeResult,
    LocalCommandLineCodeExecutor,
    MarkdownCodeExtractor,
)
from parley.exceptions import ConfigError

LOCAL_TARGET = "parley.coding.local_commandline_code_executor:LocalCommandLineCodeExecutor"


class EchoExecutor:
    """A user's executor written AutoGen 0.2 style: sync methods only, no base class."""

    def __init__(self, prefix: str = "echo") -> None:
        self.prefix = prefix
        self.restarted = False

    @property
    def code_extractor(self) -> CodeExtractor:
        return MarkdownCodeExtractor()

    def execute_code_blocks(self, code_blocks: list[CodeBlock]) -> CodeResult:
        return CodeResult(exit_code=0, output="".join(f"{self.prefix}: {b.code}\n" for b in code_blocks))

    def restart(self) -> None:
        self.restarted = True


class NotAnExecutor:
    def restart(self) -> None:
        pass


def make_echo(prefix: str = "made") -> EchoExecutor:
    return EchoExecutor(prefix)


# --- registered names ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["local", "commandline-local"])
def test_registered_names_with_kwargs_under_the_name(tmp_path: Path, name: str) -> None:
    executor = CodeExecutorFactory.create({"executor": name, name: {"work_dir": tmp_path, "timeout": 5}})
    assert isinstance(executor, LocalCommandLineCodeExecutor)
    assert (executor.work_dir, executor.timeout) == (tmp_path, 5)


def test_alias_accepts_kwargs_under_the_canonical_name(tmp_path: Path) -> None:
    executor = CodeExecutorFactory.create({"executor": "local", "commandline-local": {"work_dir": tmp_path}})
    assert isinstance(executor, LocalCommandLineCodeExecutor)
    assert executor.work_dir == tmp_path


def test_kwargs_under_both_alias_and_canonical_name_are_ambiguous() -> None:
    with pytest.raises(ConfigError, match="both 'local' and 'commandline-local'"):
        CodeExecutorFactory.create({"executor": "local", "local": {}, "commandline-local": {}})


def test_agent_level_keys_are_ignored(tmp_path: Path) -> None:
    config = {
        "executor": "local",
        "local": {"work_dir": tmp_path},
        "last_n_messages": 3,
        "allowed_languages": ["python"],
    }
    assert isinstance(CodeExecutorFactory.create(config), LocalCommandLineCodeExecutor)


def test_created_executor_runs_code(tmp_path: Path) -> None:
    executor = CodeExecutorFactory.create({"executor": "local", "local": {"work_dir": tmp_path}})
    assert executor.execute_code_blocks([CodeBlock("print('made')", "python")]).output == "made\n"


def test_unknown_name_says_did_you_mean_and_lists_known_names() -> None:
    with pytest.raises(ConfigError) as info:
        CodeExecutorFactory.create({"executor": "locl"})
    message = str(info.value)
    assert "Unknown code executor locl." in message
    known = message.split("Known executors: ")[1].split(";")[0].split(", ")
    assert known == sorted(known)
    assert {"commandline-local", "local"} <= set(known)
    assert "Did you mean 'local'" in message
    assert "local" in info.value.suggestions
    assert info.value.key == "executor"


def test_kwargs_that_are_not_a_dict() -> None:
    with pytest.raises(ConfigError, match=r"code_execution_config\['local'\] must be a dict"):
        CodeExecutorFactory.create({"executor": "local", "local": ["work_dir"]})


def test_bad_kwarg_names_the_executor_and_the_argument() -> None:
    with pytest.raises(ConfigError) as info:
        CodeExecutorFactory.create({"executor": "local", "local": {"timout": 5}})
    message = str(info.value)
    assert "local executor" in message
    assert "'timout' is not one of its arguments" in message
    assert "Did you mean 'timeout'" in message


def test_bad_kwarg_value_is_the_executors_own_config_error() -> None:
    with pytest.raises(ConfigError, match="timeout must be a positive number"):
        CodeExecutorFactory.create({"executor": "local", "local": {"timeout": -1}})


# --- "module:Class" -------------------------------------------------------------------------------


def test_module_class_with_kwargs_under_the_same_key(tmp_path: Path) -> None:
    executor = CodeExecutorFactory.create({"executor": LOCAL_TARGET, LOCAL_TARGET: {"work_dir": tmp_path}})
    assert isinstance(executor, LocalCommandLineCodeExecutor)
    assert executor.work_dir == tmp_path


def test_user_class_in_autogen_style_plugs_in() -> None:
    target = f"{__name__}:EchoExecutor"
    executor = CodeExecutorFactory.create({"executor": target, target: {"prefix": "mine"}})
    assert isinstance(executor, EchoExecutor)
    assert executor.execute_code_blocks([CodeBlock("x", "python")]).output == "mine: x\n"


def test_module_factory_function() -> None:
    executor = CodeExecutorFactory.create({"executor": f"{__name__}:make_echo"})
    assert isinstance(executor, EchoExecutor)
    assert executor.prefix == "made"


def test_module_that_cannot_be_imported() -> None:
    with pytest.raises(ConfigError, match=r"the module 'no_such_pkg\.executors' cannot be imported"):
        CodeExecutorFactory.create({"executor": "no_such_pkg.executors:Thing"})


def test_missing_attribute_says_did_you_mean() -> None:
    with pytest.raises(ConfigError) as info:
        CodeExecutorFactory.create({"executor": f"{__name__}:EchoExecuter"})
    assert "has no attribute 'EchoExecuter'" in str(info.value)
    assert "EchoExecutor" in info.value.suggestions


@pytest.mark.parametrize("target", ["just_a_module:", ":Class"])
def test_malformed_target(target: str) -> None:
    with pytest.raises(ConfigError, match=r"'pkg\.module:Class'"):
        CodeExecutorFactory.create({"executor": target})


def test_class_that_is_not_an_executor_is_refused_naming_what_is_missing() -> None:
    with pytest.raises(ConfigError, match="lacks execute_code_blocks") as info:
        CodeExecutorFactory.create({"executor": f"{__name__}:NotAnExecutor"})
    assert "restart" not in str(info.value).split("lacks")[1].split(".")[0]


def test_target_that_is_not_callable() -> None:
    with pytest.raises(ConfigError, match="not a class"):
        CodeExecutorFactory.create({"executor": f"{__name__}:LOCAL_TARGET"})


def test_bad_kwarg_for_a_user_class() -> None:
    target = f"{__name__}:EchoExecutor"
    with pytest.raises(ConfigError, match=f"Bad arguments for the {target} executor") as info:
        CodeExecutorFactory.create({"executor": target, target: {"prefx": "x"}})
    assert info.value.suggestions == ("prefix",)


# --- instances --------------------------------------------------------------------------------------


def test_instance_is_returned_as_is() -> None:
    mine = EchoExecutor()
    assert CodeExecutorFactory.create({"executor": mine, "last_n_messages": "auto"}) is mine
    local = LocalCommandLineCodeExecutor()
    assert CodeExecutorFactory.create({"executor": local}) is local


def test_instance_that_is_not_an_executor_is_refused() -> None:
    with pytest.raises(ConfigError, match="lacks code_extractor, execute_code_blocks"):
        CodeExecutorFactory.create({"executor": NotAnExecutor()})


def test_class_instead_of_instance_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match=f"'{__name__}:EchoExecutor'"):
        CodeExecutorFactory.create({"executor": EchoExecutor})


@pytest.mark.parametrize("config", [None, "local", ["local"], True])
def test_config_must_be_a_dict(config: Any) -> None:
    with pytest.raises(ConfigError, match="code_execution_config must be a dict"):
        CodeExecutorFactory.create(config)


# --- AutoGen 0.2 legacy form ----------------------------------------------------------------------


def test_legacy_dict_builds_the_local_executor(tmp_path: Path) -> None:
    config = {"work_dir": str(tmp_path / "coding"), "use_docker": False, "timeout": 60, "last_n_messages": 2}
    executor = CodeExecutorFactory.create(config)
    assert isinstance(executor, LocalCommandLineCodeExecutor)
    assert executor.work_dir == tmp_path / "coding"
    assert executor.timeout == 60


def test_legacy_dict_without_use_docker_is_local() -> None:
    assert isinstance(CodeExecutorFactory.create({}), LocalCommandLineCodeExecutor)


@pytest.mark.parametrize(("use_docker", "image"), [(True, "python:3-slim"), ("my-image:1", "my-image:1")])
def test_legacy_use_docker_builds_the_docker_executor_without_contacting_docker(use_docker: Any, image: str) -> None:
    from parley.coding.docker_commandline_code_executor import DockerCommandLineCodeExecutor

    executor = CodeExecutorFactory.create({"work_dir": "coding", "use_docker": use_docker, "timeout": 30})
    assert isinstance(executor, DockerCommandLineCodeExecutor)
    assert executor.image == image
    assert executor.timeout == 30
    assert executor.work_dir == Path("coding")


def test_legacy_unknown_key_is_a_bad_kwarg() -> None:
    with pytest.raises(ConfigError, match="'work_directory' is not one of its arguments"):
        CodeExecutorFactory.create({"work_directory": "coding", "use_docker": False})
