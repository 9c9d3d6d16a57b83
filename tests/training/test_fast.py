"""Fast predictor: same probabilities as pipeline.predict_proba on all 61,069 real rows, for every family."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from engine.dataset import FEATURES
from engine.errors import InputError
from engine.training.fast import FastPredictor
from engine.training.metrics import encode_target
from engine.training.pipelines import build_pipeline

#: Models are trained on a random 5,000-row subsample for speed; equality is then checked on
#: every row of the file (rows unseen in training exercise the same encoding path).
N_TRAIN = 5000
#: Light settings per family so that fitting stays fast; the encoding does not depend on them.
PARAMS: dict[str, dict[str, Any]] = {
    "lr": {},
    "dt": {"min_samples_leaf": 20},
    "xgb": {"n_estimators": 100, "max_depth": 4, "min_child_weight": 5.0},
}


@pytest.fixture(scope="module", params=["lr", "dt", "xgb"])
def fitted(request: pytest.FixtureRequest, secondary_frame: pd.DataFrame) -> tuple[Pipeline, FastPredictor]:
    family = request.param
    rng = np.random.default_rng(0)
    rows = rng.choice(len(secondary_frame), N_TRAIN, replace=False)
    train = secondary_frame.iloc[rows]
    pipe = build_pipeline(family, PARAMS[family], 0).fit(train, encode_target(train["class"]))
    return pipe, FastPredictor.from_pipeline(pipe)


def test_encoding_is_exactly_the_pipelines(
    fitted: tuple[Pipeline, FastPredictor], secondary_frame: pd.DataFrame
) -> None:
    pipe, fast = fitted
    np.testing.assert_array_equal(fast.encode_frame(secondary_frame),
                                  pipe.named_steps["preprocess"].transform(secondary_frame))


def test_frame_path_equals_pipeline_on_all_rows(
    fitted: tuple[Pipeline, FastPredictor], secondary_frame: pd.DataFrame
) -> None:
    pipe, fast = fitted
    expected = pipe.predict_proba(secondary_frame)[:, 1]
    got = fast.predict_proba(secondary_frame)
    assert got.shape == (61_069,)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_row_path_equals_pipeline(fitted: tuple[Pipeline, FastPredictor], secondary_frame: pd.DataFrame) -> None:
    # Every 25th row (2,443 rows, all species) through the one-row dict path.
    pipe, fast = fitted
    sample = secondary_frame.iloc[::25]
    expected = pipe.predict_proba(sample)[:, 1]
    records = sample[list(FEATURES)].to_dict("records")
    got = np.array([fast.predict_one(r) for r in records])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fast.predict_proba(records[:50]), expected[:50], rtol=0, atol=1e-6)


def test_missing_unknown_and_empty_values_match_pipeline(
    fitted: tuple[Pipeline, FastPredictor], secondary_frame: pd.DataFrame
) -> None:
    pipe, fast = fitted
    base = secondary_frame[list(FEATURES)].iloc[:4].copy()
    base["cap_diameter"] = [np.nan, 5.0, 5.0, 5.0]  # missing numeric: NaN (trees) or median (LR)
    base["cap_shape"] = [None, "zz", "", "x"]  # missing, unseen level, empty string (also unseen)
    base["veil_type"] = [None, "u", None, "p"]
    expected = pipe.predict_proba(base)[:, 1]
    np.testing.assert_allclose(fast.predict_proba(base), expected, rtol=0, atol=1e-6)
    rows = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in base.to_dict("records")]
    np.testing.assert_allclose([fast.predict_one(r) for r in rows], expected, rtol=0, atol=1e-6)


def test_single_mapping_gives_one_probability(fitted: tuple[Pipeline, FastPredictor],
                                              secondary_frame: pd.DataFrame) -> None:
    _, fast = fitted
    row = secondary_frame[list(FEATURES)].iloc[0].to_dict()
    out = fast.predict_proba(row)
    assert out.shape == (1,) and 0.0 <= out[0] <= 1.0


def test_row_missing_a_key_is_refused(fitted: tuple[Pipeline, FastPredictor], secondary_frame: pd.DataFrame) -> None:
    _, fast = fitted
    row = secondary_frame[list(FEATURES)].iloc[0].to_dict()
    del row["habitat"]
    with pytest.raises(InputError, match="habitat"):
        fast.predict_one(row)


def test_unfitted_pipeline_is_refused() -> None:
    with pytest.raises(InputError, match="fit it first"):
        FastPredictor.from_pipeline(build_pipeline("xgb", {}, 0))
