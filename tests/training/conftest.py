"""Fixtures of the training tests: the real secondary file read once, stand-in species ids, a small subsample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.training.data import ROWS_PER_SPECIES, block_species, read_secondary_csv
from engine.training.evaluation import Evaluation, evaluate

#: Rows kept per species in the subsample: all 173 species, ~11% of the rows.
ROWS_PER_SPECIES_SMALL = 40


@pytest.fixture(scope="session")
def secondary_frame(secondary_path: Path) -> pd.DataFrame:
    """All 61,069 rows of secondary_data.csv (read-only by convention: copy before changing)."""
    return read_secondary_csv(secondary_path)


@pytest.fixture(scope="session")
def species(secondary_frame: pd.DataFrame) -> np.ndarray:
    """Stand-in species id per row (row // 353)."""
    return block_species(len(secondary_frame))


@pytest.fixture(scope="session")
def small(secondary_frame: pd.DataFrame, species: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The first 40 rows of every species (6,920 rows, 173 groups) and their species ids.

    Rows of a species are simulated independently, so the first 40 are a fair sample; the
    properties tested on it (reproducibility, fold disjointness, bookkeeping) do not need all rows.
    """
    keep = (np.arange(len(secondary_frame)) % ROWS_PER_SPECIES) < ROWS_PER_SPECIES_SMALL
    return secondary_frame[keep].reset_index(drop=True), species[keep]


#: Light XGBoost settings for tests that check bookkeeping rather than model quality.
SMALL_XGB = {"n_estimators": 30, "max_depth": 3, "min_child_weight": 10.0}


@pytest.fixture(scope="session")
def small_evaluation(
    small: tuple[pd.DataFrame, np.ndarray],
) -> tuple[Evaluation, pd.DataFrame, np.ndarray, np.ndarray]:
    """``evaluate("xgb", SMALL_XGB, ...)`` on the subsample, seed 0, with its X, y and groups."""
    frame, groups = small
    y = frame["class"].to_numpy(dtype=object)
    return evaluate("xgb", SMALL_XGB, frame, y, groups, random_state=0), frame, y, groups
