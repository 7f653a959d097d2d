"""AutoGen 0.2's "Tool Use" tutorial, run with only the import changed, against the scripted server.

The tutorial's code is kept as written (``os.environ["OPENAI_API_KEY"]``, ``register_for_llm(name=...)``,
``register_for_execution(name=...)``, ``register_function``); the scripted server plays the model,
and ``OPENAI_BASE_URL`` points the openai SDK at it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from parley.testing import ScriptedOpenAIServer

pytestmark = pytest.mark.timeout(120)

# The tutorial's first cells: at module level, as in the notebook (a notebook's names are globals).
Operator = Literal["+", "-", "*", "/"]


def calculator(a: int, b: int, operator: Annotated[Operator, "operator"]) -> int:
    if operator == "+":
        return a + b
    elif operator == "-":
        return a - b
    elif operator == "*":
        return a * b
    elif operator == "/":
        return int(a / b)
    else:
        raise ValueError("Invalid operator")


SCRIPT = [
    {"content": None, "tool_calls": [{"name": "calculator", "arguments": {"a": 232, "b": 32, "operator": "-"}}]},
    {"content": None, "tool_calls": [{"name": "calculator", "arguments": {"a": 13312, "b": 200, "operator": "/"}}]},
    {"content": None, "tool_calls": [{"name": "calculator", "arguments": {"a": 44232, "b": 66, "operator": "+"}}]},
    {"content": None, "tool_calls": [{"name": "calculator", "arguments": {"a": 44298, "b": 5, "operator": "*"}}]},
    "The result is 221490. TERMINATE",
]


def test_tool_use_tutorial(monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedOpenAIServer(SCRIPT) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        # ---- the tutorial, import changed -------------------------------------------------
        from parley import ConversableAgent

        assistant = ConversableAgent(
            name="Assistant",
            system_message="You are a helpful AI assistant. "
            "You can help with simple calculations. "
            "Return 'TERMINATE' when the task is done.",
            llm_config={"config_list": [{"model": "gpt-4", "api_key": os.environ["OPENAI_API_KEY"]}]},
        )
        user_proxy = ConversableAgent(
            name="User",
            llm_config=False,
            is_termination_msg=lambda msg: msg.get("content") is not None and "TERMINATE" in msg["content"],  # type: ignore[operator]  # as written
            human_input_mode="NEVER",
        )
        assistant.register_for_llm(name="calculator", description="A simple calculator")(calculator)
        user_proxy.register_for_execution(name="calculator")(calculator)

        from parley import register_function

        register_function(
            calculator,
            caller=assistant,
            executor=user_proxy,
            name="calculator",
            description="A simple calculator",
        )
        chat_result = user_proxy.initiate_chat(assistant, message="What is (44232 + 13312 / (232 - 32)) * 5?")
        # ---- end of the tutorial's cells ----------------------------------------------------
        requests = server.requests
    tool_results = [m["content"] for m in chat_result.chat_history if m.get("role") == "tool"]
    assert tool_results == ["200", "66", "44298", "221490"]
    assert chat_result.chat_history[-1]["content"] == "The result is 221490. TERMINATE"
    assert [t["function"]["name"] for t in requests[0]["tools"]] == ["calculator"]
    assert len(requests) == 5


# ---- the classic notebooks, each cell's code as written (``autogen`` renamed), the model scripted ----------


def _config_list_env(monkeypatch: pytest.MonkeyPatch, server: ScriptedOpenAIServer, **extra: object) -> None:
    # The notebooks read OAI_CONFIG_LIST; as a JSON string in the environment it needs no file.
    entry = {"model": "gpt-4", "api_key": "sk-test", "base_url": server.base_url, **extra}
    monkeypatch.setenv("OAI_CONFIG_LIST", json.dumps([entry]))


FEEDBACK_SCRIPT = [
    # the first chat: code that fails, then code that works, then the answer
    "Let me check.\n\n```python\nfrom datetime import date\nprint('Today:', today)\n```",
    "I forgot to define today.\n\n```python\nprint('Today: 2024-02-29')\nprint('META YTD: 40.0%')\n"
    "print('TESLA YTD: -20.0%')\n```",
    "META gained 40.0% and TESLA lost 20.0% this year. TERMINATE",
    "Today is 2024-02-29; META's YTD gain (40.0%) beats TESLA's (-20.0%).",  # reflection_with_llm summary
    # the follow-up send: a failing block, a fix that saves the data, then the plot
    "```python\nimport yfinance_not_installed\n```",
    "No such module; I will save the data directly.\n\n```python\n"
    "open('stock_price_ytd.csv', 'w').write('ticker,ytd\\nMETA,40.0\\nTSLA,-20.0\\n')\nprint('saved csv')\n```",
    "Now the plot.\n\n```python\nopen('stock_price_ytd.png', 'wb').write(b'\\x89PNG')\nprint('saved png')\n```",
    "Saved stock_price_ytd.csv and stock_price_ytd.png. TERMINATE",
]


def test_auto_feedback_from_code_execution_notebook(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    with ScriptedOpenAIServer(FEEDBACK_SCRIPT) as server:
        _config_list_env(monkeypatch, server, tags=["gpt-4"])
        # ---- the notebook, import changed --------------------------------------------------
        import parley
        from parley.coding import LocalCommandLineCodeExecutor

        config_list = parley.config_list_from_json(
            "OAI_CONFIG_LIST",
            filter_dict={"tags": ["gpt-4"]},  # comment out to get all
        )
        # create an AssistantAgent named "assistant"
        assistant = parley.AssistantAgent(
            name="assistant",
            llm_config={
                "cache_seed": 41,  # seed for caching and reproducibility
                "config_list": config_list,  # a list of OpenAI API configurations
                "temperature": 0,  # temperature for sampling
            },  # configuration for autogen's enhanced inference API which is compatible with OpenAI API
        )

        # create a UserProxyAgent instance named "user_proxy"
        user_proxy = parley.UserProxyAgent(
            name="user_proxy",
            human_input_mode="NEVER",
            max_consecutive_auto_reply=10,
            is_termination_msg=lambda x: x.get("content", "").rstrip().endswith("TERMINATE"),  # type: ignore[union-attr]  # as written
            code_execution_config={
                # the executor to run the generated code
                "executor": LocalCommandLineCodeExecutor(work_dir="coding"),
            },
        )
        # the assistant receives a message from the user_proxy, which contains the task description
        chat_res = user_proxy.initiate_chat(
            assistant,
            message="""What date is today? Compare the year-to-date gain for META and TESLA.""",
            summary_method="reflection_with_llm",
        )
        first_chat = len(user_proxy.chat_messages[assistant])
        # followup of the previous question
        user_proxy.send(
            recipient=assistant,
            message="""Plot a chart of their stock price change YTD. Save the data to stock_price_ytd.csv, and save the plot to stock_price_ytd.png.""",  # noqa: E501
        )
        # ---- end of the notebook's cells ----------------------------------------------------
        assert server.request_count == len(FEEDBACK_SCRIPT)
    history = user_proxy.chat_messages[assistant]
    assert first_chat == 6
    assert "NameError" in str(history[2]["content"])
    assert "META YTD: 40.0%" in str(history[4]["content"])
    assert chat_res.summary == FEEDBACK_SCRIPT[3]
    follow_up = history[first_chat:]
    assert len(follow_up) == 8  # as in 0.2: the request, three blocks run, their results, and the answer
    assert [m["role"] for m in follow_up] == ["assistant", "user"] * 4  # user_proxy's view
    assert "yfinance_not_installed" in str(follow_up[2]["content"])
    assert "saved csv" in str(follow_up[4]["content"])
    assert "saved png" in str(follow_up[6]["content"])
    assert follow_up[7]["content"] == FEEDBACK_SCRIPT[-1]
    assert (tmp_path / "coding" / "stock_price_ytd.csv").read_text().startswith("ticker,ytd")
    assert (tmp_path / "coding" / "stock_price_ytd.png").read_bytes() == b"\x89PNG"


def _groupchat_model() -> Any:
    """The group chat's model: the manager's speaker selection, the coder and the product manager."""
    selections = iter(["Coder", "User_proxy", "Product_manager"])

    def reply(request: dict[str, Any]) -> str:
        messages = request["messages"]
        if any("Who should speak next?" in str(m.get("content")) for m in messages):  # the manager's question
            return next(selections)
        if messages[0]["content"].startswith("Creative in software product ideas."):
            return "Potential applications: code review, test generation and documentation. TERMINATE"
        return (
            "Here is code that finds the latest paper.\n\n```python\n"
            "print('Latest gpt-4 paper: GPT-4 for software engineering (2024)')\n```"
        )

    return reply


def test_groupchat_notebook(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("builtins.input", lambda prompt="": "exit")  # "type exit to terminate the chat"
    with ScriptedOpenAIServer(_groupchat_model()) as server:
        _config_list_env(monkeypatch, server)
        # ---- the notebook, import changed --------------------------------------------------
        import parley

        config_list_gpt4 = parley.config_list_from_json(
            "OAI_CONFIG_LIST",
            filter_dict={
                "model": ["gpt-4", "gpt-4-0314", "gpt4", "gpt-4-32k", "gpt-4-32k-0314", "gpt-4-32k-v0314"],
            },
        )
        llm_config = {"config_list": config_list_gpt4, "cache_seed": 42}
        user_proxy = parley.UserProxyAgent(
            name="User_proxy",
            system_message="A human admin.",
            code_execution_config={
                "last_n_messages": 2,
                "work_dir": "groupchat",
                "use_docker": False,
            },  # Please set use_docker=True if docker is available to run the generated code. Using docker is safer than running the generated code directly.  # noqa: E501
            human_input_mode="TERMINATE",
        )
        coder = parley.AssistantAgent(
            name="Coder",
            llm_config=llm_config,
        )
        pm = parley.AssistantAgent(
            name="Product_manager",
            system_message="Creative in software product ideas.",
            llm_config=llm_config,
        )
        groupchat = parley.GroupChat(agents=[user_proxy, coder, pm], messages=[], max_round=12)
        manager = parley.GroupChatManager(groupchat=groupchat, llm_config=llm_config)
        user_proxy.initiate_chat(
            manager, message="Find a latest paper about gpt-4 on arxiv and find its potential applications in software."
        )
        # type exit to terminate the chat
        # ---- end of the notebook's cells ----------------------------------------------------
    speakers = [m.get("name") for m in groupchat.messages]
    assert speakers == ["User_proxy", "Coder", "User_proxy", "Product_manager"]
    assert "Latest gpt-4 paper" in str(groupchat.messages[2]["content"])
    assert str(groupchat.messages[-1]["content"]).endswith("TERMINATE")
    assert server.request_count == 5  # three selections, the coder and the product manager


def _call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"content": None, "tool_calls": [{"name": name, "arguments": arguments}]}


# The notebook's type definitions, at module level as in the notebook (its names are globals, and the
# tool schemas are built from the annotations, which this module keeps as strings).
CurrencySymbol = Literal["USD", "EUR"]


def exchange_rate(base_currency: CurrencySymbol, quote_currency: CurrencySymbol) -> float:
    if base_currency == quote_currency:
        return 1.0
    elif base_currency == "USD" and quote_currency == "EUR":
        return 1 / 1.1
    elif base_currency == "EUR" and quote_currency == "USD":
        return 1.1
    else:
        raise ValueError(f"Unknown currencies {base_currency}, {quote_currency}")


class Currency(BaseModel):
    currency: Annotated[CurrencySymbol, Field(..., description="Currency symbol")]
    amount: Annotated[float, Field(0, description="Amount of currency", ge=0)]


CURRENCY_SCRIPT: list[Any] = [
    _call("currency_calculator", {"base_amount": 123.45, "base_currency": "USD", "quote_currency": "EUR"}),
    "123.45 USD is about 112.23 EUR. TERMINATE",
    "123.45 USD is 112.23 EUR.",  # reflection_with_llm summary
    _call("currency_calculator", {"base": {"currency": "EUR", "amount": 112.23}, "quote_currency": "USD"}),
    "112.23 EUR is about 123.45 USD. TERMINATE",
    "112.23 EUR is 123.45 USD.",
    _call("currency_calculator", {"base": {"currency": "USD", "amount": 123.45}, "quote_currency": "EUR"}),
    "123.45 USD is about 112.23 EUR. TERMINATE",
]


def test_function_call_currency_calculator_notebook(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # Cache.disk() writes ./.cache/41
    with ScriptedOpenAIServer(CURRENCY_SCRIPT) as server:
        _config_list_env(monkeypatch, server, tags=["3.5-tool"])
        # ---- the notebook, import changed --------------------------------------------------
        import parley
        from parley.cache import Cache

        config_list = parley.config_list_from_json(
            "OAI_CONFIG_LIST",
            filter_dict={"tags": ["3.5-tool"]},  # comment out to get all
        )
        llm_config = {
            "config_list": config_list,
            "timeout": 120,
        }

        chatbot = parley.AssistantAgent(
            name="chatbot",
            system_message="For currency exchange tasks, only use the functions you have been provided with. Reply TERMINATE when the task is done.",  # noqa: E501
            llm_config=llm_config,
        )

        # create a UserProxyAgent instance named "user_proxy"
        user_proxy = parley.UserProxyAgent(
            name="user_proxy",
            is_termination_msg=lambda x: x.get("content", "") and x.get("content", "").rstrip().endswith("TERMINATE"),  # type: ignore[union-attr,arg-type,return-value]  # as written
            human_input_mode="NEVER",
            max_consecutive_auto_reply=10,
        )

        @user_proxy.register_for_execution()
        @chatbot.register_for_llm(description="Currency exchange calculator.")
        def currency_calculator(
            base_amount: Annotated[float, "Amount of currency in base_currency"],
            base_currency: Annotated[CurrencySymbol, "Base currency"] = "USD",
            quote_currency: Annotated[CurrencySymbol, "Quote currency"] = "EUR",
        ) -> str:
            quote_amount = exchange_rate(base_currency, quote_currency) * base_amount
            return f"{quote_amount} {quote_currency}"

        chatbot.llm_config["tools"]  # as written
        assert user_proxy.function_map["currency_calculator"]._origin == currency_calculator  # type: ignore[attr-defined]

        with Cache.disk() as cache:
            # start the conversation
            res = user_proxy.initiate_chat(
                chatbot, message="How much is 123.45 USD in EUR?", summary_method="reflection_with_llm", cache=cache
            )
        print("Chat summary:", res.summary)
        first = res

        # another way to register a function is to use register_function instead of register_for_execution and register_for_llm decorators  # noqa: E501
        def currency_calculator(  # type: ignore[misc]  # as written: redefined
            base: Annotated[Currency, "Base currency: amount and currency symbol"],
            quote_currency: Annotated[CurrencySymbol, "Quote currency symbol"] = "USD",
        ) -> Currency:
            quote_amount = exchange_rate(base.currency, quote_currency) * base.amount
            return Currency(amount=quote_amount, currency=quote_currency)

        parley.agentchat.register_function(
            currency_calculator,
            caller=chatbot,
            executor=user_proxy,
            description="Currency exchange calculator.",
        )
        chatbot.llm_config["tools"]  # as written

        with Cache.disk() as cache:
            res = user_proxy.initiate_chat(
                chatbot,
                message="How much is 112.23 Euros in US Dollars?",
                summary_method="reflection_with_llm",
                cache=cache,
            )
        print("Chat summary:", res.summary)
        second = res

        with Cache.disk() as cache:
            res = user_proxy.initiate_chat(
                chatbot,
                message="How much is 123.45 US Dollars in Euros?",
                cache=cache,
            )
        # ---- end of the notebook's cells ----------------------------------------------------
        requests = server.requests
    assert len(requests) == len(CURRENCY_SCRIPT)
    tools = requests[3]["tools"]
    assert [t["function"]["name"] for t in tools] == ["currency_calculator"]  # re-registered: replaced
    assert set(tools[0]["function"]["parameters"]["properties"]) == {"base", "quote_currency"}

    def tool_results(result: Any) -> list[str]:
        return [m["content"] for m in result.chat_history if m.get("role") == "tool"]

    assert tool_results(first) == [f"{123.45 / 1.1} EUR"]
    assert json.loads(tool_results(second)[0]) == {"currency": "USD", "amount": 112.23 * 1.1}
    assert json.loads(tool_results(res)[0]) == {"currency": "EUR", "amount": 123.45 / 1.1}
    assert first.summary == "123.45 USD is 112.23 EUR."
    assert second.summary == "112.23 EUR is 123.45 USD."
