"""Raw rows in, predictions out: the ONE scoring path of the packaged MLflow model (pyfunc), the
HTTP server and batch scoring. No MLflow import here, so serving stays light.

Two entry points share everything below them:

- :meth:`Scorer.predict`: a DataFrame in, a DataFrame out (the pyfunc contract);
- :meth:`Scorer.predict_columns`: columns (name -> values) in, columns out. HTTP sends lists of
  one request's values, batch sends numpy arrays; no per-call DataFrame is built on this path.

The featurizer backend is chosen once, when the scorer is built: the compiled numpy featurizer
(:mod:`mmp.inference.compiled`) when every transformer is known to it, else the fitted sklearn
featurizer. The choice is logged once and reported by :attr:`Scorer.backend` (never silent).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

import joblib
import numpy as np
import pandas as pd

from mmp.core.config import task_kind
from mmp.core.errors import MMPError
from mmp.data.schema import InputSchema
from mmp.inference.booster import single_row_predictor
from mmp.inference.compiled import Columns, NotCompilable, compile_featurizer
from mmp.inference.explain import lightgbm_booster
from mmp.inference.legacy import load_legacy
from mmp.modeling.features import transform
from mmp.modeling.metrics import predict_labels
from mmp.modeling.models.uplift import estimate_effect

if TYPE_CHECKING:
    from mmp.inference.explain import Explainer, Explanation

log = logging.getLogger("mmp.inference.scorer")
SINGLE_THREAD_ROWS = 2048  # OpenMP start-up costs more than it saves on small batches

Features: TypeAlias = np.ndarray | pd.DataFrame  # what a featurizer backend hands to the model


class Scorer:
    """A fitted featurizer and model with the data contract they were trained on: the ``tabular``
    kind of :class:`mmp.inference.wrapper.ModelWrapper`."""

    kind: ClassVar[str] = "tabular"

    def __init__(self, featurizer: Any, model: Any, schema: InputSchema, metadata: Mapping[str, Any]):
        self.featurizer, self.model, self.schema, self.metadata = featurizer, model, schema, dict(metadata)
        self.features = schema.feature_names
        self.threshold = float(self.metadata.get("threshold", 0.5))
        self.classes = np.asarray(model.classes_) if task_kind(schema.task_type) == "classification" else None
        self.uplift = schema.task_type == "uplift"
        self._booster = lightgbm_booster(model)
        self._featurize, self.backend = self._choose_backend()
        # one row of the compiled featurizer's float32 output: LightGBM's fast single-row call
        self._single = single_row_predictor(self._booster) if self.backend == "numpy" else None

    @classmethod
    def load(cls, artifacts: Mapping[str, str | Path]) -> Scorer:
        """From the package's artifact files (``featurizer``, ``model``, ``schema``, ``metadata``)."""
        return cls(
            featurizer=load_legacy(lambda: joblib.load(artifacts["featurizer"])),
            model=load_legacy(lambda: joblib.load(artifacts["model"])),
            schema=InputSchema.read(Path(artifacts["schema"])),
            metadata=json.loads(Path(artifacts["metadata"]).read_text()),
        )

    @classmethod
    def train(cls, frame: pd.DataFrame, params: Any, best: Mapping[str, Any] | None = None, logger: Any | None = None) -> Scorer:
        """Fit the recipe (``params``: :class:`mmp.core.config.Params`) on raw labelled train rows
        (the prepare step's train split): the featurizer, then the estimator, by the same
        functions the featurize and train stages call. A fine-tune (``model.finetune.from``)
        fetches its base package: the pipeline's train stage does that."""
        from mmp.data.online import online_features
        from mmp.data.schema import infer_schema
        from mmp.modeling.features import fit_features
        from mmp.modeling.training import fit_recipe

        if params.model.finetune.source:
            raise MMPError(
                "model.finetune.from", "Scorer.train fits from scratch", "the pipeline's train stage (dvc exp run) for a fine-tune"
            )
        data = params.data
        featurizer, features = fit_features(frame, params)
        model = fit_recipe(features, params, best, logger)
        schema = infer_schema(frame, data, online_features(data, params.features.time))
        metadata = {"kind": cls.kind, "model_class": params.model.class_path, "threshold": params.evaluate.fixed_threshold}
        return cls(featurizer, model, schema, metadata | label_columns(data))

    def evaluate(self, frame: pd.DataFrame, extra: Sequence[Any] = ()) -> dict[str, float]:
        """Metrics on raw labelled rows, computed the way the evaluate step does: the task's
        metrics at the package's threshold, plus ``extra`` (the recipe's extra metrics, loaded).
        An uplift model reads its treatment (and known effect) column named in its metadata."""
        from mmp.core.target import target
        from mmp.modeling.metrics import classification_metrics, extra_metric_values, regression_metrics, uplift_metrics

        out = self.predict(frame)
        y = np.asarray(target(frame, self.schema.targets))
        if self.uplift:
            treatment, effect = self.metadata.get("treatment_col"), self.metadata.get("effect_col")
            if not treatment:
                raise MMPError("metadata.json", "an uplift package names no treatment_col", "a package saved by this version of mmp")
            known = frame[effect].to_numpy() if effect else None
            return uplift_metrics(y, frame[treatment].to_numpy(), out["effect"].to_numpy(), known)
        if self.classes is None:
            pred = out[self.output_columns].to_numpy()
            pred = pred[:, 0] if pred.shape[1] == 1 else pred
            return regression_metrics(y, pred) | extra_metric_values(extra, y, pred, None)
        proba = out[[f"proba_{c}" for c in self.classes]].to_numpy()
        return classification_metrics(y, proba, self.classes, self.threshold) | extra_metric_values(
            extra, y, proba, self.classes, self.threshold
        )

    @classmethod
    def from_package(cls, path: str | Path, source: str | None = None) -> Scorer:
        """From a local pyfunc directory: the artifacts its MLmodel file lists. ``source`` is
        how the user named the model (a registry URI, say), for the error message."""
        from mmp.inference.wrapper import load_wrapper  # the one reader of a package's MLmodel

        model = load_wrapper(path, source)
        if not isinstance(model, cls):
            raise MMPError("--model", f"{source or path} is a {model.kind} model", "a tabular model package")
        return model

    @property
    def task(self) -> str:
        return self.schema.task_type

    @functools.cached_property  # read on every request
    def output_columns(self) -> list[str]:
        """``prediction`` (one per target for multi-output regression) and ``proba_<class>``;
        ``effect`` (the estimated treatment effect) for an uplift model."""
        if self.uplift:
            return ["effect"]
        if self.classes is None:
            targets = self.schema.targets
            return ["prediction"] if len(targets) == 1 else [f"prediction_{t}" for t in targets]
        return ["prediction", *(f"proba_{c}" for c in self.classes)]

    # -- the two entry points ------------------------------------------------------------------

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Raw rows (any extra columns are ignored) to one output row each, same index."""
        out = self.predict_columns(typed_columns(frame, self.schema), len(frame))
        return pd.DataFrame(out, index=frame.index, copy=False)  # the arrays are this call's own

    def predict_columns(self, columns: Columns, n_rows: int) -> dict[str, np.ndarray]:
        """Feature columns in, output columns out (see :attr:`output_columns`)."""
        return self._outputs(self._featurize(columns), n_rows)

    def explain_columns(self, columns: Columns, n_rows: int) -> tuple[dict[str, np.ndarray], Explanation]:
        """:meth:`predict_columns` plus each row's explanation by raw column (see
        :mod:`mmp.inference.explain`): the positive class of a binary model, the predicted
        class of a multiclass one."""
        if len(self.schema.targets) > 1:
            raise MMPError("explain", f"the model predicts {len(self.schema.targets)} targets", "a model with one target")
        if self.uplift:
            raise MMPError("explain", "the model estimates treatment effects (uplift)", "a classifier or a regressor")
        X = self._featurize(columns)
        out = self._outputs(X, n_rows)
        explained = None
        if self.classes is not None and len(self.classes) > 2:
            index = {c: i for i, c in enumerate(self.classes.tolist())}
            explained = np.asarray([index[p] for p in out["prediction"].tolist()], dtype=np.intp)
        return out, self.explainer.explain(X, explained)

    @functools.cached_property
    def explainer(self) -> Explainer:
        """Built on first use (SHAP's import costs seconds). The background of the linear and
        permutation explainers is the package's example row (per-column medians and modes)."""
        from mmp.inference.explain import Explainer, source_matrix

        example = pd.DataFrame([{name: self.schema.example.get(name) for name in self.features}])
        background = np.asarray(self._featurize(typed_columns(example, self.schema)), dtype=np.float64)
        return Explainer(self.model, source_matrix(self.featurizer, self.features), self.features, background, self._booster)

    def _outputs(self, X: Features, n_rows: int) -> dict[str, np.ndarray]:
        if self.uplift:
            return {"effect": estimate_effect(self.model, X)}
        if self.classes is None:
            pred = self._predict(X).reshape(n_rows, -1)
            return dict(zip(self.output_columns, pred.T, strict=True))
        proba = self._proba(X)
        out = {"prediction": predict_labels(proba, self.classes, self.threshold)}
        out.update(zip(self.output_columns[1:], proba.T, strict=True))  # proba.T's rows: proba's columns
        return out

    # -- featurizer backends -------------------------------------------------------------------

    def _choose_backend(self) -> tuple[Callable[[Columns], Features], str]:
        try:
            compiled = compile_featurizer(self.featurizer)
        except NotCompilable as err:
            log.warning("featurizer fast path unavailable (%s): using the sklearn featurizer", err)
            return self._sklearn_features, f"sklearn ({err})"
        log.info("featurizer backend: numpy (compiled)")
        names = compiled.feature_names
        # a model fitted on a frame wants one back (the booster, which skips that check, does not)
        wants_frame = self._booster is None and hasattr(self.model, "feature_names_in_")

        def numpy_features(columns: Columns) -> Features:
            X = compiled.transform(columns)
            return pd.DataFrame(X, columns=names) if wants_frame else X

        return numpy_features, "numpy"

    def _sklearn_features(self, columns: Columns) -> Features:
        # HTTP sends plain lists (None for missing, datetimes as objects): type them first
        raw = pd.DataFrame({c: columns[c] for c in self.features})
        return transform(self.featurizer, pd.DataFrame(typed_columns(raw, self.schema)))

    # -- the model -----------------------------------------------------------------------------

    def _boost(self, X: Features) -> np.ndarray:
        if self._single is not None and len(X) == 1 and isinstance(X, np.ndarray):
            return self._single(X)
        return np.asarray(self._booster.predict(np.asarray(X), **_threads(len(X))), dtype=np.float64)

    def _predict(self, X: Features) -> np.ndarray:
        if self._booster is not None:
            return self._boost(X)
        return np.asarray(self.model.predict(X))  # the model's own dtype (the signature records it)

    def _proba(self, X: Features) -> np.ndarray:
        if self._booster is not None:
            raw = self._boost(X)
            if raw.ndim > 1:
                return raw
            # LGBMClassifier.predict_proba does exactly this for the binary objective (np.column_stack
            # of the two columns; filled in place here: a one-row request pays numpy calls, not rows)
            proba = np.empty((len(raw), 2))
            np.subtract(1.0, raw, out=proba[:, 0])
            proba[:, 1] = raw
            return proba
        return np.asarray(self.model.predict_proba(X), dtype=np.float64)


def label_columns(data: Any) -> dict[str, str]:
    """What an uplift package's :meth:`Scorer.evaluate` reads beside the target, for its metadata."""
    return {name: col for name, col in (("treatment_col", data.treatment_col), ("effect_col", data.effect_col)) if col}


def typed_columns(frame: pd.DataFrame, schema: InputSchema) -> dict[str, Any]:
    """The feature columns of raw rows, each with its declared type: numbers float64 with NaN
    (unparseable values become NaN), dates datetime64 (NaT likewise), text as pandas holds it
    (Arrow strings are then looked up without a copy)."""
    labels = frame.columns.tolist()  # one conversion: pandas 3 holds the labels as Arrow text
    position = {name: i for i, name in enumerate(labels)}
    missing = [name for name in schema.feature_names if name not in position]
    if missing:
        raise MMPError("input", f"missing required column(s) {missing}", ", ".join(schema.feature_names))
    unique = len(position) == len(labels)
    out = {}
    for col in schema.features:
        fast = _typed_fast(frame, position[col.name], col.dtype) if unique else None
        out[col.name] = _typed(frame[col.name], col.dtype) if fast is None else fast
    return out


def _typed_fast(frame: pd.DataFrame, position: int, dtype: str) -> Any:
    """:func:`_typed` of a column already of its declared kind, read without building a Series
    (``frame[name]`` costs tens of microseconds in pandas 3: most of a one-row pyfunc call's own
    time). None when the column needs the general path (or pandas lacks the column accessor)."""
    get = getattr(frame, "_get_column_array", None)
    if get is None:
        return None
    values = get(position)
    plain = isinstance(values.dtype, np.dtype)
    if dtype in ("int", "float"):
        return values.astype(np.float64, copy=False) if isinstance(values, np.ndarray) and values.dtype.kind in "fiub" else None
    if dtype == "datetime":  # a tz-naive datetime column (tz-aware ones take the general path)
        return np.asarray(values, dtype="datetime64[ns]") if plain and values.dtype.kind == "M" else None
    return values if isinstance(values, pd.api.extensions.ExtensionArray) else None  # what Series.array is


def _typed(values: pd.Series, dtype: str) -> Any:
    """One column as :func:`typed_columns` hands it on. A NumPy-backed column already of the
    declared kind is converted without parsing (it holds no pandas NA: the same values, faster)."""
    plain = isinstance(values.dtype, np.dtype)
    if dtype in ("int", "float"):
        if plain and values.dtype.kind in "fiub":
            return values.to_numpy(dtype=np.float64)
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if dtype == "datetime":
        parsed = values if plain and values.dtype.kind == "M" else pd.to_datetime(values, errors="coerce")
        return parsed.to_numpy(dtype="datetime64[ns]")
    return values.array


def _threads(n_rows: int) -> dict[str, Any]:
    return {"num_threads": 1} if n_rows < SINGLE_THREAD_ROWS else {}


if TYPE_CHECKING:  # mypy holds the tabular kind to the whole contract
    from mmp.inference.wrapper import ModelWrapper

    _TABULAR: type[ModelWrapper] = Scorer
