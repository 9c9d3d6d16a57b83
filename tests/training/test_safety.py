"""Safety threshold: the false-edible bound holds where it was calibrated; decide() gives three labels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from engine.errors import InputError
from engine.training.evaluation import Evaluation
from engine.training.safety import (
    EDIBLE,
    LABELS,
    POISONOUS,
    UNCERTAIN,
    SafetyThreshold,
    calibrate_threshold,
    decide,
)


def _synthetic(seed: int, n_pois_species: int, n_edible_species: int, rows: int) -> tuple[np.ndarray, ...]:
    """Species-correlated scores: each species has its own centre, poisonous centres higher."""
    rng = np.random.default_rng(seed)
    n = n_pois_species + n_edible_species
    y_sp = np.r_[np.ones(n_pois_species, int), np.zeros(n_edible_species, int)]
    centre = np.clip(rng.normal(0.6 * y_sp + 0.2, 0.15), 0.01, 0.99)
    groups = np.repeat(np.arange(n), rows)
    p = np.clip(centre[groups] + rng.normal(0, 0.05, groups.size), 0, 1)
    return p, y_sp[groups], groups


def _brute_force(p: np.ndarray, y: np.ndarray, g: np.ndarray, alpha: float, conformal: bool) -> float:
    """Largest candidate t (any observed score, 0 or just above 1) meeting the bounds, by exhaustive search."""
    pois = y == 1
    species = np.unique(g[pois])
    best = 0.0
    for t in np.r_[0.0, np.unique(p), np.nextafter(1.0, 2.0)]:
        row_rate = np.mean(p[pois] < t)
        per_species = [np.mean(p[pois & (g == s)] < t) for s in species]
        ok = row_rate <= alpha
        if conformal:
            ok = ok and (np.sum(per_species) + 1) / (len(species) + 1) <= alpha + 1e-12
        if ok:
            best = max(best, float(t))
    return best


@pytest.mark.parametrize("method", ["empirical", "species_conformal"])
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2], ids=lambda a: f"alpha{a}")
def test_bound_holds_on_calibration_data(method: str, alpha: float) -> None:
    p, y, g = _synthetic(0, n_pois_species=150, n_edible_species=100, rows=20)
    th = calibrate_threshold(p, y, g, alpha, method=method)
    called_edible = decide(p, th) == EDIBLE
    assert np.mean(called_edible[y == 1]) == pytest.approx(th.false_edible_rate)
    assert th.false_edible_rate <= alpha
    assert th.coverage == pytest.approx(np.mean(called_edible[y == 0]))
    if method == "species_conformal" and th.feasible:
        assert th.conformal_bound <= alpha + 1e-12


@pytest.mark.parametrize("method", ["empirical", "species_conformal"])
@pytest.mark.parametrize("seed", [1, 2, 3], ids=lambda s: f"seed{s}")
def test_threshold_is_the_largest_that_meets_the_bound(method: str, seed: int) -> None:
    p, y, g = _synthetic(seed, n_pois_species=120, n_edible_species=60, rows=5)
    th = calibrate_threshold(p, y, g, 0.05, method=method)
    assert th.t_low == pytest.approx(_brute_force(p, y, g, 0.05, method == "species_conformal"))


def test_conformal_is_infeasible_with_too_few_species() -> None:
    # 96 poisonous species (as in the UCI file): 1/(96+1) > 0.01, so no threshold certifies 1%.
    p, y, g = _synthetic(4, n_pois_species=96, n_edible_species=77, rows=10)
    th = calibrate_threshold(p, y, g, 0.01, method="species_conformal")
    assert not th.feasible and th.t_low == 0.0 and th.coverage == 0.0
    assert th.min_certifiable_rate == pytest.approx(1 / 97)
    assert set(decide(p, th)) <= {UNCERTAIN, POISONOUS}
    assert calibrate_threshold(p, y, g, 0.011, method="species_conformal").feasible


def test_bound_holds_on_real_oof(small_evaluation: tuple[Evaluation, pd.DataFrame, np.ndarray, np.ndarray]) -> None:
    ev, _, y, groups = small_evaluation
    for alpha in (0.01, 0.05, 0.1):
        th = calibrate_threshold(ev.grouped.oof_proba, y, groups, alpha, method="empirical")
        fe = np.mean(decide(ev.grouped.oof_proba, th)[np.asarray(y) == "p"] == EDIBLE)
        assert fe <= alpha and fe == pytest.approx(th.false_edible_rate)


def test_decide_three_labels_and_boundaries() -> None:
    out = decide(np.array([0.0, 0.09, 0.1, 0.3, 0.5, 0.99, np.nan]), (0.1, 0.5))
    assert out.tolist() == [EDIBLE, EDIBLE, UNCERTAIN, UNCERTAIN, POISONOUS, POISONOUS, UNCERTAIN]
    assert set(out) == set(LABELS)


def test_decide_rejects_crossed_thresholds() -> None:
    with pytest.raises(InputError):
        decide([0.2], (0.6, 0.5))


def test_small_example_by_hand() -> None:
    # Poisonous rows score 0.3, 0.35 (species 2) and 0.9, 0.95 (species 3); edible 0.1, 0.2, 0.32, 0.6.
    p = np.array([0.1, 0.2, 0.32, 0.6, 0.3, 0.35, 0.9, 0.95])
    y = np.array(["e", "e", "e", "e", "p", "p", "p", "p"])
    g = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    th = calibrate_threshold(p, y, g, 0.25, method="empirical")  # one of 4 poisonous rows may be missed
    assert (th.t_low, th.t_high) == (0.35, 0.5)  # 0.3 < t; 0.35 is not < t
    assert th.false_edible_rate == 0.25 and th.species_false_edible_rate == 0.25
    assert th.coverage == 0.75  # 0.1, 0.2, 0.32 are edible and below 0.35
    assert th.conformal_bound == pytest.approx((0.5 + 0 + 1) / 3)
    strict = calibrate_threshold(p, y, g, 0.1, method="empirical")
    assert strict.t_low == 0.3 and strict.coverage == 0.5 and strict.false_edible_rate == 0.0
    loose = calibrate_threshold(p, y, g, 0.6, method="empirical")
    assert loose.t_low == 0.9 and loose.t_high == 0.9  # 2 of 4 missed; t_high is raised to t_low


def test_round_trip_through_json() -> None:
    p, y, g = _synthetic(6, n_pois_species=50, n_edible_species=50, rows=5)
    th = calibrate_threshold(p, y, g, 0.05)
    assert SafetyThreshold.from_dict(json.loads(json.dumps(th.to_dict()))) == th


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param({"max_false_edible_rate": 0.0}, "in \\(0, 1\\)", id="alpha-zero"),
        pytest.param({"method": "bayes"}, "Unknown calibration method", id="bad-method"),
    ],
)
def test_bad_arguments(kwargs: dict, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        calibrate_threshold([0.1, 0.9], ["e", "p"], [0, 1], **kwargs)


def test_needs_poisonous_rows() -> None:
    with pytest.raises(InputError, match="No poisonous rows"):
        calibrate_threshold([0.1, 0.2], ["e", "e"], [0, 1])
