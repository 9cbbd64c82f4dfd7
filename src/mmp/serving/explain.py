"""``POST /explain``: for each record, the prediction, the base value and the top-k contributions
by raw input column (see :mod:`mmp.inference.explain`). The same guards as ``/predict``: the
bearer token, JSON only, the body limit and the typed record model."""

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from mmp.core.errors import MMPError
from mmp.inference.explain import DEFAULT_TOP_K, MAX_TOP_K
from mmp.inference.wrapper import Explainable, ModelWrapper, no_explanations
from mmp.serving.ab import Model
from mmp.serving.loader import ModelRef


class Contribution(BaseModel):
    column: str = Field(description="a raw input column (one-hot and date-part features summed back to it)")
    contribution: float = Field(description="how far this column moved the raw score from the base value")


class RecordExplanation(BaseModel):
    prediction: Any
    probability: float | None = Field(default=None, description="the explained class's probability (classifiers)")
    explained_class: Any = Field(default=None, description="the class explained: the positive one (binary), the predicted one (multiclass)")
    raw_score: float = Field(description="base_value + the sum of ALL contributions: the margin (logit link) or the prediction")
    base_value: float = Field(description="the model's expected raw score over its background")
    contributions: list[Contribution] = Field(description="the top-k columns by absolute contribution, largest first")
    rest: float = Field(description="the sum of the contributions left out of the top k")


class ExplainResponse(BaseModel):
    model_name: str
    model_version: str
    method: str = Field(description="lightgbm_pred_contrib, shap_tree, shap_linear or shap_permutation")
    link: str = Field(description="logit: sigmoid(raw_score) = probability; identity: raw_score is it; softmax: multiclass margin")
    explanations: list[RecordExplanation]


def explain(scorer: ModelWrapper, ref: ModelRef, records: list[Any], k: int) -> dict[str, Any]:
    if not isinstance(scorer, Explainable):  # a capability of some kinds: a 4xx naming the kind
        err = no_explanations(scorer)
        raise HTTPException(422, detail={"message": str(err), "fields": []})
    columns = {name: [getattr(r, name) for r in records] for name in scorer.features}
    try:
        out, expl = scorer.explain_columns(columns, len(records))
    except (ValueError, MMPError) as err:  # e.g. a category the fitted encoder refuses
        raise HTTPException(422, detail={"message": str(err), "fields": []}) from None
    raw = expl.raw_score
    classes = None if scorer.classes is None else scorer.classes.tolist()
    items = []
    for i, prediction in enumerate(out["prediction"].tolist()):
        ranked = expl.top(i, len(expl.columns))
        top, left_out = ranked[:k], ranked[k:]
        # the scorer's own probability, as /predict returns it (inverse_link(link, raw_score) equals it)
        proba = None if classes is None else float(out[f"proba_{classes[expl.explained[i]]}"][i])
        items.append(
            {
                "prediction": prediction,
                "probability": proba,
                "explained_class": None if classes is None else classes[expl.explained[i]],
                "raw_score": float(raw[i]),
                "base_value": float(expl.base_value[i]),
                "contributions": [{"column": c, "contribution": v} for c, v in top],
                "rest": float(sum(v for _, v in left_out)),
            }
        )
    meta = {"model_name": ref.name, "model_version": ref.version, "method": expl.method, "link": expl.link}
    return {**meta, "explanations": items}


def add_explain_route(
    app: FastAPI, champion: Callable[[], Model], records: Callable[[Any], Awaitable[list[Any]]], body_type: Any, **route: Any
) -> None:
    """Register ``POST /explain``: ``champion`` says which model serves now (it moves with a hot
    swap), ``records`` turns the parsed body into records (the service's online-store
    enrichment), ``route`` holds the guards (dependencies, responses, body limit, route class)
    as ``/predict`` has them."""

    async def explain_records(
        body: body_type,  # runtime-built body type (see build_app)
        k: Annotated[int, Query(ge=1, le=MAX_TOP_K, description="how many columns to list per record")] = DEFAULT_TOP_K,
    ) -> Response:
        rows = await records(body)
        # always off the event loop: explaining costs more than predicting, and the first call
        # of a model that needs SHAP imports it (seconds)
        model = champion()
        result = await run_in_threadpool(explain, model.scorer, model.ref, rows, k)
        return Response(json.dumps(result), media_type="application/json")

    app.router.add_api_route(
        "/explain",
        explain_records,
        methods=["POST"],
        summary="Explain one record or a list: prediction, base value and top-k contributions by raw column",
        response_model=ExplainResponse,
        **route,
    )
