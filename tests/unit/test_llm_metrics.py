"""The LLM graph kind on a golden set where the scripted fake chat model is exactly half right:
the metrics equal the values worked out by hand, tool calls included; JSON answers are checked
against the recipe's schema; a real provider without its extra is one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mmp.core.config import LLMConfig
from mmp.core.errors import MMPError
from mmp.data.schema import InputSchema, SchemaColumn
from mmp.inference.llm import LLMGraph
from mmp.modeling.llm import graph as graph_module
from mmp.modeling.llm.chat import chat_model
from mmp.modeling.llm.metrics import lcs_length, normalize, rouge_l, token_f1

PROMPTS = {"qa": {"system": "Answer briefly.", "human": "Question: {input}"}}
GOLDEN = pd.DataFrame(
    {
        "input": ["Capital of France?", "Author of Hamlet?", "6 times 7?", "Largest ocean?"],
        "expected": ["Paris", "William Shakespeare", "42", "the Pacific Ocean"],
    }
)
SCRIPT = {
    "Capital of France?": "Paris",  # exact
    "Author of Hamlet?": "Shakespeare",  # 1 of 2 tokens: F1 = ROUGE-L = 2/3
    "6 times 7?": {"tool_call": {"name": "calculator", "args": {"expression": "6 * 7"}}, "reply": "{tool}"},  # via the tool: exact
    "Largest ocean?": "Ocean Pacific",  # the right tokens, the wrong order: F1 = 1, ROUGE-L = 1/2
}


def graph(script: dict, **settings: object) -> LLMGraph:
    spec = {
        "graph": Path(graph_module.__file__).read_text(),
        "prompts": yaml.safe_dump(PROMPTS),
        "settings": LLMConfig(**{"tools": ["calculator"], **settings}).model_dump_json(),  # type: ignore[arg-type]
        "script": yaml.safe_dump(script),
    }
    schema = InputSchema(columns=[SchemaColumn(name="input", dtype="string", nullable=False)], targets=["expected"], task_type="generation")
    return LLMGraph(spec, schema, {"kind": "llm_graph"})


def test_half_right_golden_set_gives_the_hand_computed_scores() -> None:
    scores, examples = graph(SCRIPT).evaluate_examples(GOLDEN)
    assert [e["prediction"] for e in examples] == ["Paris", "Shakespeare", "42", "Ocean Pacific"]
    assert scores["exact_match"] == 0.5
    assert scores["token_f1"] == pytest.approx((1 + 2 / 3 + 1 + 1) / 4, abs=1e-6)  # 11/12
    assert scores["rouge_l"] == pytest.approx((1 + 2 / 3 + 1 + 1 / 2) / 4, abs=1e-6)  # 19/24
    assert scores["n_examples"] == 4
    assert "json_valid_rate" not in scores  # text answers


def test_json_answers_are_validated_against_the_schema() -> None:
    schema = {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}
    script = {
        "Capital of France?": '{"answer": "Paris"}',
        "Author of Hamlet?": '```json\n{"answer": "Shakespeare"}\n```',  # fenced: still valid
        "6 times 7?": '{"answer": 42}',  # JSON, but not a string answer
        "Largest ocean?": "Pacific",  # not JSON
    }
    scores, examples = graph(script, output="json", json_schema=schema, tools=[]).evaluate_examples(GOLDEN)
    assert [e["json_valid"] for e in examples] == [1.0, 1.0, 0.0, 0.0]
    assert scores["json_valid_rate"] == 0.5


def test_squad_normalisation_and_lcs() -> None:
    assert normalize("The  Pacific, Ocean!") == "pacific ocean"
    assert lcs_length(["a", "b", "c", "d"], ["b", "d", "c"]) == 2
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0
    assert rouge_l("a cat sat", "the cat sat down") == pytest.approx(2 * (2 / 2) * (2 / 3) / (2 / 2 + 2 / 3))  # "a" and "the" drop


def test_unknown_input_gets_the_scripts_default_and_predict_keeps_the_index() -> None:
    out = graph({**SCRIPT, "_default": "no idea"}).predict(pd.DataFrame({"input": ["Capital of France?", "???"]}, index=[7, 9]))
    assert out["prediction"].tolist() == ["Paris", "no idea"] and out.index.tolist() == [7, 9]


def test_a_real_provider_without_its_extra_is_one_clear_error() -> None:
    try:
        import langchain_openai  # noqa: F401
    except ImportError:
        with pytest.raises(MMPError) as err:
            chat_model(LLMConfig(provider="openai", model_name="gpt-4o-mini", script=None), None)
        assert str(err.value).startswith("model.llm.provider") and "[llm]" in str(err.value)
    else:
        pytest.skip("langchain-openai is installed")


def test_prompts_name_a_missing_prompt_clearly() -> None:
    with pytest.raises(MMPError, match=r"model.llm.prompt.*'nope' is not a prompt.*qa"):
        graph(SCRIPT, prompt="nope")
    assert json.loads(LLMConfig().model_dump_json())["provider"] == "fake"


def test_a_golden_set_with_a_tabular_model_is_refused_in_one_line() -> None:
    from mmp.ops.params import compose
    from mmp.pipeline.checks import validate
    from tests.conftest import ROOT

    with pytest.raises(MMPError, match=r"^model.kind: tabular cannot answer data.task_type generation"):
        validate(yaml.safe_load(compose(ROOT, ["data=qa_golden"])), None, ("data",))
