"""Tests of engine.ingest.species: parsing the primary species file and assigning rows to species."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.dataset import CATEGORICAL_FEATURES, COLUMNS, NUMERIC, normalise_column_name
from engine.errors import InputError
from engine.ingest.species import (
    METHODS,
    BlockAgreement,
    SpeciesAssignment,
    SpeciesDefinition,
    assign_species,
    block_order_agreement,
    parse_primary,
)

DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"
PRIMARY = DATA_DIR / "primary_data.csv"
SECONDARY = DATA_DIR / "secondary_data.csv"

#: Measured on the real files: 61,019 of 61,069 rows (0.99918) agree with the block order.
MEASURED_AGREEMENT = 61_019 / 61_069
MARGIN = 0.0005


# --- fixtures on the real files ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def primary_text() -> str:
    if not PRIMARY.is_file():
        pytest.skip(f"real primary data not found at {PRIMARY}; put the UCI files in ../shared/data")
    return PRIMARY.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def species(primary_text: str) -> list[SpeciesDefinition]:
    return parse_primary(primary_text)


@pytest.fixture(scope="module")
def secondary() -> pd.DataFrame:
    if not SECONDARY.is_file():
        pytest.skip(f"real secondary data not found at {SECONDARY}; put the UCI files in ../shared/data")
    frame = pd.read_csv(SECONDARY, sep=";", dtype=str, keep_default_na=False)
    frame.columns = [normalise_column_name(c) for c in frame.columns]
    frame = frame.astype(object).where(frame != "", None)
    for column in NUMERIC:
        frame[column] = frame[column].astype(float)
    return frame


@pytest.fixture(scope="module")
def real_assignment(secondary: pd.DataFrame, species: list[SpeciesDefinition]) -> SpeciesAssignment:
    return assign_species(secondary, species)


# --- parsing the real primary file ---------------------------------------------------------------------


def test_real_primary_counts(species: list[SpeciesDefinition]) -> None:
    assert len(species) == 173
    assert len({s.family for s in species}) == 23
    assert sum(s.edibility == "p" for s in species) == 96
    assert sum(s.edibility == "e" for s in species) == 77
    assert [s.position for s in species] == list(range(173))
    assert all(set(s.nominal) == set(CATEGORICAL_FEATURES) and set(s.numeric) == set(NUMERIC) for s in species)


# Checked by hand against lines 2, 5, 19 and 162 of primary_data.csv.
HAND_CHECKED = {
    "fly-agaric": (0, "Amanita Family", "Fly Agaric", "p", {
        "cap_shape": "xf", "cap_surface": "gh", "cap_color": "eo", "does_bruise_or_bleed": "f",
        "gill_attachment": "e", "gill_spacing": "", "gill_color": "w", "stem_root": "s", "stem_surface": "y",
        "stem_color": "w", "veil_type": "u", "veil_color": "w", "has_ring": "t", "ring_type": "gp",
        "spore_print_color": "", "habitat": "d", "season": "uaw",
    }, {"cap_diameter": (10, 20), "stem_height": (15, 20), "stem_width": (15, 20)}),
    "the-blusher": (3, "Amanita Family", "The Blusher", "e", {
        "cap_shape": "xf", "cap_surface": "", "cap_color": "n", "does_bruise_or_bleed": "t",
        "gill_attachment": "", "gill_spacing": "", "gill_color": "w", "stem_root": "b", "stem_surface": "",
        "stem_color": "w", "veil_type": "u", "veil_color": "w", "has_ring": "t", "ring_type": "g",
        "spore_print_color": "", "habitat": "d", "season": "ua",
    }, {"cap_diameter": (5, 15), "stem_height": (7, 15), "stem_width": (10, 25)}),
    "single-value-stem-width": (17, "Tricholoma Family", "Club-footed Funnel Cap", "p", {
        "cap_shape": "xf", "cap_surface": "", "cap_color": "gn", "does_bruise_or_bleed": "f",
        "gill_attachment": "d", "gill_spacing": "c", "gill_color": "wy", "stem_root": "b", "stem_surface": "",
        "stem_color": "n", "veil_type": "", "veil_color": "", "has_ring": "f", "ring_type": "f",
        "spore_print_color": "", "habitat": "ld", "season": "aw",
    }, {"cap_diameter": (4, 8), "stem_height": (4, 7), "stem_width": (10, 10)}),
    "zero-stem": (160, "Crepidotus Family", "Soft Slipper Toadstool", "p", {
        "cap_shape": "o", "cap_surface": "st", "cap_color": "nw", "does_bruise_or_bleed": "f",
        "gill_attachment": "", "gill_spacing": "c", "gill_color": "w", "stem_root": "f", "stem_surface": "f",
        "stem_color": "f", "veil_type": "", "veil_color": "", "has_ring": "f", "ring_type": "f",
        "spore_print_color": "n", "habitat": "d", "season": "ua",
    }, {"cap_diameter": (2, 7), "stem_height": (0, 0), "stem_width": (0, 0)}),
}


@pytest.mark.parametrize(("position", "family", "name", "edibility", "nominal", "numeric"),
                         list(HAND_CHECKED.values()), ids=list(HAND_CHECKED))
def test_real_species_parsed_as_in_the_file(species, position, family, name, edibility, nominal, numeric) -> None:
    parsed = species[position]
    assert (parsed.position, parsed.family, parsed.name, parsed.edibility) == (position, family, name, edibility)
    assert parsed.nominal == {column: frozenset(codes) for column, codes in nominal.items()}
    assert parsed.numeric == {column: (float(low), float(high)) for column, (low, high) in numeric.items()}


def _as_comma_separated(text: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    return out.getvalue()


@pytest.mark.parametrize("transform", [
    pytest.param(lambda t: t.replace("\r\n", "\n"), id="lf-line-endings"),
    pytest.param(lambda t: "\ufeff" + t, id="with-bom"),
    pytest.param(lambda t: t + "\r\n\r\n", id="trailing-blank-lines"),
    pytest.param(_as_comma_separated, id="comma-separated-quoted"),
])
def test_variants_of_the_real_file_parse_the_same(primary_text, species, transform) -> None:
    assert parse_primary(transform(primary_text)) == species


def test_json_round_trip_of_every_real_species(species: list[SpeciesDefinition]) -> None:
    for definition in species:
        text = definition.to_json()
        assert isinstance(text, str)
        assert SpeciesDefinition.from_json(text) == definition


@pytest.mark.parametrize("text", [
    pytest.param("not json", id="not-json"),
    pytest.param('{"position": 0}', id="missing-keys"),
    pytest.param('{"position": 0, "family": "F", "name": "N", "edibility": "x", "nominal": {}, "numeric": {}}',
                 id="bad-edibility"),
])
def test_from_json_rejects_text_that_is_not_a_species(text: str) -> None:
    with pytest.raises(InputError) as caught:
        SpeciesDefinition.from_json(text)
    assert caught.value.code == "input_error"


# --- malformed primary text ----------------------------------------------------------------------------

HEADER = ("family;name;class;cap-diameter;cap-shape;Cap-surface;cap-color;does-bruise-or-bleed;gill-attachment;"
          "gill-spacing;gill-color;stem-height;stem-width;stem-root;stem-surface;stem-color;veil-type;veil-color;"
          "has-ring;ring-type;Spore-print-color;habitat;season")
GOOD = ("Amanita Family;Fly Agaric;p;[10, 20];[x, f];[g, h];[e, o];[f];[e];;[w];[15, 20];[15, 20];[s];[y];[w];"
        "[u];[w];[t];[g, p];;[d];[u, a, w]")


def test_tiny_good_text_parses() -> None:
    (fly_agaric,) = parse_primary(HEADER + "\r\n" + GOOD + "\r\n")
    assert fly_agaric.name == "Fly Agaric"
    assert fly_agaric.numeric["cap_diameter"] == (10.0, 20.0)


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param(HEADER + "\n" + GOOD + "\n" + GOOD.replace(";[d];", ";[d];;"), ["Line 3", "24 fields", "23"],
                 id="wrong-field-count"),
    pytest.param(HEADER + "\n" + GOOD.replace("[10, 20]", "[1o, 20]"), ["Line 2", "'cap-diameter'", "[1o, 20]"],
                 id="unparsable-number"),
    pytest.param(HEADER + "\n" + GOOD.replace("[10, 20]", "[20, 10]"), ["Line 2", "'cap-diameter'", "min <= max"],
                 id="range-reversed"),
    pytest.param(HEADER + "\n" + GOOD.replace("[10, 20]", ""), ["Line 2", "'cap-diameter'", "range"],
                 id="empty-number"),
    pytest.param(HEADER + "\n" + GOOD.replace("[x, f]", "x, f"), ["Line 2", "'cap-shape'", "not a list"],
                 id="missing-brackets"),
    pytest.param(HEADER + "\n" + GOOD.replace("[x, f]", "[x, q]"), ["Line 2", "'cap-shape'", "'q'"],
                 id="unknown-code"),
    pytest.param(HEADER + "\n" + GOOD.replace(";p;", ";maybe;"), ["Line 2", "'class'", "'maybe'"],
                 id="bad-class"),
    pytest.param(HEADER.replace("habitat", "habitats") + "\n" + GOOD, ["Line 1", "missing habitat", "'habitats'"],
                 id="unknown-column-set"),
    pytest.param(HEADER + ";season\n" + GOOD, ["Line 1", "repeated season"], id="repeated-column"),
    pytest.param("", ["empty"], id="empty-text"),
    pytest.param(HEADER + "\r\n", ["no species lines"], id="header-only"),
])
def test_malformed_primary_text_raises_input_error_naming_the_place(text: str, expected: list[str]) -> None:
    with pytest.raises(InputError) as caught:
        parse_primary(text)
    assert caught.value.code == "input_error"
    for fragment in expected:
        assert fragment in caught.value.message


# --- assignment on the real secondary file -------------------------------------------------------------


def test_real_assignment_agrees_with_block_order(real_assignment: SpeciesAssignment) -> None:
    agreement = block_order_agreement(real_assignment)
    assert isinstance(agreement, BlockAgreement)
    assert agreement.rows == 61_069
    assert agreement.overall >= MEASURED_AGREEMENT - MARGIN
    assert float(agreement) == agreement.overall
    assert agreement.by_method["unique"] == 1.0
    assert agreement.by_method["best-of-candidates"] >= 0.85
    assert sum(agreement.rows_by_method.values()) == 61_069


def test_every_real_row_has_a_candidate_of_its_class(real_assignment, secondary, species) -> None:
    summary = real_assignment.summary()
    assert list(summary) == list(METHODS)
    assert summary["nearest-no-candidate"] == 0
    assert summary["unique"] > 0.99 * 61_069
    assert (real_assignment.candidates >= 1).all()
    edibility = np.array([s.edibility for s in species])[real_assignment.position]
    assert (edibility == secondary["class"].to_numpy()).all()


def test_real_assignment_does_not_depend_on_chunking(secondary, species, real_assignment) -> None:
    part = secondary.iloc[::97]
    chunked = assign_species(part, species, chunk_rows=50)
    np.testing.assert_array_equal(chunked.position, real_assignment.position[::97])
    np.testing.assert_array_equal(chunked.method, real_assignment.method[::97])


# --- assignment on tiny hand-made frames ---------------------------------------------------------------


def _species(position: int, name: str, edibility: str = "p", **overrides: object) -> SpeciesDefinition:
    nominal = {column: frozenset() for column in CATEGORICAL_FEATURES}
    numeric = {column: (1.0, 2.0) for column in NUMERIC}
    for column, value in overrides.items():
        if column in NUMERIC:
            numeric[column] = value  # type: ignore[assignment]
        else:
            nominal[column] = frozenset(value)  # type: ignore[arg-type]
    return SpeciesDefinition(position=position, family="Test Family", name=name, edibility=edibility,
                             nominal=nominal, numeric=numeric)


def _frame(*rows: dict[str, object]) -> pd.DataFrame:
    base: dict[str, object] = {column: None for column in COLUMNS}
    base.update({"class": "p", **{column: 1.5 for column in NUMERIC}})
    return pd.DataFrame([{**base, **row} for row in rows], columns=list(COLUMNS))


#: Red and Brown share everything but cap colour; Twin differs from Brown by its cap range; Edible is 'e'.
TINY = [
    _species(0, "Red", cap_color="e", cap_shape="x"),
    _species(1, "Brown", cap_color="n", cap_shape="x", cap_diameter=(1.0, 2.0)),
    _species(2, "Twin", cap_color="n", cap_shape="x", cap_diameter=(2.0, 3.0)),
    _species(3, "Edible", edibility="e", cap_color="n", cap_shape="x"),
]


@pytest.mark.parametrize(("row", "position", "method", "candidates"), [
    pytest.param({"cap_color": "e", "cap_shape": "x"}, 0, "unique", 1, id="unique-by-colour"),
    pytest.param({"cap_color": "n", "cap_shape": "x", "cap_diameter": 1.9}, 1, "best-of-candidates", 2,
                 id="best-of-two-nearer-mean-brown"),
    pytest.param({"cap_color": "n", "cap_shape": "x", "cap_diameter": 2.1}, 2, "best-of-candidates", 2,
                 id="best-of-two-nearer-mean-twin"),
    pytest.param({"cap_color": "n", "cap_shape": "x", "cap_diameter": 2.3}, 2, "unique", 1,
                 id="beyond-tolerance-of-brown"),
    pytest.param({"class": "e", "cap_color": "n", "cap_shape": "x"}, 3, "unique", 1, id="class-must-match"),
    pytest.param({"cap_color": "e", "cap_shape": None}, 0, "nearest-no-candidate", 0,
                 id="missing-value-needs-empty-set"),
    pytest.param({"cap_color": "e", "cap_shape": "x", "veil_type": "u"}, 0, "nearest-no-candidate", 0,
                 id="value-where-species-has-none"),
    pytest.param({"cap_color": "l", "cap_shape": "x", "cap_diameter": 2.9}, 2, "nearest-no-candidate", 0,
                 id="unknown-code-nearest-by-likelihood"),
    pytest.param({"cap_color": "e", "cap_shape": "x", "cap_diameter": np.nan}, 0, "unique", 1,
                 id="missing-number-constrains-nothing"),
])
def test_tiny_assignment(row: dict[str, object], position: int, method: str, candidates: int) -> None:
    result = assign_species(_frame(row), TINY)
    assert (int(result.position[0]), str(result.method[0]), int(result.candidates[0])) == (
        position, method, candidates)


#: Far fits the colour but not the cap size; Near fits the cap size but not the colour (and wants shape 'x').
FAR_NEAR = [
    _species(0, "Far", cap_color="n", cap_diameter=(10.0, 20.0)),
    _species(1, "Near", cap_color="e", cap_shape="x", cap_diameter=(1.0, 2.0)),
]


@pytest.mark.parametrize(("row", "position", "violations"), [
    pytest.param({"cap_color": "n", "cap_shape": None}, 0, 1, id="fewest-violations-beat-likelihood"),
    pytest.param({"cap_color": "n", "cap_shape": "x"}, 1, 1, id="equal-violations-likelihood-decides"),
])
def test_nearest_no_candidate_order(row: dict[str, object], position: int, violations: int) -> None:
    result = assign_species(_frame(row), FAR_NEAR)
    assert str(result.method[0]) == "nearest-no-candidate"
    assert (int(result.position[0]), int(result.violations[0])) == (position, violations)


def test_ties_go_to_the_earliest_species_in_the_sequence() -> None:
    twins = [_species(5, "First", cap_color="n"), _species(9, "Second", cap_color="n")]
    result = assign_species(_frame({"cap_color": "n"}), twins)
    assert (int(result.position[0]), str(result.method[0])) == (5, "best-of-candidates")
    swapped = assign_species(_frame({"cap_color": "n"}), twins[::-1])
    assert int(swapped.position[0]) == 9


@pytest.mark.parametrize(("value", "candidate"), [
    pytest.param(12.5, True, id="at-1.25v-is-3-sd"),
    pytest.param(15.0, False, id="at-1.5v-is-6-sd"),
])
def test_single_value_is_a_normal_with_sd_v_over_12(value: float, candidate: bool) -> None:
    single = [_species(0, "Single", stem_width=(10.0, 10.0))]
    result = assign_species(_frame({"stem_width": value}), single)
    assert bool(result.candidates[0] == 1) is candidate


@pytest.mark.parametrize(("value", "candidate"), [
    pytest.param(0.0, True, id="zero-matches-zero"),
    pytest.param(0.05, False, id="anything-else-does-not"),
])
def test_zero_value_species_needs_exactly_zero(value: float, candidate: bool) -> None:
    flat = [_species(0, "Flat", stem_height=(0.0, 0.0))]
    result = assign_species(_frame({"stem_height": value}), flat)
    assert bool(result.candidates[0] == 1) is candidate


def test_summary_and_block_agreement_on_a_tiny_ordered_frame() -> None:
    frame = _frame(
        {"cap_color": "e", "cap_shape": "x"}, {"cap_color": "e", "cap_shape": "x"},  # block 0: Red
        {"cap_color": "n", "cap_shape": "x", "cap_diameter": 1.9},  # block 1: Brown, Twin possible
        {"cap_color": "n", "cap_shape": "x", "cap_diameter": 2.1},  # Brown's row, but Twin is likelier
    )
    result = assign_species(frame, TINY)
    assert result.summary() == {"unique": 2, "best-of-candidates": 2, "nearest-no-candidate": 0}
    agreement = block_order_agreement(result, rows_per_species=2)
    assert agreement.overall == pytest.approx(0.75)
    assert agreement.by_method == {"unique": 1.0, "best-of-candidates": 0.5}
    assert agreement.rows_by_method == {"unique": 2, "best-of-candidates": 2, "nearest-no-candidate": 0}


@pytest.mark.parametrize(("frame", "species", "fragment"), [
    pytest.param(_frame({}).drop(columns=["habitat"]), TINY, "habitat", id="missing-column"),
    pytest.param(_frame({}), [], "No species", id="no-species"),
    pytest.param(_frame({"cap_diameter": "big"}), TINY, "cap_diameter", id="non-numeric-number"),
])
def test_assign_species_rejects_unusable_input(frame: pd.DataFrame, species: list, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        assign_species(frame, species)
    assert fragment in caught.value.message


def test_empty_frame_gives_an_empty_assignment() -> None:
    result = assign_species(_frame({}).iloc[:0], TINY)
    assert len(result) == 0
    assert result.summary() == dict.fromkeys(METHODS, 0)
