"""Reading the UCI secondary mushroom CSV into a training frame, and stand-in species ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.dataset import COLUMNS, NUMERIC, normalise_column_name
from engine.errors import InputError

#: The UCI file was simulated as this many consecutive rows per species (173 species, in order).
ROWS_PER_SPECIES = 353


def read_secondary_csv(path: str | Path) -> pd.DataFrame:
    """The secondary data set as a frame: canonical headers, ``""`` -> None, numerics as float.

    Parameters
    ----------
    path : str or Path
        ``secondary_data.csv`` (``;``-separated, empty field = missing).

    Returns
    -------
    pandas.DataFrame
        Columns ``engine.dataset.COLUMNS``, row order as in the file.

    Raises
    ------
    InputError
        If a column is missing or a numeric cell is not a number.
    """
    df = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
    df.columns = [normalise_column_name(c) for c in df.columns]
    absent = [c for c in COLUMNS if c not in df.columns]
    if absent:
        raise InputError(f"{path} lacks columns {absent}; is it the UCI secondary data set?", code="missing_columns")
    df = df[list(COLUMNS)].replace("", None)
    for col in NUMERIC:
        try:
            df[col] = df[col].astype(np.float64)
        except ValueError as exc:
            raise InputError(f"Column {col!r} of {path} holds a non-number: {exc}.", code="bad_number") from exc
    return df


def block_species(n_rows: int, block: int = ROWS_PER_SPECIES) -> np.ndarray:
    """Stand-in species id per row, ``row_index // block``, valid only for the UCI file in its own order."""
    return np.arange(n_rows, dtype=np.int64) // block
