"""The species-held-out experiments behind docs/evaluation.md, re-runnable with ``python -m engine.training.experiments``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.training.evaluation import grouped_cv
from engine.training.metrics import encode_target
from engine.training.safety import calibrate_threshold

_HEAVY_MISSING = ("stem_root", "veil_type", "veil_color", "spore_print_color", "stem_surface", "gill_spacing")
_XGB_REG = {"max_depth": 4, "n_estimators": 300, "learning_rate": 0.03, "min_child_weight": 100.0,
            "reg_lambda": 100.0, "colsample_bytree": 0.3}
_LIB = {  # library defaults, i.e. the "plain one-hot pipelines" of the reference figures
    "lr": {"C": 1.0}, "dt": {"min_samples_leaf": 1},
    "xgb": {"max_depth": 6, "n_estimators": 100, "learning_rate": 0.3, "min_child_weight": 1.0,
            "reg_lambda": 1.0, "colsample_bytree": 1.0},
}


@dataclass(frozen=True)
class Experiment:
    """One configuration to compare: a family and the params that differ from ``DEFAULT_PARAMS``."""

    name: str
    family: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExperimentResult:
    """Species-held-out figures of one experiment, averaged over CV seeds (``auc_sd``: across seeds)."""

    name: str
    family: str
    params: dict[str, Any]
    seeds: tuple[int, ...]
    accuracy: float
    recall_poisonous: float
    f2: float
    roc_auc: float
    auc_sd: float
    false_edible_rate: float
    coverage_1pct: float
    coverage_5pct: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


#: What was tried, in the order of docs/evaluation.md.
EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("lr library (C=1)", "lr", _LIB["lr"]),
    Experiment("lr C=0.1", "lr", {"C": 0.1}),
    Experiment("lr C=0.01", "lr", {"C": 0.01}),
    Experiment("lr C=0.001 (default)", "lr", {}),
    Experiment("lr C=0.0003", "lr", {"C": 0.0003}),
    Experiment("lr C=0.001 balanced", "lr", {"class_weight": "balanced"}),
    Experiment("lr C=0.001 -heavy-missing", "lr", {"exclude_features": _HEAVY_MISSING}),
    Experiment("lr C=0.001 -numerics", "lr", {"exclude_features": ("cap_diameter", "stem_height", "stem_width")}),
    Experiment("dt library (leaf=1)", "dt", _LIB["dt"]),
    Experiment("dt depth=3", "dt", {"min_samples_leaf": 1, "max_depth": 3}),
    Experiment("dt leaf=300", "dt", {"min_samples_leaf": 300}),
    Experiment("dt leaf=1000", "dt", {"min_samples_leaf": 1000}),
    Experiment("dt leaf=2000 (default)", "dt", {}),
    Experiment("dt leaf=4000", "dt", {"min_samples_leaf": 4000}),
    Experiment("xgb library (d6, 100x0.3)", "xgb", _LIB["xgb"]),
    Experiment("xgb stumps (d1, 200x0.1)", "xgb", {**_LIB["xgb"], "max_depth": 1, "n_estimators": 200,
                                                   "learning_rate": 0.1}),
    Experiment("xgb d2 100x0.1 mcw500", "xgb", {**_LIB["xgb"], "max_depth": 2, "learning_rate": 0.1,
                                                "min_child_weight": 500.0}),
    Experiment("xgb d4 300x0.03 mcw100 l2=100 col.3 (default)", "xgb", {}),
    Experiment("xgb default + subsample .5, mcw300", "xgb", {"subsample": 0.5, "min_child_weight": 300.0}),
    Experiment("xgb default, col.1", "xgb", {"colsample_bytree": 0.1}),
    Experiment("xgb default -heavy-missing", "xgb", {"exclude_features": _HEAVY_MISSING}),
    Experiment("xgb default, scale_pos_weight 3", "xgb", {"scale_pos_weight": 3.0}),
)
assert all(e.family != "xgb" or not e.params or set(e.params) <= set(_XGB_REG) | {
    "subsample", "exclude_features", "scale_pos_weight"} for e in EXPERIMENTS)


def run_experiment(
    experiment: Experiment,
    X: pd.DataFrame,
    y: Sequence[Any] | np.ndarray,
    groups: Sequence[Any] | np.ndarray,
    seeds: Sequence[int] = (0, 1, 2),
    n_folds: int = 5,
) -> ExperimentResult:
    """Species-held-out CV of one experiment for each seed; figures averaged over seeds.

    Parameters
    ----------
    experiment : Experiment
        Family and params.
    X, y, groups
        As in ``engine.training.evaluation.evaluate``.
    seeds : sequence of int
        One grouped CV (different fold assignment and model seed) per seed.
    n_folds : int, default 5
        Folds per CV.

    Returns
    -------
    ExperimentResult
        Per-fold means of accuracy/recall/F2/false-edible rate, pooled OOF ROC AUC, and the
        coverage of the empirical 1% and 5% false-edible thresholds on the OOF scores.
    """
    start = time.perf_counter()
    y01 = encode_target(y)
    rows = []
    for seed in seeds:
        cv = grouped_cv(experiment.family, experiment.params, X, y01, groups, seed, n_folds)
        cov = [calibrate_threshold(cv.oof_proba, y01, groups, a, method="empirical").coverage for a in (0.01, 0.05)]
        rows.append([cv.mean["accuracy"], cv.mean["recall_poisonous"], cv.mean["f2"], cv.pooled.roc_auc,
                     cv.mean["false_edible_rate"], *cov])
    table = np.array(rows)
    m = table.mean(axis=0)
    return ExperimentResult(
        name=experiment.name, family=experiment.family, params=dict(experiment.params), seeds=tuple(seeds),
        accuracy=float(m[0]), recall_poisonous=float(m[1]), f2=float(m[2]), roc_auc=float(m[3]),
        auc_sd=float(table[:, 3].std(ddof=1)) if len(seeds) > 1 else 0.0, false_edible_rate=float(m[4]),
        coverage_1pct=float(m[5]), coverage_5pct=float(m[6]), seconds=time.perf_counter() - start,
    )


def format_row(r: ExperimentResult) -> str:
    """One markdown table row."""
    return (f"| {r.name} | {r.accuracy:.3f} | {r.recall_poisonous:.3f} | {r.f2:.3f} | {r.roc_auc:.3f} ± "
            f"{r.auc_sd:.3f} | {r.false_edible_rate:.3f} | {r.coverage_1pct:.3f} | {r.coverage_5pct:.3f} |")


def main(argv: Sequence[str] | None = None, experiments: Mapping[str, Experiment] | None = None) -> int:
    """Run the experiments on the UCI file and print a markdown table."""
    from engine.training.data import block_species, read_secondary_csv

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="../shared/data/secondary_data.csv")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="*", default=None, help="substrings of experiment names to run")
    args = parser.parse_args(argv)
    frame = read_secondary_csv(args.data)
    groups = block_species(len(frame))
    chosen = [e for e in (experiments or {e.name: e for e in EXPERIMENTS}).values()
              if not args.only or any(s in e.name for s in args.only)]
    print("| experiment | accuracy | recall_p | F2 | ROC AUC ± sd | false-edible @0.5 | coverage @1% | coverage @5% |")
    print("|---|---|---|---|---|---|---|---|")
    for exp in chosen:
        print(format_row(run_experiment(exp, frame, frame["class"], groups, args.seeds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
