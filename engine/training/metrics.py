"""Binary classification metrics with poisonous (``p``) as the positive class."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from engine.errors import InputError

#: Class codes of the target column, as in ``engine.dataset.CODES["class"]``.
POSITIVE_LABEL = "p"
NEGATIVE_LABEL = "e"

#: Scalar metric names, in the order reports show them.
SCALAR_METRICS: tuple[str, ...] = (
    "accuracy", "precision", "recall_poisonous", "f1", "f2", "roc_auc", "false_edible_rate",
)


def encode_target(y: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Target as ``int8`` with 1 = poisonous, 0 = edible.

    Parameters
    ----------
    y : array-like
        Class codes ``"p"``/``"e"``, or already 0/1 (ints or bools).

    Returns
    -------
    numpy.ndarray
        One ``int8`` per row.

    Raises
    ------
    InputError
        If a value is neither a class code nor 0/1, or is missing.
    """
    arr = np.asarray(y, dtype=object).ravel()
    if arr.size == 0:
        return np.zeros(0, dtype=np.int8)
    mapping: dict[Any, int] = {POSITIVE_LABEL: 1, NEGATIVE_LABEL: 0, 1: 1, 0: 0}  # True/False hash as 1/0
    out = np.empty(arr.size, dtype=np.int8)
    for i, value in enumerate(arr):
        key = value.item() if isinstance(value, np.generic) else value
        try:
            out[i] = mapping[key]
        except (KeyError, TypeError):
            raise InputError(
                f"Target value {value!r} at row {i} is not a class code: use 'p' (poisonous) or 'e' (edible), "
                "or 1/0.",
                code="bad_target",
            ) from None
    return out


@dataclass(frozen=True)
class Metrics:
    """Metrics of one set of predictions; positive class = poisonous.

    ``false_edible_rate`` is the share of truly poisonous rows called edible, FN / (TP + FN),
    i.e. ``1 - recall_poisonous``: the error that can poison someone. The confusion matrix
    has rows = truth (edible, poisonous) and columns = prediction (edible, poisonous).
    ``roc_auc`` is NaN when only one class is present.
    """

    n: int
    threshold: float
    accuracy: float
    precision: float
    recall_poisonous: float
    f1: float
    f2: float
    roc_auc: float
    false_edible_rate: float
    tn: int
    fp: int
    fn: int
    tp: int

    @property
    def confusion_matrix(self) -> np.ndarray:
        """``[[TN, FP], [FN, TP]]``: rows truth (e, p), columns prediction (e, p)."""
        return np.array([[self.tn, self.fp], [self.fn, self.tp]], dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (NaN stays ``float('nan')``; ``json`` writes it as ``NaN``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metrics:
        """Inverse of :meth:`to_dict`."""
        names = {f.name for f in fields(cls)}
        missing = names - set(data)
        if missing:
            raise InputError(f"Metrics dict lacks {sorted(missing)}.", code="bad_metrics")
        ints = {"n", "tn", "fp", "fn", "tp"}
        values: dict[str, Any] = {k: (int(data[k]) if k in ints else float(data[k])) for k in names}
        return cls(**values)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def _f_beta(precision: float, recall: float, beta: float) -> float:
    b2 = beta * beta
    den = b2 * precision + recall
    return float((1 + b2) * precision * recall / den) if den else 0.0


def compute_metrics(
    y_true: Sequence[Any] | np.ndarray,
    p_poisonous: Sequence[float] | np.ndarray,
    threshold: float = 0.5,
) -> Metrics:
    """Metrics of scores ``p_poisonous`` against ``y_true``, calling poisonous when ``p >= threshold``.

    Parameters
    ----------
    y_true : array-like
        Truth as ``"p"``/``"e"`` or 1/0 (1 = poisonous).
    p_poisonous : array-like of float
        Estimated P(poisonous) per row; used for ROC AUC and, thresholded, for the rest.
    threshold : float, default 0.5
        A row is predicted poisonous when its score is at least this.

    Returns
    -------
    Metrics
        Precision, recall and F-scores are 0.0 when their denominator is 0 (as sklearn's
        ``zero_division=0``); ``roc_auc`` is NaN when ``y_true`` holds one class only.

    Raises
    ------
    InputError
        If the lengths differ, the input is empty or a score is not finite.
    """
    y = encode_target(y_true)
    s = np.asarray(p_poisonous, dtype=np.float64).ravel()
    if y.size != s.size:
        raise InputError(f"y_true has {y.size} rows but p_poisonous has {s.size}; pass one score per row.")
    if y.size == 0:
        raise InputError("No rows to score: pass at least one prediction.")
    if not np.all(np.isfinite(s)):
        raise InputError("p_poisonous holds NaN or infinite values; pass probabilities in [0, 1].")
    pred = s >= threshold
    truth = y == 1
    tp = int(np.sum(pred & truth))
    fp = int(np.sum(pred & ~truth))
    fn = int(np.sum(~pred & truth))
    tn = int(np.sum(~pred & ~truth))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    both_classes = 0 < int(truth.sum()) < truth.size
    return Metrics(
        n=int(y.size),
        threshold=float(threshold),
        accuracy=_ratio(tp + tn, y.size),
        precision=precision,
        recall_poisonous=recall,
        f1=_f_beta(precision, recall, 1.0),
        f2=_f_beta(precision, recall, 2.0),
        roc_auc=float(roc_auc_score(truth, s)) if both_classes else float("nan"),
        false_edible_rate=_ratio(fn, tp + fn),
        tn=tn,
        fp=fp,
        fn=fn,
        tp=tp,
    )
