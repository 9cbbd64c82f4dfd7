"""One row through a LightGBM booster without the Python wrapper's per-call costs.

``Booster.predict`` builds a predictor, checks and copies its input and sizes its output on every
call: for one row that costs several times the trees themselves. LightGBM's C API has a call made
for exactly this case, ``LGBM_BoosterPredictForMatSingleRowFast``: its configuration (prediction
type, iterations, threads, input type) is set up once, then each call reads a preallocated row and
writes a preallocated output. It runs the same trees on the same float32 values as
``Booster.predict`` on the float32 feature matrix, so the outputs are equal bit for bit (a test
compares them).
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Any

import numpy as np

PREDICT_NORMAL = 0  # lightgbm.basic._C_API_PREDICT_NORMAL: probabilities / values, not raw scores
DTYPE_FLOAT32 = 0  # lightgbm.basic._C_API_DTYPE_FLOAT32: the compiled featurizer's output type


class SingleRowPredictor:
    """``booster.predict(X)`` for a float32 matrix ``X`` of one row, as LightGBM's fast
    single-row call. ``num_iteration`` follows ``Booster.predict``: the best iteration when the
    booster has one, else all of them."""

    def __init__(self, booster: Any, n_features: int):
        from lightgbm.basic import _LIB, _c_str, _safe_call

        self.booster, self.n_features = booster, n_features  # the booster outlives the config
        self.row = np.zeros(n_features, dtype=np.float32)
        self.out = np.zeros(booster.num_model_per_iteration(), dtype=np.float64)
        self.out_len = ctypes.c_int64(0)
        handle = ctypes.c_void_p()
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(PREDICT_NORMAL),
                ctypes.c_int(0),  # start iteration
                ctypes.c_int(booster.best_iteration or -1),
                ctypes.c_int(DTYPE_FLOAT32),
                ctypes.c_int32(n_features),
                _c_str("num_threads=1"),
                ctypes.byref(handle),
            )
        )
        self.handle = handle
        self._finalizer = weakref.finalize(self, _free, handle)
        self._call = _LIB.LGBM_BoosterPredictForMatSingleRowFast
        self._check = _safe_call
        self._args = (
            handle,
            self.row.ctypes.data_as(ctypes.c_void_p),
            ctypes.byref(self.out_len),
            self.out.ctypes.data_as(ctypes.c_void_p),
        )
        self._lock = threading.Lock()  # one config, one row buffer: one call at a time

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """The prediction for the one row of ``X`` (shape ``(1, n_features)``), shaped as
        ``Booster.predict`` shapes it: ``(1,)`` for one output, ``(1, k)`` for k classes."""
        with self._lock:
            self.row[:] = X[0]
            self._check(self._call(*self._args))
            out = self.out[: self.out_len.value].copy()
        return out if len(out) == 1 else out.reshape(1, -1)

    def __reduce__(self) -> tuple[Any, tuple[Any, int]]:
        # the C handle cannot travel (e.g. to a Dask worker): rebuild it from the booster
        return SingleRowPredictor, (self.booster, self.n_features)


def _free(handle: ctypes.c_void_p) -> None:
    from lightgbm.basic import _LIB

    _LIB.LGBM_FastConfigFree(handle)


def single_row_predictor(booster: Any | None) -> SingleRowPredictor | None:
    """The fast single-row call for a LightGBM ``booster``; None without one (another model
    kind) or when this LightGBM build lacks the call."""
    if booster is None:
        return None
    from lightgbm.basic import _LIB

    if not hasattr(_LIB, "LGBM_BoosterPredictForMatSingleRowFast"):
        return None
    return SingleRowPredictor(booster, booster.num_feature())
