"""Evaluation: species never straddle folds, same seed -> same figures, each model fit once, JSON round trip."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

import engine.training.evaluation as evaluation_module
from engine.errors import InputError
from engine.training.evaluation import Evaluation, evaluate, grouped_cv, grouped_folds
from engine.training.metrics import compute_metrics, encode_target

from .conftest import SMALL_XGB

Small = tuple[pd.DataFrame, np.ndarray]
SmallEvaluation = tuple[Evaluation, pd.DataFrame, np.ndarray, np.ndarray]


@pytest.mark.parametrize("seed", [0, 1, 42], ids=lambda s: f"seed{s}")
def test_no_species_on_both_sides_all_rows(secondary_frame: pd.DataFrame, species: np.ndarray, seed: int) -> None:
    y = encode_target(secondary_frame["class"])
    folds = grouped_folds(y, species, 5, seed)
    seen_in_test = np.zeros(len(y), dtype=int)
    for train, test in folds:
        assert not set(species[train]) & set(species[test])
        seen_in_test[test] += 1
    assert (seen_in_test == 1).all()  # every row is held out exactly once


def test_oof_fold_is_constant_within_a_species(small_evaluation: SmallEvaluation) -> None:
    ev, _, _, groups = small_evaluation
    per_species = pd.Series(ev.grouped.oof_fold).groupby(groups).nunique()
    assert (per_species == 1).all()
    assert set(ev.grouped.oof_fold) == set(range(5))
    assert not np.isnan(ev.grouped.oof_proba).any()


def test_figures_are_consistent(small_evaluation: SmallEvaluation) -> None:
    ev, frame, y, groups = small_evaluation
    assert ev.n_rows == len(frame) and ev.n_groups == 173
    assert ev.holdout.n_test == pytest.approx(0.2 * len(frame), abs=1)
    assert ev.grouped.pooled == compute_metrics(y, ev.grouped.oof_proba)
    for k, fold in enumerate(ev.grouped.folds):
        mask = ev.grouped.oof_fold == k
        assert fold == compute_metrics(y[mask], ev.grouped.oof_proba[mask])
    accs = [m.accuracy for m in ev.grouped.folds]
    assert ev.grouped.mean["accuracy"] == pytest.approx(np.mean(accs))
    assert ev.grouped.std["accuracy"] == pytest.approx(np.std(accs, ddof=1))
    assert ev.pipeline is not None and ev.final_fit_on.startswith("all rows")
    # The random split is far more optimistic than species held out: the known leak.
    assert ev.holdout.metrics.accuracy > ev.grouped.pooled.accuracy + 0.1


@pytest.mark.parametrize("family", ["lr", "dt", "xgb"])
def test_same_data_and_seed_give_same_figures(small: Small, family: str) -> None:
    frame, groups = small
    params: dict[str, Any] = {"lr": {}, "dt": {"min_samples_leaf": 200}, "xgb": SMALL_XGB}[family]
    a = evaluate(family, params, frame, frame["class"], groups, random_state=3, fit_final=False)
    b = evaluate(family, params, frame, frame["class"], groups, random_state=3, fit_final=False)
    assert a.to_dict() == b.to_dict()
    np.testing.assert_array_equal(a.grouped.oof_proba, b.grouped.oof_proba)


def test_different_seed_gives_different_folds(small: Small) -> None:
    frame, groups = small
    y = encode_target(frame["class"])
    first = [tuple(sorted(set(groups[te]))) for _, te in grouped_folds(y, groups, 5, 0)]
    other = [tuple(sorted(set(groups[te]))) for _, te in grouped_folds(y, groups, 5, 1)]
    assert sorted(first) != sorted(other)


def test_each_model_is_fit_exactly_once(small: Small, monkeypatch: pytest.MonkeyPatch) -> None:
    frame, groups = small
    calls: list[int] = []
    real = evaluation_module.build_pipeline

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation_module, "build_pipeline", counting)
    evaluate("dt", {"min_samples_leaf": 200}, frame, frame["class"], groups, 0, n_folds=4)
    assert len(calls) == 1 + 4 + 1  # hold-out, 4 folds, final


def test_json_round_trip(small_evaluation: SmallEvaluation) -> None:
    ev = small_evaluation[0]
    again = Evaluation.from_dict(json.loads(json.dumps(ev.to_dict())))
    assert again == ev
    assert again.pipeline is None
    np.testing.assert_array_equal(again.grouped.oof_proba, ev.grouped.oof_proba)
    np.testing.assert_array_equal(again.grouped.oof_fold, ev.grouped.oof_fold)


def test_oof_arrays_are_read_only(small_evaluation: SmallEvaluation) -> None:
    with pytest.raises(ValueError):
        small_evaluation[0].grouped.oof_proba[0] = 0.5


def test_grouped_cv_matches_evaluate(small: Small, small_evaluation: SmallEvaluation) -> None:
    frame, groups = small
    cv = grouped_cv("xgb", SMALL_XGB, frame, frame["class"], groups, 0)
    np.testing.assert_array_equal(cv.oof_proba, small_evaluation[0].grouped.oof_proba)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        pytest.param("few_groups", "groups for 5 folds", id="too-few-species"),
        pytest.param("short_groups", "Lengths differ", id="length-mismatch"),
        pytest.param("no_column", "lacks feature columns", id="missing-column"),
        pytest.param("one_class", "one class only", id="single-class"),
    ],
)
def test_bad_input_raises(small: Small, change: str, fragment: str) -> None:
    frame, groups = small
    y = frame["class"]
    if change == "few_groups":
        groups = groups % 3
    elif change == "short_groups":
        groups = groups[:-1]
    elif change == "no_column":
        frame = frame.drop(columns=["season"])
    else:
        y = pd.Series(["p"] * len(frame))
    with pytest.raises(InputError, match=fragment):
        evaluate("dt", {}, frame, y, groups, 0)
