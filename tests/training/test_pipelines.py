"""Pipelines: one shared preprocessing, one estimator per family, validated hyperparameters."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier
from xgboost import XGBClassifier

from engine.dataset import CATEGORICAL_FEATURES, FEATURES, NUMERIC
from engine.errors import InputError
from engine.training.pipelines import (
    DEFAULT_PARAMS,
    FAMILIES,
    PARAM_SPACE,
    build_pipeline,
    resolve_params,
)


def _tiny() -> tuple[pd.DataFrame, np.ndarray]:
    rows = []
    for i in range(8):
        row: dict[str, Any] = {c: ("x" if i % 2 else "f") for c in CATEGORICAL_FEATURES}
        row.update({c: float(i + 1) for c in NUMERIC})
        rows.append(row)
    rows[0]["cap_shape"] = None
    rows[1]["cap_diameter"] = np.nan
    return pd.DataFrame(rows), np.array([0, 1] * 4)


@pytest.mark.parametrize(
    ("family", "estimator"),
    [pytest.param("lr", LogisticRegression, id="lr"), pytest.param("dt", DecisionTreeClassifier, id="dt"),
     pytest.param("xgb", XGBClassifier, id="xgb")],
)
def test_build_pipeline_shape(family: str, estimator: type) -> None:
    pipe = build_pipeline(family, {}, random_state=7)
    assert isinstance(pipe, Pipeline)
    assert [name for name, _ in pipe.steps] == ["preprocess", "model"]
    model = pipe.named_steps["model"]
    assert isinstance(model, estimator)
    assert model.get_params()["random_state"] == 7
    if family == "xgb":
        assert model.get_params()["n_jobs"] == 1 and model.get_params()["tree_method"] == "hist"


@pytest.mark.parametrize("family", FAMILIES)
def test_defaults_are_valid_and_complete(family: str) -> None:
    assert resolve_params(family, {}) == {**DEFAULT_PARAMS[family], "exclude_features": ()}
    assert [s.name for s in PARAM_SPACE[family]] == list(DEFAULT_PARAMS[family])
    for spec in PARAM_SPACE[family]:
        assert spec.help and spec.kind in {"int", "float", "choice", "features"}


def test_missing_is_a_level_and_unknown_is_ignored() -> None:
    X, y = _tiny()
    pipe = build_pipeline("dt", {"min_samples_leaf": 1}, 0).fit(X, y)
    pre = pipe.named_steps["preprocess"]
    names = list(pre.get_feature_names_out())
    assert "cap_shape_missing" in names
    out = pre.transform(X.assign(cap_shape=["zz"] + [None] * 7))
    shape_cols = [i for i, n in enumerate(names) if n.startswith("cap_shape_")]
    assert out[0, shape_cols].tolist() == [0.0] * len(shape_cols)  # unseen level -> all zeros
    assert out[1, names.index("cap_shape_missing")] == 1.0


def test_numerics_scaled_for_lr_and_passed_through_for_trees() -> None:
    X, y = _tiny()
    lr = build_pipeline("lr", {}, 0).fit(X, y).named_steps["preprocess"].transform(X)
    tree = build_pipeline("xgb", {"n_estimators": 2}, 0).fit(X, y).named_steps["preprocess"].transform(X)
    assert np.isnan(tree[1, 0]) and tree[2, 0] == 3.0  # cap_diameter first, NaN kept for XGBoost
    assert not np.isnan(lr).any() and lr[:, 0].mean() == pytest.approx(0.0)


def test_exclude_features_drops_columns() -> None:
    X, y = _tiny()
    pipe = build_pipeline("lr", {"exclude_features": ["cap_diameter", "season"]}, 0).fit(X, y)
    names = list(pipe.named_steps["preprocess"].get_feature_names_out())
    assert "cap_diameter" not in names and not any(n.startswith("season_") for n in names)
    assert "stem_height" in names


@pytest.mark.parametrize(
    ("family", "params", "fragment"),
    [
        pytest.param("svm", {}, "Unknown model family", id="unknown-family"),
        pytest.param("xgb", {"depth": 3}, "has no parameter", id="unknown-param"),
        pytest.param("xgb", {"max_depth": 2.5}, "whole number", id="int-not-whole"),
        pytest.param("xgb", {"max_depth": True}, "must be a number", id="bool-as-int"),
        pytest.param("xgb", {"learning_rate": "fast"}, "must be a number", id="string-as-float"),
        pytest.param("xgb", {"learning_rate": 0.0}, "allowed range", id="below-range"),
        pytest.param("dt", {"min_samples_leaf": 0}, "allowed range", id="leaf-zero"),
        pytest.param("lr", {"C": float("inf")}, "finite", id="infinite"),
        pytest.param("lr", {"class_weight": "heavy"}, "choose one of", id="bad-choice"),
        pytest.param("lr", {"C": None}, "must be set", id="none-not-nullable"),
        pytest.param("dt", {"exclude_features": ["odor"]}, "unknown features", id="unknown-feature"),
        pytest.param("dt", {"exclude_features": list(FEATURES)}, "every feature", id="exclude-all"),
        pytest.param("dt", {"exclude_features": "season"}, "list of feature names", id="features-not-list"),
    ],
)
def test_invalid_params_raise_input_error(family: str, params: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InputError, match=fragment) as info:
        build_pipeline(family, params, 0)
    assert info.value.code in {"bad_param", "unknown_family"}


def test_valid_overrides_are_coerced() -> None:
    p = resolve_params("dt", {"max_depth": None, "min_samples_leaf": 5.0, "exclude_features": ["season", "habitat"]})
    assert p["max_depth"] is None and p["min_samples_leaf"] == 5 and isinstance(p["min_samples_leaf"], int)
    assert p["exclude_features"] == ("habitat", "season")  # file order
