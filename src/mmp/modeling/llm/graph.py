"""The LLM graph (LangGraph): prompt -> model -> parse, with a tool call in between when the model
asks for one (model -> tools -> model). This file is one of the packaged model's artifacts, so
the code that answered is versioned with the prompts and settings it answered with."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypedDict, cast

from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import BaseTool, tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode

from mmp.core.config import LLMConfig
from mmp.core.errors import MMPError
from mmp.modeling.llm.chat import chat_model

MAX_STEPS = 10  # LangGraph's recursion limit: a model that keeps calling tools stops here


class State(TypedDict, total=False):
    input: str
    messages: Annotated[list[AnyMessage], add_messages]
    output: str


_OPS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.USub: operator.neg,
}


def _arith(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_arith(node.left), _arith(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_arith(node.operand))
    raise ValueError("only numbers and + - * / are allowed")


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression of numbers and + - * / (no names, no calls)."""
    value = _arith(ast.parse(expression, mode="eval").body)
    return str(int(value)) if float(value).is_integer() else str(value)


TOOLS: dict[str, BaseTool] = {"calculator": calculator}


def prompt_template(prompts: Mapping[str, Any], name: str) -> ChatPromptTemplate:
    """The named prompt of prompts.yaml: a ``system`` and a ``human`` template (``{input}``)."""
    entry = prompts.get(name)
    if not isinstance(entry, Mapping) or "human" not in entry:
        raise MMPError("model.llm.prompt", f"{name!r} is not a prompt of prompts.yaml", ", ".join(map(str, prompts)) or "(none)")
    return ChatPromptTemplate.from_messages([(role, entry[role]) for role in ("system", "human") if role in entry])


def build_graph(settings: LLMConfig, prompts: Mapping[str, Any], script: Mapping[str, Any] | None = None) -> Any:
    """The compiled graph: ``{"input": text}`` in, ``{"output": text, "messages": [...]}`` out."""
    template = prompt_template(prompts, settings.prompt)
    tools = [TOOLS[name] for name in settings.tools]
    model = chat_model(settings, script)
    bound = model.bind_tools(tools) if tools else model

    def prompt(state: State) -> State:
        return {"messages": cast(list[AnyMessage], template.format_messages(input=state["input"]))}

    def call_model(state: State) -> State:
        return {"messages": [bound.invoke(state["messages"])]}

    def parse(state: State) -> State:
        text = str(state["messages"][-1].content).strip()
        return {"output": strip_fence(text) if settings.output == "json" else text}

    def route(state: State) -> str:
        last = state["messages"][-1]
        return "tools" if tools and isinstance(last, AIMessage) and last.tool_calls else "parse"

    graph = StateGraph(State)
    graph.add_node("prompt", prompt)
    graph.add_node("model", call_model)
    graph.add_node("parse", parse)
    graph.add_edge(START, "prompt")
    graph.add_edge("prompt", "model")
    if tools:
        graph.add_node("tools", ToolNode(tools))
        graph.add_conditional_edges("model", route, ["tools", "parse"])
        graph.add_edge("tools", "model")
    else:
        graph.add_edge("model", "parse")
    graph.add_edge("parse", END)
    return graph.compile()


def strip_fence(text: str) -> str:
    """A JSON answer without the Markdown code fence chat models like to put around it."""
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()
