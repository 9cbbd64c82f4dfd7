"""Offline metrics of an LLM's answers against expected answers, per example and averaged:
exact match and token F1 after SQuAD's answer normalisation (lower case, no punctuation, no
articles, single spaces), ROUGE-L (the F-measure of the longest common subsequence of the
normalised tokens) and, for structured outputs, the share of answers that are JSON valid
against the recipe's JSON schema."""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

ARTICLES = re.compile(r"\b(a|an|the)\b")
PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    return " ".join(ARTICLES.sub(" ", text.lower().translate(PUNCTUATION)).split())


def exact_match(prediction: str, expected: str) -> float:
    return float(normalize(prediction) == normalize(expected))


def _f_measure(overlap: int, n_pred: int, n_gold: int) -> float:
    if n_pred == 0 or n_gold == 0:  # SQuAD's rule: two empty answers agree, one empty one does not
        return float(n_pred == n_gold)
    if overlap == 0:
        return 0.0
    precision, recall = overlap / n_pred, overlap / n_gold
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, expected: str) -> float:
    pred, gold = normalize(prediction).split(), normalize(expected).split()
    return _f_measure(sum((Counter(pred) & Counter(gold)).values()), len(pred), len(gold))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """The longest common subsequence's length (dynamic programming, one row at a time)."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, expected: str) -> float:
    pred, gold = normalize(prediction).split(), normalize(expected).split()
    return _f_measure(lcs_length(pred, gold), len(pred), len(gold))


def json_valid(prediction: str, schema: Mapping[str, Any] | None) -> float:
    """1.0 when the answer parses as JSON and (with a schema) validates against it."""
    import jsonschema

    try:
        value = json.loads(prediction)
    except ValueError:
        return 0.0
    if schema is None:
        return 1.0
    return float(jsonschema.Draft202012Validator(dict(schema)).is_valid(value))


def score_answers(
    predictions: Sequence[str], expected: Sequence[str], json_schema: Mapping[str, Any] | None = None, structured: bool = False
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """The averaged metrics and each example's. ``structured``: the answers should be JSON
    (``json_valid_rate`` is then reported)."""
    rows: list[dict[str, float]] = []
    for pred, gold in zip(predictions, expected, strict=True):
        row = {"exact_match": exact_match(pred, gold), "token_f1": token_f1(pred, gold), "rouge_l": rouge_l(pred, gold)}
        if structured:
            row["json_valid"] = json_valid(pred, json_schema)
        rows.append(row)
    names = list(rows[0]) if rows else ["exact_match", "token_f1", "rouge_l"]
    means = {name: round(sum(r[name] for r in rows) / len(rows), 6) if rows else 0.0 for name in names}
    if structured:
        means["json_valid_rate"] = means.pop("json_valid")
    return {**means, "n_examples": float(len(rows))}, rows
