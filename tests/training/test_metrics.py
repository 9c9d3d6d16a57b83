"""Metrics against numbers computed by hand on tiny arrays, and against sklearn."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn import metrics as skm

from engine.errors import InputError
from engine.training.metrics import Metrics, compute_metrics, encode_target

# 4 poisonous, 6 edible. At threshold 0.5: TP=3 (0.9, 0.8, 0.6), FN=1 (0.3),
# FP=2 (0.7, 0.55), TN=4 (0.1, 0.2, 0.4, 0.45).
Y = ["p", "p", "p", "p", "e", "e", "e", "e", "e", "e"]
S = [0.9, 0.8, 0.6, 0.3, 0.7, 0.55, 0.1, 0.2, 0.4, 0.45]


def test_confusion_counts_by_hand() -> None:
    m = compute_metrics(Y, S)
    assert (m.tn, m.fp, m.fn, m.tp) == (4, 2, 1, 3)
    assert m.confusion_matrix.tolist() == [[4, 2], [1, 3]]
    assert m.n == 10


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("accuracy", 7 / 10, id="accuracy=(TP+TN)/n=7/10"),
        pytest.param("precision", 3 / 5, id="precision=TP/(TP+FP)=3/5"),
        pytest.param("recall_poisonous", 3 / 4, id="recall=TP/(TP+FN)=3/4"),
        pytest.param("false_edible_rate", 1 / 4, id="false_edible=FN/(TP+FN)=1/4"),
        pytest.param("f1", 2 * 0.6 * 0.75 / (0.6 + 0.75), id="f1=2PR/(P+R)"),
        pytest.param("f2", 5 * 0.6 * 0.75 / (4 * 0.6 + 0.75), id="f2=5PR/(4P+R)"),
        # AUC = share of (p, e) pairs ranked right: 0.9 and 0.8 beat all 6 edible, 0.6 beats 5
        # (all but 0.7), 0.3 beats 2 (0.1, 0.2) -> (6 + 6 + 5 + 2) / 24.
        pytest.param("roc_auc", 19 / 24, id="roc_auc=19/24-pairs"),
    ],
)
def test_scalar_by_hand(name: str, expected: float) -> None:
    assert getattr(compute_metrics(Y, S), name) == pytest.approx(expected)


def test_threshold_moves_the_cut() -> None:
    m = compute_metrics(Y, S, threshold=0.35)  # now 0.4 and 0.45 are poisonous too; 0.3 still edible
    assert (m.tn, m.fp, m.fn, m.tp) == (2, 4, 1, 3)


@pytest.mark.parametrize("seed", [0, 1, 2, 3], ids=lambda s: f"random-seed{s}")
def test_agrees_with_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 200)
    s = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)
    m = compute_metrics(y, s)
    pred = (s >= 0.5).astype(int)
    assert m.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    assert m.precision == pytest.approx(skm.precision_score(y, pred, zero_division=0))
    assert m.recall_poisonous == pytest.approx(skm.recall_score(y, pred))
    assert m.f1 == pytest.approx(skm.f1_score(y, pred))
    assert m.f2 == pytest.approx(skm.fbeta_score(y, pred, beta=2))
    assert m.roc_auc == pytest.approx(skm.roc_auc_score(y, s))
    assert m.confusion_matrix.tolist() == skm.confusion_matrix(y, pred, labels=[0, 1]).tolist()
    assert m.false_edible_rate == pytest.approx(1 - m.recall_poisonous)


def test_zero_division_and_single_class() -> None:
    m = compute_metrics(["p", "p"], [0.1, 0.2])  # nothing called poisonous, one class only
    assert (m.precision, m.recall_poisonous, m.f1, m.f2, m.false_edible_rate) == (0.0, 0.0, 0.0, 0.0, 1.0)
    assert math.isnan(m.roc_auc)
    e = compute_metrics(["e", "e"], [0.1, 0.9])
    assert e.false_edible_rate == 0.0 and e.fp == 1


def test_round_trip_through_json() -> None:
    m = compute_metrics(Y, S)
    again = Metrics.from_dict(json.loads(json.dumps(m.to_dict())))
    assert again == m


@pytest.mark.parametrize(
    ("y", "s", "code"),
    [
        pytest.param(["p", "x"], [0.1, 0.2], "bad_target", id="unknown-class-code"),
        pytest.param(["p", None], [0.1, 0.2], "bad_target", id="missing-class"),
        pytest.param(["p", "e"], [0.1], "input_error", id="length-mismatch"),
        pytest.param([], [], "input_error", id="empty"),
        pytest.param(["p", "e"], [0.1, float("nan")], "input_error", id="nan-score"),
    ],
)
def test_bad_input_raises(y: list, s: list, code: str) -> None:
    with pytest.raises(InputError) as info:
        compute_metrics(y, s)
    assert info.value.code == code


def test_encode_target_accepts_codes_and_01() -> None:
    assert encode_target(["p", "e", 1, 0, True, np.int64(0)]).tolist() == [1, 0, 1, 0, 1, 0]
