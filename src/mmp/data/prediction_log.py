"""The prediction log's row layout, shared by its writers (``mmp serve``, ``mmp predict``) and its
readers (``mmp label``, ``mmp drift``, ``mmp ab-report``).

One row per scored record: the record's raw input columns under their own names, plus the
reserved columns below. A reserved name starts with ``mmp_``, so the inputs of a log are the
columns without that prefix and can be compared with training data column by column.
"""

from __future__ import annotations

from collections.abc import Iterable

PREFIX = "mmp_"

REQUEST_ID = "mmp_request_id"  # one per HTTP request, or per batch chunk
ROW = "mmp_row"  # the record's position in its request
TIME = "mmp_time"  # when it was scored (UTC)
MODEL_NAME = "mmp_model_name"
MODEL_VERSION = "mmp_model_version"
VARIANT = "mmp_variant"  # "champion", "challenger", or "shadow" (scored, not returned)
ENTITY_KEY = "mmp_entity_key"  # the request's entity key value, when it has one
PREDICTION = "mmp_prediction"  # the returned prediction (class label or value)
SCORE = "mmp_score"  # the positive class's probability (binary classifiers), else null
PROBA_PREFIX = "mmp_proba_"  # mmp_proba_<class> per class (classifiers)
LABEL = "mmp_label"  # the true label, joined later by `mmp label`

VARIANTS = ("champion", "challenger", "shadow")


def input_columns(columns: Iterable[str]) -> list[str]:
    """The logged inputs: every column that is not a reserved ``mmp_`` column."""
    return [c for c in columns if not c.startswith(PREFIX)]
