"""The chat model of an LLM recipe: ``model.llm.provider`` and ``model.llm.model_name``.

``fake`` is a deterministic scripted chat model on langchain-core's ``BaseChatModel``: the
default, so the default recipe and every test run with no network. A script maps an input to
its reply, or to a tool call and the reply that follows the tool's result::

    "What is the capital of France?": Paris
    "What is 6 times 7?": {tool_call: {name: calculator, args: {expression: 6*7}}, reply: "{tool}"}
    _default: I don't know.

Any other provider is imported only when named (the ``llm`` extra) and reads its API key from
the runtime environment (``OPENAI_API_KEY``), never from params.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from mmp.core.config import LLMConfig
from mmp.core.errors import MMPError

DEFAULT_KEY = "_default"  # the script's reply to an input it does not list
TOOL_RESULT = "{tool}"  # in a reply after a tool call: the tool's result


class ScriptedChatModel(BaseChatModel):
    """Replies from a script keyed by the user's input (found in the last human message), so a
    prompt template may wrap the input in any text. Same messages, same reply: deterministic."""

    script: dict[str, Any]

    @property
    def _llm_type(self) -> str:
        return "mmp-scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self  # the script decides when to call a tool; the graph's tool node runs it

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.reply(messages))])

    def reply(self, messages: list[BaseMessage]) -> AIMessage:
        entry = self.script.get(self.key(messages), self.script.get(DEFAULT_KEY, ""))
        if not isinstance(entry, Mapping):
            return AIMessage(content=str(entry))
        if isinstance(messages[-1], ToolMessage):  # the tool answered: the scripted reply follows
            return AIMessage(content=str(entry.get("reply", TOOL_RESULT)).replace(TOOL_RESULT, str(messages[-1].content)))
        call = entry["tool_call"]
        return AIMessage(content="", tool_calls=[{"name": call["name"], "args": dict(call.get("args", {})), "id": "call-0"}])

    def key(self, messages: list[BaseMessage]) -> str:
        """The longest scripted input the last human message holds (the longest: one input may
        contain another)."""
        human = next((str(m.content) for m in reversed(messages) if isinstance(m, HumanMessage)), "")
        found = [k for k in self.script if k != DEFAULT_KEY and k in human]
        return max(found, key=len) if found else DEFAULT_KEY


def chat_model(settings: LLMConfig, script: Mapping[str, Any] | None) -> BaseChatModel:
    """The recipe's chat model; ``script`` is the fake provider's (read by the caller)."""
    if settings.provider == "fake":
        return ScriptedChatModel(script=dict(script or {}))
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        raise MMPError(
            "model.llm.provider",
            f"{settings.provider} needs the langchain-openai package",
            "pip install 'modern-ml-pipeline[llm]', or provider fake",
        ) from None
    return ChatOpenAI(model=settings.model_name, temperature=settings.temperature)  # the key: OPENAI_API_KEY, from the environment
