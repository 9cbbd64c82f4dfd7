"""Fine-tuning the torch models from a base model's weights (class-weighted, seeded), and the
TabTransformer's masked-column encoder pre-training, saved in the package as its own artifact."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from mmp.core.config import Params, parse, read_params
from mmp.core.errors import MMPError
from mmp.data.synthetic import credit_default
from mmp.modeling.models.mlp import MLPClassifier
from mmp.modeling.models.pretrain import encoder_state, pretrain_encoder
from mmp.modeling.models.tab_transformer import TabTransformerClassifier
from mmp.pipeline import steps
from tests.conftest import ROOT

SMALL = {"epochs": 8, "lr": 0.01, "batch_size": 64, "patience": 3, "random_state": 3, "device": "cpu"}
TAB = {"embedding_dim": 8, "n_heads": 2, "n_layers": 1, "hidden_layers": [16]}
MODELS = [MLPClassifier(hidden_layers=[16], **SMALL), TabTransformerClassifier(categorical_features=["a", "b"], **TAB, **SMALL)]


def day(seed: int, n: int = 300, positives: float = 0.5) -> tuple[pd.DataFrame, np.ndarray]:
    """Two categorical codes that predict each other (b follows a) and a numeric column; the label
    depends on both kinds, with ``positives`` setting the class balance."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, n)
    b = np.where(rng.random(n) < 0.9, (a + 1) % 5, rng.integers(0, 5, n))
    x = rng.normal(size=n)
    score = x + (a == 2) - 0.5 * (b == 0)
    X = pd.DataFrame({"x": x, "a": a, "b": b}).astype("float32")
    return X, (score > np.quantile(score, 1 - positives)).astype(int)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_finetune_starts_from_the_base_weights_with_class_weights_and_is_deterministic(model: Any) -> None:
    X1, y1 = day(1)
    base = clone(model).fit(X1, y1)
    X2, y2 = day(2)  # the next day's rows
    warm = clone(model).fine_tune(base, X2, y2, epochs=3, balanced=False)
    fresh = clone(model).fit(X2, y2)
    assert len(warm.history_) <= 3 and warm.class_weights_ is None
    assert warm.history_[0]["train_loss"] < fresh.history_[0]["train_loss"], "warm: the first epoch starts below a fresh model"
    assert np.array_equal(base.classes_, warm.classes_) and np.array_equal(base.x_mean_, warm.x_mean_), "the base's inputs and classes"

    X3, y3 = day(3, positives=0.2)  # a day with fewer positives: balanced class weights
    tuned = clone(model).fine_tune(base, X3, y3, epochs=3)
    assert np.allclose(tuned.class_weights_, len(y3) / (2 * np.bincount(y3))) and tuned.class_weights_[1] > tuned.class_weights_[0]
    unweighted = clone(model).fine_tune(base, X3, y3, epochs=3, balanced=False)
    assert unweighted.history_[0]["train_loss"] != tuned.history_[0]["train_loss"], "the weights change the loss"
    assert tuned.predict(X3).mean() > unweighted.predict(X3).mean(), "the rare class is predicted more often"
    again = clone(model).fine_tune(base, X3, y3, epochs=3)
    assert np.array_equal(tuned.predict_proba(X3), again.predict_proba(X3)), "seeded: identical on CPU"


def test_finetune_refuses_another_class_other_columns_another_network_new_labels_and_new_codes() -> None:
    X, y = day(1)
    mlp, tab = clone(MODELS[0]).fit(X, y), clone(MODELS[1]).fit(X, y)
    cases = [
        (mlp, clone(MODELS[1]), X, y, "holds a MLPClassifier, the recipe builds a TabTransformerClassifier"),
        (mlp, clone(MODELS[0]), X.rename(columns={"x": "z"}), y, "other featurized columns (new ['z'], missing ['x'])"),
        (mlp, MLPClassifier(hidden_layers=[8], **SMALL), X, y, "the recipe's network differs from the base model's"),
        (mlp, clone(MODELS[0]), X, y + 1, "labels [2] are not classes of the base model"),
        (tab, clone(MODELS[1]), X.assign(a=X["a"].replace(4.0, 5.0)), y, "column a has code 5, a category the base model never saw"),
    ]
    for base, model, data, labels, message in cases:
        with pytest.raises(MMPError) as err:
            model.fine_tune(base, data, labels, epochs=1)
        assert message in str(err.value) and "\n" not in str(err.value)


