"""Pandera contracts for each stage of the data, and their failures turned into report lines.

- :class:`RawMushrooms` (initial validation): the columns, no unknown columns, numbers that
  parse, codes that look like codes. Applied to the file's strings.
- :class:`StagedMushrooms` (detailed validation): allowed codes, ranges, missing values only
  where the real data has them, and rules across columns. Applied to the typed staged rows.

Every cross-column rule below was checked against ../shared/data/secondary_data.csv, where it
holds on all 61,069 rows (tests/ingest/test_schemas.py re-checks this).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from engine import dataset
from engine.ingest.sources import Failure, clip

CODE_FORMAT = r"^[a-z?]$"
CODE_FORMAT_CHECK = "format: one lower-case letter or '?'"


def _code(column: str, **kwargs: Any) -> Any:
    return pa.Field(nullable=True, str_matches=CODE_FORMAT, **kwargs)


class RawMushrooms(pa.DataFrameModel):
    """The file as read (all strings): presence, types and format, nothing about meaning."""

    class_: Series[str] = pa.Field(alias="class", nullable=True, str_matches=CODE_FORMAT)
    cap_diameter: Series[float] = pa.Field(nullable=True, coerce=True)
    cap_shape: Series[str] = _code("cap_shape")
    cap_surface: Series[str] = _code("cap_surface")
    cap_color: Series[str] = _code("cap_color")
    does_bruise_or_bleed: Series[str] = _code("does_bruise_or_bleed")
    gill_attachment: Series[str] = _code("gill_attachment")
    gill_spacing: Series[str] = _code("gill_spacing")
    gill_color: Series[str] = _code("gill_color")
    stem_height: Series[float] = pa.Field(nullable=True, coerce=True)
    stem_width: Series[float] = pa.Field(nullable=True, coerce=True)
    stem_root: Series[str] = _code("stem_root")
    stem_surface: Series[str] = _code("stem_surface")
    stem_color: Series[str] = _code("stem_color")
    veil_type: Series[str] = _code("veil_type")
    veil_color: Series[str] = _code("veil_color")
    has_ring: Series[str] = _code("has_ring")
    ring_type: Series[str] = _code("ring_type")
    spore_print_color: Series[str] = _code("spore_print_color")
    habitat: Series[str] = _code("habitat")
    season: Series[str] = _code("season")

    class Config:
        strict = True  # a column that is not in the data set is refused, never ignored
        name = "raw mushroom file"


def _allowed(column: str) -> Any:
    return pa.Field(nullable=column not in dataset.REQUIRED, isin=sorted(dataset.CODES[column]))


def _measured(column: str) -> Any:
    r = dataset.RANGES[column]
    nullable = column not in dataset.REQUIRED
    if r.low_exclusive:
        return pa.Field(nullable=nullable, gt=r.low, le=r.high)
    return pa.Field(nullable=nullable, ge=r.low, le=r.high)


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    return a.eq(b).fillna(False).astype(bool) | (a.isna() & b.isna())


class StagedMushrooms(pa.DataFrameModel):
    """Typed staged rows: the meaning of every value, and the rules that tie columns together."""

    class_: Series[str] = pa.Field(alias="class", nullable=False, isin=["e", "p"])
    cap_diameter: Series[float] = _measured("cap_diameter")
    cap_shape: Series[str] = _allowed("cap_shape")
    cap_surface: Series[str] = _allowed("cap_surface")
    cap_color: Series[str] = _allowed("cap_color")
    does_bruise_or_bleed: Series[str] = _allowed("does_bruise_or_bleed")
    gill_attachment: Series[str] = _allowed("gill_attachment")
    gill_spacing: Series[str] = _allowed("gill_spacing")
    gill_color: Series[str] = _allowed("gill_color")
    stem_height: Series[float] = _measured("stem_height")
    stem_width: Series[float] = _measured("stem_width")
    stem_root: Series[str] = _allowed("stem_root")
    stem_surface: Series[str] = _allowed("stem_surface")
    stem_color: Series[str] = _allowed("stem_color")
    veil_type: Series[str] = _allowed("veil_type")
    veil_color: Series[str] = _allowed("veil_color")
    has_ring: Series[str] = _allowed("has_ring")
    ring_type: Series[str] = _allowed("ring_type")
    spore_print_color: Series[str] = _allowed("spore_print_color")
    habitat: Series[str] = _allowed("habitat")
    season: Series[str] = _allowed("season")

    class Config:
        strict = "filter"
        name = "staged mushrooms"

    @pa.dataframe_check(name="no stem: stem_height is 0 exactly when stem_width is 0")
    def stem_height_width(cls, df: pd.DataFrame) -> pd.Series:
        return _same(df["stem_height"].eq(0), df["stem_width"].eq(0))

    @pa.dataframe_check(name="no stem: stem_color is 'f' (none) exactly when stem_height is 0")
    def stem_color_none(cls, df: pd.DataFrame) -> pd.Series:
        return _same(df["stem_color"].eq("f"), df["stem_height"].eq(0))

    @pa.dataframe_check(name="no stem: stem_surface is 'f' (none) exactly when stem_height is 0")
    def stem_surface_none(cls, df: pd.DataFrame) -> pd.Series:
        return _same(df["stem_surface"].eq("f").fillna(False), df["stem_height"].eq(0))

    @pa.dataframe_check(name="no gills: gill_attachment, gill_spacing and gill_color are 'f' together")
    def gills_none(cls, df: pd.DataFrame) -> pd.Series:
        attachment = df["gill_attachment"].eq("f").fillna(False).astype(bool)
        spacing = df["gill_spacing"].eq("f").fillna(False).astype(bool)
        color = df["gill_color"].eq("f").fillna(False).astype(bool)
        return (attachment == spacing) & (spacing == color)

    @pa.dataframe_check(name="has_ring 'f' (none) requires ring_type 'f' or missing")
    def ring_none(cls, df: pd.DataFrame) -> pd.Series:
        return ~df["has_ring"].eq("f").fillna(False).astype(bool) | df["ring_type"].isna() | df["ring_type"].eq("f")

    @pa.dataframe_check(name="veil_type given requires veil_color given")
    def veil_color_given(cls, df: pd.DataFrame) -> pd.Series:
        return df["veil_type"].isna() | df["veil_color"].notna()


#: Which columns each cross-column rule reads, to show their values in the report.
RULE_COLUMNS: dict[str, tuple[str, ...]] = {
    "no stem: stem_height is 0 exactly when stem_width is 0": ("stem_height", "stem_width"),
    "no stem: stem_color is 'f' (none) exactly when stem_height is 0": ("stem_color", "stem_height"),
    "no stem: stem_surface is 'f' (none) exactly when stem_height is 0": ("stem_surface", "stem_height"),
    "no gills: gill_attachment, gill_spacing and gill_color are 'f' together":
        ("gill_attachment", "gill_spacing", "gill_color"),
    "has_ring 'f' (none) requires ring_type 'f' or missing": ("has_ring", "ring_type"),
    "veil_type given requires veil_color given": ("veil_type", "veil_color"),
}


def _check_text(check: str, column: str | None) -> str:
    if check.startswith("coerce_dtype") or check.startswith("dtype("):
        return "type: a number (e.g. 12.5, with a '.' for decimals)"
    if check.startswith("str_matches"):
        return CODE_FORMAT_CHECK
    if check == "column_in_dataframe":
        return "required column is missing"
    if check == "column_in_schema":
        return "unknown column (policy: refuse columns that are not in the data set)"
    if check == "not_nullable":
        return "missing value where the data set requires one"
    if check.startswith("isin"):
        codes = dataset.CODES.get(column or "", {})
        return "allowed codes: " + ", ".join(f"{k}={v}" for k, v in codes.items())[:240]
    if check.startswith(("greater_than", "less_than", "in_range")):
        r = dataset.RANGES.get(column or "")
        if r is not None:
            low = ">" if r.low_exclusive else ">="
            return f"range: {low} {r.low:g} and <= {r.high:g} {r.unit}"
    return check[:255]


def failures_from(error: pa.errors.SchemaErrors, frame: pd.DataFrame) -> list[Failure]:
    """Turn pandera's ``failure_cases`` into report lines (row is 1-based, as in the file)."""
    cases = error.failure_cases
    out: list[Failure] = []
    seen: set[tuple[object, ...]] = set()
    for case in cases.itertuples(index=False):
        check = str(case.check)
        column = None if case.column is None or pd.isna(case.column) else str(case.column)
        index = None if case.index is None or pd.isna(case.index) else int(case.index)
        if check in RULE_COLUMNS:
            names = RULE_COLUMNS[check]
            value = ", ".join(f"{n}={clip(frame.at[index, n], 20)}" for n in names) if index is not None else None
            item = Failure(None if index is None else index + 1, ",".join(names), value, check)
        elif case.schema_context in ("DataFrameSchema",):
            name = clip(case.failure_case, 60)
            item = Failure(None, name, None, _check_text(check, name))
        else:
            item = Failure(None if index is None else index + 1, column, clip(case.failure_case),
                           _check_text(check, column))
        key = (item.row, item.column, item.check)
        if key not in seen:
            seen.add(key)
            out.append(item)
    out.sort(key=lambda f: (f.row is not None, f.row or 0, f.column or ""))
    return out


def validate_raw(frame: pd.DataFrame) -> tuple[pd.DataFrame | None, list[Failure]]:
    """Initial validation. Returns the typed frame (numbers as float) or None, and the failures."""
    try:
        typed = RawMushrooms.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return None, failures_from(exc, frame)
    return typed, []


def validate_staged(frame: pd.DataFrame) -> list[Failure]:
    """Detailed validation of typed rows; an empty list means every row passed."""
    try:
        StagedMushrooms.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return failures_from(exc, frame)
    return []


def duplicate_rows(frame: pd.DataFrame) -> list[Failure]:
    """Rows identical to an earlier row of the same file: reported as warnings, not refused.

    The UCI file itself has 146 such rows (the simulation drew the same values twice).
    """
    columns = [c for c in dataset.COLUMNS if c in frame.columns]
    hashes = pd.util.hash_pandas_object(frame[columns], index=False)
    repeated = hashes.duplicated(keep="first")
    if not repeated.any():
        return []
    first = hashes[~repeated].reset_index().set_index(0)["index"]
    return [Failure(int(i) + 1, None, f"same as row {int(first[h]) + 1}", "duplicate row", "warning")
            for i, h in hashes[repeated].items()]
