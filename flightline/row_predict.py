"""Rows through LightGBM's single-row C API: ``booster.predict`` of a few flights without its
Python wrapper.

``Booster.predict`` builds a predictor object, copies its parameters and checks its input on
every call: for one row that costs several times the trees themselves. LightGBM's
``LGBM_BoosterPredictForMatSingleRowFast`` prepares all of that once (a "fast config") and then
scores one row with one C call. :class:`SingleRowPredictor` keeps one such config per booster
and scores up to :data:`MAX_ROWS` rows one C call each; its answers equal
``booster.predict(rows, num_threads=...)`` (tests/unit/test_row_predict.py and the service's
integration test check whole test months). Anything else goes to ``booster.predict``.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading

import lightgbm as lgb
import numpy as np
from lightgbm.basic import _LIB, _safe_call

# LightGBM's c_api.h
_PREDICT_NORMAL = 0
_DTYPE_FLOAT32 = 0
# Rows scored one C call each (one row: ~0.004 ms, against ~0.04 ms through booster.predict,
# with a 33-tree model); more go to booster.predict, whose wrapper then costs little per row.
MAX_ROWS = 16


class SingleRowPredictor:
    """``booster.predict(matrix, num_threads=num_threads)``, a row at a time through the C API.

    The booster must not change (no more training) while this predictor lives.
    """

    def __init__(self, booster: lgb.Booster, num_threads: int) -> None:
        self.booster = booster  # also keeps the handle the fast config points into alive
        self.num_threads = num_threads
        self.width = booster.num_feature()
        # What Booster.predict passes by default: the best iteration (<= 0: all trees).
        self._num_iteration = booster.best_iteration
        self._config = ctypes.c_void_p()
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(_PREDICT_NORMAL),
                ctypes.c_int(0),  # start_iteration
                ctypes.c_int(self._num_iteration),
                ctypes.c_int(_DTYPE_FLOAT32),
                ctypes.c_int32(self.width),
                ctypes.c_char_p(f"num_threads={num_threads}".encode()),
                ctypes.byref(self._config),
            )
        )
        self._out_len = ctypes.c_int64(0)
        # The fast config holds one row's buffers: one call at a time.
        self._lock = threading.Lock()

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Probabilities (float64, one per row) of a feature matrix in the model's order."""
        n = matrix.shape[0] if matrix.ndim == 2 else 0
        if (
            not 0 < n <= MAX_ROWS
            or matrix.shape[1] != self.width
            or matrix.dtype != np.float32
            or not matrix.flags.c_contiguous
        ):
            return self.booster.predict(matrix, num_threads=self.num_threads)
        out = np.empty(n, dtype=np.float64)
        row, step = matrix.ctypes.data, matrix.strides[0]
        at, size = out.ctypes.data, out.itemsize
        with self._lock:
            for i in range(n):
                _safe_call(
                    _LIB.LGBM_BoosterPredictForMatSingleRowFast(
                        self._config,
                        ctypes.c_void_p(row + i * step),
                        ctypes.byref(self._out_len),
                        ctypes.c_void_p(at + i * size),
                    )
                )
        return out

    def __del__(self) -> None:
        config = getattr(self, "_config", None)
        if config is not None and config.value is not None:
            with contextlib.suppress(Exception):  # at interpreter exit LightGBM may be gone
                _LIB.LGBM_FastConfigFree(config)