def test_pretraining_lowers_the_reconstruction_loss_and_the_fit_starts_from_the_encoder() -> None:
    X, y = day(1)
    model = clone(MODELS[1])
    encoder = pretrain_encoder(model, X, epochs=6, mask_rate=0.3)
    assert encoder.losses[-1] < 0.8 * encoder.losses[0], encoder.losses
    assert encoder.columns == ("a", "b") and encoder.sha256 == hashlib.sha256(encoder.state).hexdigest()
    assert pretrain_encoder(clone(MODELS[1]), X, epochs=6, mask_rate=0.3).sha256 == encoder.sha256, "seeded: the same bytes"
    network = model._build(X.shape[1], 2)
    model._init_module(network)
    saved = torch.load(io.BytesIO(encoder.state), weights_only=True)
    assert saved.keys() == encoder_state(network).keys() and all(torch.equal(saved[k], v) for k, v in encoder_state(network).items())
    model.fit(X, y)
    assert model.encoder_ is encoder
    X2, y2 = day(2)
    kept = clone(MODELS[1]).fine_tune(model, X2, y2, epochs=1)
    assert kept.encoder_ is encoder, "a fine-tune carries its base's pre-trained encoder forward"
    renewed = clone(MODELS[1])
    fresh = pretrain_encoder(renewed, X2, epochs=1, mask_rate=0.3)
    assert renewed.fine_tune(model, X2, y2, epochs=1).encoder_ is fresh != encoder, "one pre-trained for this run replaces it"
    other = TabTransformerClassifier(categorical_features=["a"], **TAB, **SMALL)
    other.use_encoder(encoder)
    with pytest.raises(MMPError, match=r"model.pretrain: the pre-trained encoder embeds \['a', 'b'\]"):
        other.fit(X, y)


def tab_params(**model: Any) -> Params:
    raw = read_params(ROOT / "params.yaml")
    raw["features"]["categorical"] = {**raw["features"]["categorical"], "encode": "ordinal", "min_frequency": None}
    hyper = {"categorical_features": ["employment_type", "region", "home_ownership"], **TAB, **SMALL}
    raw["model"] = {"class_path": "mmp.modeling.models.tab_transformer.TabTransformerClassifier", "hyperparameters": hyper, **model}
    return parse(Params, raw)


def register_champion(package: Path, tmp_path: Path) -> str:
    """``package`` as version 1 of a registered model in a temp SQLite store, aliased champion."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.create_experiment("finetune", artifact_location=str(tmp_path / "art"))
    run = client.create_run(experiment)
    client.log_artifacts(run.info.run_id, str(package), "model")
    client.create_registered_model("credit-default")
    version = client.create_model_version("credit-default", f"{run.info.artifact_uri}/model", run.info.run_id)
    client.set_registered_model_alias("credit-default", "champion", version.version)
    return "models:/credit-default@champion"


@pytest.mark.slow  # a real MLflow store: its schema migrations alone take seconds
def test_the_pipeline_pretrains_packages_the_encoder_and_finetunes_from_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    params = tab_params(pretrain={"enabled": True, "epochs": 2, "rows": 200})
    prepared = steps.prepare(credit_default(300, 3), params.data, params.seed)
    featurized = steps.featurize(prepared.train, prepared.test, params)
    champion = steps.train(featurized.train, params)
    package = tmp_path / "package"
    metrics = steps.evaluate(featurized.test, champion, params)
    steps.package(package, featurized.featurizer, champion, prepared.schema, metrics, params, datetime(2024, 1, 1))
    encoder = (package / "artifacts" / "encoder.pt").read_bytes()
    metadata = json.loads((package / "artifacts" / "metadata.json").read_text())
    assert metadata["encoder_sha256"] == hashlib.sha256(encoder).hexdigest() == champion.encoder_.sha256

    new = steps.prepare(credit_default(300, 4), params.data, params.seed)
    day2 = steps.featurize(new.train, new.test, params).train
    tuned = steps.train(day2, tab_params(finetune={"from": str(package), "epochs": 2}))
    assert tuned.encoder_.sha256 == champion.encoder_.sha256, "every fine-tune reuses the pre-trained encoder"
    assert len(tuned.history_) <= 2 and tuned.class_weights_ is not None

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")  # the runtime setting conf/env reads
    uri = register_champion(package, tmp_path)
    from_registry = steps.train(day2, tab_params(finetune={"from": uri, "epochs": 2}))
    X = day2.drop(columns=params.data.label_cols)
    assert np.array_equal(from_registry.predict_proba(X), tuned.predict_proba(X)), "the registry's champion is the same start"


def test_non_torch_recipes_and_bad_sources_get_one_line(tmp_path: Path) -> None:
    raw = read_params(ROOT / "params.yaml")
    raw["model"] = {"class_path": "lightgbm.LGBMClassifier", "hyperparameters": {"n_estimators": 5}, "finetune": {"from": "models/package"}}
    features = pd.DataFrame({"x": [0.0, 1.0], "default": [0, 1]})
    with pytest.raises(MMPError, match="model.finetune.from: lightgbm.LGBMClassifier is not a torch model") as err:
        steps.train(features, parse(Params, raw))
    assert "\n" not in str(err.value)
    raw["model"] = {**raw["model"], "finetune": {}, "pretrain": {"enabled": True}}
    with pytest.raises(MMPError, match="model.pretrain.enabled: lightgbm.LGBMClassifier has no encoder to pre-train"):
        steps.train(features, parse(Params, raw))
    for source, message in [
        ("nowhere", "is neither an existing directory nor a model URI"),
        (str(tmp_path), "is not an mmp model package"),
    ]:
        with pytest.raises(MMPError, match=f"model.finetune.from: .*{message}"):
            steps.train(features, tab_params(finetune={"from": source}))
