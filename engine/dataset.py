"""The secondary mushroom data set's columns, their kinds, allowed codes and meanings.

Source: ``secondary_data_meta.txt`` of the UCI Secondary Mushroom Dataset
(Wagner, Heider and Hattab 2021, CC BY 4.0). Two codes occur in the real file
but are not listed in the meta file; they are allowed and marked below.
"""

from __future__ import annotations

from dataclasses import dataclass

TARGET = "class"
NUMERIC = ("cap_diameter", "stem_height", "stem_width")

_COLOURS = {
    "n": "brown", "b": "buff", "g": "gray", "r": "green", "p": "pink", "u": "purple",
    "e": "red", "w": "white", "y": "yellow", "l": "blue", "o": "orange", "k": "black",
}
_SURFACES = {
    "i": "fibrous", "g": "grooves", "y": "scaly", "s": "smooth", "h": "shiny",
    "l": "leathery", "k": "silky", "t": "sticky", "w": "wrinkled", "e": "fleshy",
}
_NONE = {"f": "none"}

#: code -> meaning for every categorical column, in file order.
CODES: dict[str, dict[str, str]] = {
    "class": {"e": "edible", "p": "poisonous"},
    "cap_shape": {"b": "bell", "c": "conical", "x": "convex", "f": "flat",
                  "s": "sunken", "p": "spherical", "o": "others"},
    # 'd' occurs 4,432 times in secondary_data.csv but is not in the meta file.
    "cap_surface": {**_SURFACES, "d": "undocumented code 'd' (present in the UCI file)"},
    "cap_color": dict(_COLOURS),
    "does_bruise_or_bleed": {"t": "bruises or bleeds", "f": "no"},
    "gill_attachment": {"a": "adnate", "x": "adnexed", "d": "decurrent", "e": "free",
                        "s": "sinuate", "p": "pores", "f": "none", "?": "unknown"},
    "gill_spacing": {"c": "close", "d": "distant", "f": "none"},
    "gill_color": {**_COLOURS, **_NONE},
    # 'f' occurs in secondary_data.csv (read as none) but is not in the meta file.
    "stem_root": {"b": "bulbous", "s": "swollen", "c": "club", "u": "cup", "e": "equal",
                  "z": "rhizomorphs", "r": "rooted", "f": "none (undocumented, present in the UCI file)"},
    "stem_surface": {**_SURFACES, **_NONE},
    "stem_color": {**_COLOURS, **_NONE},
    "veil_type": {"p": "partial", "u": "universal"},
    "veil_color": {**_COLOURS, **_NONE},
    "has_ring": {"t": "ring", "f": "none"},
    "ring_type": {"c": "cobwebby", "e": "evanescent", "r": "flaring", "g": "grooved",
                  "l": "large", "p": "pendant", "s": "sheathing", "z": "zone", "y": "scaly",
                  "m": "movable", "f": "none", "?": "unknown"},
    "spore_print_color": dict(_COLOURS),
    "habitat": {"g": "grasses", "l": "leaves", "m": "meadows", "p": "paths", "h": "heaths",
                "u": "urban", "w": "waste", "d": "woods"},
    "season": {"s": "spring", "u": "summer", "a": "autumn", "w": "winter"},
}

#: Every column of the production table, in the order of the UCI file.
COLUMNS: tuple[str, ...] = (
    "class", "cap_diameter", "cap_shape", "cap_surface", "cap_color", "does_bruise_or_bleed",
    "gill_attachment", "gill_spacing", "gill_color", "stem_height", "stem_width", "stem_root",
    "stem_surface", "stem_color", "veil_type", "veil_color", "has_ring", "ring_type",
    "spore_print_color", "habitat", "season",
)
FEATURES: tuple[str, ...] = tuple(c for c in COLUMNS if c != TARGET)
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(c for c in FEATURES if c not in NUMERIC)

#: Columns that are never empty in the real file; every other column may be missing.
REQUIRED: frozenset[str] = frozenset({
    "class", "cap_diameter", "cap_shape", "cap_color", "does_bruise_or_bleed", "gill_color",
    "stem_height", "stem_width", "stem_color", "has_ring", "habitat", "season",
})


@dataclass(frozen=True)
class NumericRange:
    """Physically plausible bounds of a measured column (inclusive), with its unit."""

    low: float
    high: float
    unit: str
    low_exclusive: bool = False


#: Observed in the UCI file: cap 0.38-62.34 cm, stem height 0-33.92 cm, width 0-103.91 mm.
#: The bounds leave room for real specimens larger than the simulated ones.
RANGES: dict[str, NumericRange] = {
    "cap_diameter": NumericRange(0.0, 100.0, "cm", low_exclusive=True),
    "stem_height": NumericRange(0.0, 100.0, "cm"),
    "stem_width": NumericRange(0.0, 500.0, "mm"),
}

DESCRIPTIONS: dict[str, str] = {
    "class": "edibility",
    "cap_diameter": "cap diameter (cm)",
    "stem_height": "stem height (cm)",
    "stem_width": "stem width (mm)",
}


def describe(column: str) -> str:
    """Human label of a column, e.g. ``cap_shape`` -> ``cap shape``."""
    return DESCRIPTIONS.get(column, column.replace("_", " "))


def normalise_column_name(name: str) -> str:
    """Canonical form of a header cell: trimmed, lower case, ``-`` and spaces as ``_``."""
    return "_".join(name.strip().lower().replace("-", " ").split())
