"""Honest evaluation of one model family: random hold-out, species-held-out CV, safety threshold, final fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, train_test_split
from sklearn.pipeline import Pipeline

from engine.errors import InputError
from engine.training.metrics import SCALAR_METRICS, Metrics, compute_metrics, encode_target
from engine.training.pipelines import build_pipeline, resolve_params, selected_features
from engine.training.safety import DEFAULT_MAX_FALSE_EDIBLE_RATE, SafetyThreshold, calibrate_threshold

#: What the served model is trained on; stored with every evaluation.
FINAL_FIT_ALL_ROWS = "all rows (hold-out and CV models are for evaluation only)"


@dataclass(frozen=True)
class HoldoutResult:
    """Stratified random hold-out: optimistic, because rows of a species land on both sides."""

    test_size: float
    n_train: int
    n_test: int
    metrics: Metrics

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return {"test_size": self.test_size, "n_train": self.n_train, "n_test": self.n_test,
                "metrics": self.metrics.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HoldoutResult:
        """Inverse of :meth:`to_dict`."""
        return cls(float(data["test_size"]), int(data["n_train"]), int(data["n_test"]),
                   Metrics.from_dict(data["metrics"]))


@dataclass(frozen=True)
class GroupedCVResult:
    """Species-held-out CV: every group's rows are scored by a model that never saw the group.

    ``mean``/``std`` summarise the per-fold scalar metrics (std with ddof=1); ``pooled`` is
    computed once over all out-of-fold predictions. ``oof_proba[i]`` is P(poisonous) of row i
    and ``oof_fold[i]`` the fold that held it out (arrays are read-only, excluded from ==).
    """

    n_folds: int
    folds: tuple[Metrics, ...]
    mean: dict[str, float]
    std: dict[str, float]
    pooled: Metrics
    oof_proba: np.ndarray = field(compare=False, repr=False)
    oof_fold: np.ndarray = field(compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the OOF arrays as lists)."""
        return {"n_folds": self.n_folds, "folds": [m.to_dict() for m in self.folds],
                "mean": dict(self.mean), "std": dict(self.std), "pooled": self.pooled.to_dict(),
                "oof_proba": self.oof_proba.tolist(), "oof_fold": self.oof_fold.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupedCVResult:
        """Inverse of :meth:`to_dict`."""
        return cls(int(data["n_folds"]), tuple(Metrics.from_dict(m) for m in data["folds"]),
                   {k: float(v) for k, v in data["mean"].items()}, {k: float(v) for k, v in data["std"].items()},
                   Metrics.from_dict(data["pooled"]), _frozen(np.asarray(data["oof_proba"], dtype=np.float64)),
                   _frozen(np.asarray(data["oof_fold"], dtype=np.int64)))


@dataclass(frozen=True)
class Evaluation:
    """Everything measured for one family + params + seed, and the model fit on all rows.

    ``pipeline`` is the final model (fit on ``final_fit_on``); it is not part of
    ``to_dict()`` (the registry stores it as an artifact) and is None after ``from_dict``.
    """

    family: str
    params: dict[str, Any]
    random_state: int
    n_rows: int
    n_groups: int
    holdout: HoldoutResult
    grouped: GroupedCVResult
    safety: SafetyThreshold
    final_fit_on: str = FINAL_FIT_ALL_ROWS
    pipeline: Pipeline | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict, without the fitted pipeline."""
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.params.items()}
        return {"family": self.family, "params": params, "random_state": self.random_state,
                "n_rows": self.n_rows, "n_groups": self.n_groups, "holdout": self.holdout.to_dict(),
                "grouped": self.grouped.to_dict(), "safety": self.safety.to_dict(),
                "final_fit_on": self.final_fit_on}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        """Inverse of :meth:`to_dict` (``pipeline`` is None)."""
        return cls(
            family=str(data["family"]), params=resolve_params(str(data["family"]), data["params"]),
            random_state=int(data["random_state"]), n_rows=int(data["n_rows"]), n_groups=int(data["n_groups"]),
            holdout=HoldoutResult.from_dict(data["holdout"]), grouped=GroupedCVResult.from_dict(data["grouped"]),
            safety=SafetyThreshold.from_dict(data["safety"]), final_fit_on=str(data["final_fit_on"]),
        )


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _proba(pipeline: Pipeline, X: pd.DataFrame) -> np.ndarray:
    return pipeline.predict_proba(X)[:, 1].astype(np.float64)


def _check_inputs(
    X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, params: Mapping[str, Any], n_folds: int, test_size: float
) -> None:
    if not isinstance(X, pd.DataFrame):
        raise InputError("X must be a pandas DataFrame with the canonical column names.")
    numeric, categorical = selected_features(params)
    absent = [c for c in (*numeric, *categorical) if c not in X.columns]
    if absent:
        raise InputError(f"X lacks feature columns {absent}; normalise headers with "
                         "engine.dataset.normalise_column_name.", code="missing_columns")
    if not (len(X) == y.size == groups.size):
        raise InputError(f"Lengths differ: X has {len(X)} rows, y {y.size}, groups {groups.size}.")
    if pd.isna(pd.Series(groups)).any():
        raise InputError("groups holds missing values; give every row a species id.")
    if len(np.unique(y)) < 2:
        raise InputError("y holds one class only; both edible and poisonous rows are needed.")
    if not isinstance(n_folds, int) or n_folds < 2:
        raise InputError(f"n_folds must be an integer >= 2, got {n_folds!r}.")
    for label in (0, 1):
        n = len(np.unique(groups[y == label]))
        if n < n_folds:
            raise InputError(f"Only {n} {'poisonous' if label else 'edible'} groups for {n_folds} folds; "
                             "lower n_folds or add species.")
    if not 0.0 < test_size < 1.0:
        raise InputError(f"test_size must be in (0, 1), got {test_size!r}.")


def grouped_folds(
    y: np.ndarray, groups: np.ndarray, n_folds: int, random_state: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Species-held-out folds: ``StratifiedGroupKFold(shuffle=True)``; no group is on both sides.

    Parameters
    ----------
    y : numpy.ndarray
        0/1 target per row (stratification keeps the class mix of the folds similar).
    groups : numpy.ndarray
        Species id per row.
    n_folds : int
        Number of folds.
    random_state : int
        Seed of the shuffle.

    Returns
    -------
    list of (train_index, test_index)
    """
    cv = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    return list(cv.split(np.zeros((y.size, 1)), y, groups))


def _grouped_cv(
    family: str, params: Mapping[str, Any], X: pd.DataFrame, y01: np.ndarray, g: np.ndarray,
    random_state: int, n_folds: int,
) -> GroupedCVResult:
    oof = np.full(y01.size, np.nan)
    fold_of = np.full(y01.size, -1, dtype=np.int64)
    fold_metrics: list[Metrics] = []
    for k, (tr, te) in enumerate(grouped_folds(y01, g, n_folds, random_state)):
        pipe = build_pipeline(family, params, random_state).fit(X.iloc[tr], y01[tr])
        oof[te] = _proba(pipe, X.iloc[te])
        fold_of[te] = k
        fold_metrics.append(compute_metrics(y01[te], oof[te]))
    table = np.array([[getattr(m, name) for name in SCALAR_METRICS] for m in fold_metrics])
    return GroupedCVResult(
        n_folds=n_folds,
        folds=tuple(fold_metrics),
        mean=dict(zip(SCALAR_METRICS, np.mean(table, axis=0).tolist(), strict=True)),
        std=dict(zip(SCALAR_METRICS, np.std(table, axis=0, ddof=1).tolist(), strict=True)),
        pooled=compute_metrics(y01, oof),
        oof_proba=_frozen(oof),
        oof_fold=_frozen(fold_of),
    )


def grouped_cv(
    family: str,
    params: Mapping[str, Any] | None,
    X: pd.DataFrame,
    y: Sequence[Any] | np.ndarray,
    groups: Sequence[Any] | np.ndarray,
    random_state: int,
    n_folds: int = 5,
) -> GroupedCVResult:
    """Species-held-out CV alone (the part of :func:`evaluate` that experiments need).

    Parameters
    ----------
    family, params, X, y, groups, random_state, n_folds
        As in :func:`evaluate`.

    Returns
    -------
    GroupedCVResult
    """
    resolved = resolve_params(family, params)
    y01 = encode_target(y)
    g = np.asarray(groups).ravel()
    _check_inputs(X, y01, g, resolved, n_folds, 0.2)
    return _grouped_cv(family, resolved, X.reset_index(drop=True), y01, g, random_state, n_folds)



def evaluate(
    family: str,
    params: Mapping[str, Any] | None,
    X: pd.DataFrame,
    y: Sequence[Any] | np.ndarray,
    groups: Sequence[Any] | np.ndarray,
    random_state: int,
    test_size: float = 0.2,
    n_folds: int = 5,
    *,
    max_false_edible_rate: float = DEFAULT_MAX_FALSE_EDIBLE_RATE,
    calibration_method: str = "species_conformal",
    fit_final: bool = True,
) -> Evaluation:
    """Evaluate a family three ways and fit the model to serve.

    Fits ``2 + n_folds`` pipelines, each exactly once: (a) one on a stratified random
    ``1 - test_size`` share, scored on the rest (optimistic: the same species is on both
    sides); (b) one per species-held-out fold, whose out-of-fold P(poisonous) for every row
    gives per-fold metrics, their mean/std, pooled metrics and the safety threshold;
    (c) the final pipeline on all rows (skipped with ``fit_final=False``).

    Parameters
    ----------
    family : str
        ``"lr"``, ``"dt"`` or ``"xgb"``.
    params : mapping or None
        Hyperparameters over ``DEFAULT_PARAMS[family]``.
    X : pandas.DataFrame
        Features with canonical column names; missing values as None/NaN, numerics as float.
    y : array-like
        ``"p"``/``"e"`` or 1/0 per row.
    groups : array-like
        Species id per row.
    random_state : int
        Seed of the split, the folds and every estimator.
    test_size : float, default 0.2
        Share of rows in the random hold-out.
    n_folds : int, default 5
        Folds of the species-held-out CV.
    max_false_edible_rate : float, default 0.01
        Target of the safety threshold (see ``engine.training.safety``).
    calibration_method : str, default "species_conformal"
        Passed to ``calibrate_threshold``.
    fit_final : bool, default True
        Also fit the served pipeline on all rows.

    Returns
    -------
    Evaluation

    Raises
    ------
    InputError
        On invalid family/params, missing columns, mismatched lengths or too few groups.
    """
    resolved = resolve_params(family, params)
    y01 = encode_target(y)
    g = np.asarray(groups).ravel()
    _check_inputs(X, y01, g, resolved, n_folds, test_size)
    X = X.reset_index(drop=True)

    # (a) random hold-out
    idx_train, idx_test = train_test_split(np.arange(y01.size), test_size=test_size, stratify=y01,
                                           random_state=random_state)
    pipe = build_pipeline(family, resolved, random_state).fit(X.iloc[idx_train], y01[idx_train])
    holdout = HoldoutResult(float(test_size), int(idx_train.size), int(idx_test.size),
                            compute_metrics(y01[idx_test], _proba(pipe, X.iloc[idx_test])))

    # (b) species-held-out CV
    grouped = _grouped_cv(family, resolved, X, y01, g, random_state, n_folds)
    safety = calibrate_threshold(grouped.oof_proba, y01, g, max_false_edible_rate, method=calibration_method)

    # (c) the served model
    final = build_pipeline(family, resolved, random_state).fit(X, y01) if fit_final else None
    return Evaluation(
        family=family, params=resolved, random_state=int(random_state), n_rows=int(y01.size),
        n_groups=int(np.unique(g).size), holdout=holdout, grouped=grouped, safety=safety,
        final_fit_on=FINAL_FIT_ALL_ROWS if fit_final else "not fitted (fit_final=False)", pipeline=final,
    )
