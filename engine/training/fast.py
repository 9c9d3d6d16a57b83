"""Fast prediction for a fitted pipeline: precomputed encoding, then the bare estimator (XGBoost: inplace_predict)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from engine.errors import InputError
from engine.training.pipelines import CATEGORICAL_BLOCK, MISSING_LEVEL, MODEL_STEP, NUMERIC_BLOCK, PREPROCESS_STEP

_NA = pd.NA


def _is_missing(value: Any) -> bool:
    if value is None or value is _NA:
        return True
    return isinstance(value, float) and math.isnan(value)


class FastPredictor:
    """P(poisonous) from a fitted ``build_pipeline`` pipeline without going through sklearn's transformers.

    Built with :meth:`from_pipeline`, which reads the fitted ColumnTransformer once: per
    numeric column its output index (and, for LR, median and scaling), per categorical
    column a dict ``level -> output index``. A row then becomes the exact float64 vector
    the estimator sees with plain dict lookups. XGBoost is called through its booster's
    ``inplace_predict``; LR and DT through the estimator's ``predict_proba``.

    Semantics are the pipeline's: None/NaN is missing (categoricals -> the ``missing``
    level, numerics -> NaN or the training median for LR); an unseen level, including
    ``""``, encodes as all zeros. A row must have every feature key the pipeline reads.
    """

    def __init__(
        self,
        *,
        n_columns: int,
        numeric: tuple[tuple[str, int, tuple[float, float, float] | None], ...],
        categorical: tuple[tuple[str, dict[str, int], int | None, tuple[str, ...]], ...],
        estimator: Any,
        pipeline: Pipeline,
    ) -> None:
        self.n_columns = n_columns
        self.numeric = numeric
        self.categorical = categorical
        self.estimator = estimator
        self.pipeline = pipeline
        self.features: tuple[str, ...] = tuple(n[0] for n in numeric) + tuple(c[0] for c in categorical)
        self._booster = estimator.get_booster() if isinstance(estimator, XGBClassifier) else None

    @property
    def input_dtype(self) -> type[np.floating[Any]]:
        """Float type of encoded rows: float32 for XGBoost (it reads features as float32, so
        the answers are identical and the matrix half the size), float64 for scikit-learn."""
        return np.float32 if self._booster is not None else np.float64

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline) -> FastPredictor:
        """Precompute the encoding of a fitted pipeline made by ``build_pipeline``.

        Parameters
        ----------
        pipeline : sklearn.pipeline.Pipeline
            Fitted ``[("preprocess", ColumnTransformer), ("model", estimator)]``.

        Returns
        -------
        FastPredictor

        Raises
        ------
        InputError
            If the pipeline is not fitted or not shaped as ``build_pipeline`` makes it.
        """
        try:
            pre = pipeline.named_steps[PREPROCESS_STEP]
            estimator = pipeline.named_steps[MODEL_STEP]
            slices = pre.output_indices_
            fitted = pre.named_transformers_
        except (AttributeError, KeyError) as exc:
            raise InputError("FastPredictor needs a fitted pipeline made by engine.training.pipelines."
                             "build_pipeline; fit it first.", code="bad_pipeline") from exc
        columns = {name: list(cols) for name, _, cols in pre.transformers_}
        numeric: list[tuple[str, int, tuple[float, float, float] | None]] = []
        if NUMERIC_BLOCK in fitted and columns[NUMERIC_BLOCK]:
            start = slices[NUMERIC_BLOCK].start
            block = fitted[NUMERIC_BLOCK]
            if any(name == NUMERIC_BLOCK and spec == "passthrough" for name, spec, _ in pre.transformers):
                numeric = [(c, start + i, None) for i, c in enumerate(columns[NUMERIC_BLOCK])]
            else:
                imp, scale = block.named_steps["impute"], block.named_steps["scale"]
                numeric = [(c, start + i, (float(imp.statistics_[i]), float(scale.mean_[i]), float(scale.scale_[i])))
                           for i, c in enumerate(columns[NUMERIC_BLOCK])]
        categorical: list[tuple[str, dict[str, int], int | None, tuple[str, ...]]] = []
        if CATEGORICAL_BLOCK in fitted and columns[CATEGORICAL_BLOCK]:
            offset = slices[CATEGORICAL_BLOCK].start
            encoder = fitted[CATEGORICAL_BLOCK].named_steps["onehot"]
            for name, levels in zip(columns[CATEGORICAL_BLOCK], encoder.categories_, strict=True):
                names = tuple(str(v) for v in levels)
                mapping = {v: offset + j for j, v in enumerate(names)}
                categorical.append((name, mapping, mapping.get(MISSING_LEVEL), names))
                offset += len(names)
        n_columns = max(s.stop for s in slices.values())
        return cls(n_columns=n_columns, numeric=tuple(numeric), categorical=tuple(categorical),
                   estimator=estimator, pipeline=pipeline)

    # ---- encoding -------------------------------------------------------------------------------------------
    def encode_row(self, row: Mapping[str, Any]) -> np.ndarray:
        """One row (a mapping feature -> value) as a ``(1, n_columns)`` float64 matrix, without pandas."""
        absent = [f for f in self.features if f not in row]
        if absent:
            raise InputError(f"Row lacks features {absent}; give every feature (None when unknown).",
                             code="missing_columns")
        x = np.zeros((1, self.n_columns), dtype=np.float64)
        out = x[0]
        for name, idx, scaling in self.numeric:
            value = row[name]
            v = math.nan if _is_missing(value) else float(value)
            if scaling is not None:
                fill, mean, scale = scaling
                v = ((fill if math.isnan(v) else v) - mean) / scale
            out[idx] = v
        for name, mapping, missing_idx, _ in self.categorical:
            value = row[name]
            j = missing_idx if _is_missing(value) else mapping.get(value)
            if j is not None:
                out[j] = 1.0
        return x

    def encode_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Many rows as the ``(n, n_columns)`` float64 matrix the estimator sees (vectorised)."""
        absent = [f for f in self.features if f not in frame.columns]
        if absent:
            raise InputError(f"Frame lacks feature columns {absent}.", code="missing_columns")
        n = len(frame)
        x = np.zeros((n, self.n_columns), dtype=np.float64)
        for name, idx, scaling in self.numeric:
            v = pd.to_numeric(frame[name]).to_numpy(dtype=np.float64, na_value=np.nan)
            if scaling is not None:
                fill, mean, scale = scaling
                v = (np.where(np.isnan(v), fill, v) - mean) / scale
            x[:, idx] = v
        rows = np.arange(n)
        for name, mapping, missing_idx, levels in self.categorical:
            col = frame[name]
            codes = pd.Index(levels, dtype=object).get_indexer(col.astype(object))  # -1: unseen or missing
            known = codes >= 0
            x[rows[known], mapping[levels[0]] + codes[known]] = 1.0
            if missing_idx is not None:
                x[rows[col.isna().to_numpy()], missing_idx] = 1.0
        return x

    # ---- prediction -----------------------------------------------------------------------------------------
    def predict_encoded(self, x: np.ndarray) -> np.ndarray:
        """P(poisonous) per row of an already encoded matrix."""
        if self._booster is not None:
            return np.asarray(self._booster.inplace_predict(x), dtype=np.float64).reshape(-1)
        return self.estimator.predict_proba(x)[:, 1].astype(np.float64)

    def predict_one(self, row: Mapping[str, Any]) -> float:
        """P(poisonous) of one row given as a mapping."""
        return float(self.predict_encoded(self.encode_row(row))[0])

    def predict_proba(self, rows: pd.DataFrame | Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> np.ndarray:
        """P(poisonous) per row, as a 1-D float64 array.

        Parameters
        ----------
        rows : DataFrame, mapping or sequence of mappings
            Features with canonical column names (extra columns are ignored).

        Returns
        -------
        numpy.ndarray
            One probability per row; equals ``pipeline.predict_proba(rows)[:, 1]``.
        """
        if isinstance(rows, pd.DataFrame):
            x = self.encode_frame(rows)
        elif isinstance(rows, Mapping):
            x = self.encode_row(rows)
        else:
            rows = list(rows)
            x = np.vstack([self.encode_row(r) for r in rows]) if rows else np.zeros((0, self.n_columns))
        return self.predict_encoded(x)
