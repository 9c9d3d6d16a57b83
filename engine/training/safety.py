"""The safety threshold: when a P(poisonous) is low enough to say ``edible``, calibrated on unseen species.

The decision has three outcomes. ``edible`` only when ``p < t_low``; ``poisonous`` when
``p >= t_high``; anything between is ``uncertain - do not eat``. Only ``t_low`` matters for
safety (a wrong ``poisonous`` costs a meal, a wrong ``edible`` can cost a life), so
``t_high`` is fixed at 0.5 (or ``t_low`` if that is larger) and only ``t_low`` is calibrated.

``t_low`` is calibrated on out-of-fold scores from species-held-out cross-validation, so
every score comes from a model that never saw that species. Two guarantees are offered:

``"empirical"``
    The largest ``t_low`` such that at most ``max_false_edible_rate`` of the poisonous OOF
    rows score below it. It holds exactly on the calibration data; it is optimistic for a
    new species because it uses no finite-sample correction.
``"species_conformal"`` (default)
    Conformal risk control (Angelopoulos et al. 2022) with the species as the exchangeable
    unit. For poisonous species g = 1..n let ``L_g(t)`` be the share of g's rows scoring
    below t (bounded by 1, non-decreasing in t). Choosing the largest t with
    ``(sum_g L_g(t) + 1) / (n + 1) <= alpha`` guarantees that the expected false-edible rate
    of a new poisonous species, exchangeable with the calibration species, is at most alpha.
    The ``+1`` is the finite-sample correction: even with no error on the calibration
    species, alpha must be at least ``1 / (n + 1)``. With fewer than ``1/alpha - 1``
    poisonous species the bound cannot be met by any threshold; then ``t_low = 0``
    (nothing is called edible) and ``feasible`` is False. The row-level empirical bound is
    enforced as well, so it also holds on the calibration data.

Caveats: the OOF scores come from the fold models, the served model is refit on all rows
(the usual cross-conformal approximation), and the species of this data set are simulated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from engine.errors import InputError
from engine.training.metrics import encode_target

EDIBLE = "edible"
POISONOUS = "poisonous"
UNCERTAIN = "uncertain - do not eat"
LABELS: tuple[str, ...] = (EDIBLE, UNCERTAIN, POISONOUS)

METHODS: tuple[str, ...] = ("species_conformal", "empirical")
DEFAULT_MAX_FALSE_EDIBLE_RATE = 0.01
DEFAULT_T_HIGH = 0.5


@dataclass(frozen=True)
class SafetyThreshold:
    """Calibrated decision thresholds on P(poisonous), with what they achieve on the calibration data.

    ``coverage`` is the share of truly edible rows that get a confident ``edible``;
    ``false_edible_rate`` the share of truly poisonous rows that get ``edible`` (row level);
    ``species_false_edible_rate`` the same averaged over poisonous species;
    ``conformal_bound`` is ``(n_species * species_false_edible_rate + 1) / (n_species + 1)``,
    the finite-sample bound on a new species' expected false-edible rate;
    ``min_certifiable_rate`` = ``1 / (n_species + 1)`` is the smallest alpha the species
    conformal method can ever certify with this many poisonous species.
    """

    t_low: float
    t_high: float
    max_false_edible_rate: float
    method: str
    feasible: bool
    coverage: float
    false_edible_rate: float
    species_false_edible_rate: float
    conformal_bound: float
    min_certifiable_rate: float
    n_poisonous_rows: int
    n_edible_rows: int
    n_poisonous_species: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SafetyThreshold:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def decide(p_poisonous: np.ndarray | Sequence[float], threshold: SafetyThreshold | tuple[float, float]) -> np.ndarray:
    """Three-way decision per row: ``EDIBLE`` if p < t_low, ``POISONOUS`` if p >= t_high, else ``UNCERTAIN``.

    Parameters
    ----------
    p_poisonous : array-like of float
        P(poisonous) per row.
    threshold : SafetyThreshold or (t_low, t_high)
        Thresholds with ``t_low <= t_high``.

    Returns
    -------
    numpy.ndarray of str
        One of ``LABELS`` per row. A NaN score is ``UNCERTAIN``.
    """
    if isinstance(threshold, SafetyThreshold):
        t_low, t_high = threshold.t_low, threshold.t_high
    else:
        t_low, t_high = (float(v) for v in threshold)
    if t_low > t_high:
        raise InputError(f"t_low ({t_low}) is above t_high ({t_high}); pass t_low <= t_high.")
    p = np.asarray(p_poisonous, dtype=np.float64)
    out = np.full(p.shape, UNCERTAIN, dtype=object)
    out[p < t_low] = EDIBLE
    out[p >= t_high] = POISONOUS
    return out.astype(str)


def calibrate_threshold(
    p_poisonous: np.ndarray | Sequence[float],
    y_true: np.ndarray | Sequence[Any],
    groups: np.ndarray | Sequence[Any],
    max_false_edible_rate: float = DEFAULT_MAX_FALSE_EDIBLE_RATE,
    *,
    method: str = "species_conformal",
    t_high: float = DEFAULT_T_HIGH,
) -> SafetyThreshold:
    """Largest ``t_low`` whose false-edible rate on unseen species is at most ``max_false_edible_rate``.

    Parameters
    ----------
    p_poisonous : array-like of float
        Out-of-fold P(poisonous) from species-held-out CV (each row scored by a model that
        did not see its species).
    y_true : array-like
        Truth, ``"p"``/``"e"`` or 1/0.
    groups : array-like
        Species id per row.
    max_false_edible_rate : float, default 0.01
        Target alpha in (0, 1).
    method : {"species_conformal", "empirical"}
        See the module docstring.
    t_high : float, default 0.5
        Lower end of ``poisonous``; raised to ``t_low`` if that is larger.

    Returns
    -------
    SafetyThreshold

    Raises
    ------
    InputError
        On bad lengths, NaN scores, alpha outside (0, 1), an unknown method, or no poisonous rows.
    """
    if method not in METHODS:
        raise InputError(f"Unknown calibration method {method!r}; choose one of {list(METHODS)}.")
    alpha = float(max_false_edible_rate)
    if not 0.0 < alpha < 1.0:
        raise InputError(f"max_false_edible_rate must be in (0, 1), got {max_false_edible_rate!r}.")
    p = np.asarray(p_poisonous, dtype=np.float64).ravel()
    y = encode_target(y_true)
    g = np.asarray(groups).ravel()
    if not (p.size == y.size == g.size):
        raise InputError(f"Lengths differ: {p.size} scores, {y.size} labels, {g.size} groups.")
    if not np.all(np.isfinite(p)):
        raise InputError("Scores hold NaN or infinite values; calibrate on complete out-of-fold predictions.")
    pois = y == 1
    if not pois.any():
        raise InputError("No poisonous rows: the false-edible rate cannot be calibrated.")

    ps = p[pois]
    _, gid = np.unique(g[pois], return_inverse=True)
    sizes = np.bincount(gid)
    n_species = int(sizes.size)
    order = np.argsort(ps, kind="stable")
    sorted_ps = ps[order]
    # Candidates: t = each distinct poisonous score (rows equal to t are not called edible),
    # plus "everything edible". Counts of p < t are then exact at each candidate.
    cand = np.append(np.unique(sorted_ps), np.nextafter(1.0, 2.0) if sorted_ps[-1] <= 1.0 else np.inf)
    below = np.searchsorted(sorted_ps, cand, side="left")
    row_rate = below / ps.size
    species_weight = np.concatenate([[0.0], np.cumsum(1.0 / sizes[gid[order]])])
    species_rate = species_weight[below] / n_species
    bound = (species_weight[below] + 1.0) / (n_species + 1)

    ok = row_rate <= alpha
    if method == "species_conformal":
        ok &= bound <= alpha + 1e-12
    feasible = bool(ok.any())
    if feasible:
        i = int(np.flatnonzero(ok).max())  # all three rates are non-decreasing in t
        t_low = float(cand[i])
        fe, sfe, cb = float(row_rate[i]), float(species_rate[i]), float(bound[i])
    else:
        t_low, fe, sfe, cb = 0.0, 0.0, 0.0, 1.0 / (n_species + 1)
    edible_p = p[~pois]
    coverage = float(np.mean(edible_p < t_low)) if edible_p.size else 0.0
    return SafetyThreshold(
        t_low=t_low,
        t_high=float(max(t_high, t_low)),
        max_false_edible_rate=alpha,
        method=method,
        feasible=feasible,
        coverage=coverage,
        false_edible_rate=fe,
        species_false_edible_rate=sfe,
        conformal_bound=cb,
        min_certifiable_rate=1.0 / (n_species + 1),
        n_poisonous_rows=int(ps.size),
        n_edible_rows=int(edible_p.size),
        n_poisonous_species=n_species,
    )
