"""The 173 species of the primary data: parsing them, and assigning each secondary row to its likeliest species.

How the secondary data was simulated, as measured on the real files (61,069 rows, 353 per species,
in the primary file's order):

* Nominal features: every value lies in its species' set, and a value is missing exactly when
  the species' set is empty (0 exceptions in 61,069 x 17 cells). Values are drawn uniformly from
  the set (608 chi-square tests on sets of two or more values: 5.9 % below p = 0.05).
* Metrical features: a species range ``[low, high]`` is a normal distribution with mean
  ``(low + high) / 2`` and sd ``(high - low) / 6`` (measured z sd 0.998-1.000; 99.74 % of values
  lie inside the range; the largest |z| is 4.41). A single value ``v`` is a normal with mean ``v``
  and sd ``v / 12``, i.e. the range ``[0.75 v, 1.25 v]`` (3,177 values: z sd 1.000, largest |z|
  3.29). ``v = 0`` gives exactly 0. Values are rounded to 2 decimals.

The assignment rule follows that model:

* A species is a *candidate* for a row when the row's class equals the species' edibility, every
  nominal value lies in the species' set (missing matches an empty set, and only an empty set)
  and every number lies within ``tolerance`` sds of the species' mean (default 4.5 sd, i.e. the
  range widened by a quarter of its width on each side; every real row has its own species as
  a candidate). A missing number constrains nothing.
* The score is the log-likelihood under the simulation model: ``-log |set|`` per nominal feature
  plus the normal log-density of each number (sd floored at 0.005, half the rounding step).
* ``unique``: exactly one candidate. ``best-of-candidates``: several candidates, the one with the
  highest log-likelihood (the Bayes choice, as every species has the same number of rows).
  ``nearest-no-candidate``: no candidate; the species with the fewest violations (each nominal
  mismatch, class mismatch or number beyond the tolerance counts one), then the highest
  log-likelihood of the numbers and of the nominal features that match. Ties go to the species
  earliest in the given sequence.

On the real files (tolerance 4.5 sd) every row has its own species among its candidates;
60,612 rows are ``unique`` and 457 ``best-of-candidates``, none ``nearest-no-candidate``. The
assignment agrees with the block order (row ``i`` from species ``i // 353``) for 61,019 of 61,069
rows (99.918 %): 100 % of the unique rows and 407 of 457 (89.1 %) of the others. The 50 other rows
lie in two pairs of near-twin species (Oak/Rufous Milk Cap, Red-/Yellow-cracked Bolete), where
the other species of the pair was strictly likelier. Tolerances from 4 to 6 sd give the same 99.918 %.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.dataset import CATEGORICAL_FEATURES, CODES, COLUMNS, NUMERIC, TARGET, normalise_column_name
from engine.errors import InputError

#: Header of the primary file once normalised: the species' identity, then every secondary column.
PRIMARY_COLUMNS: tuple[str, ...] = ("family", "name", *COLUMNS)
#: How a row's species was chosen, in order of confidence.
METHODS: tuple[str, ...] = ("unique", "best-of-candidates", "nearest-no-candidate")
#: Default numeric tolerance in standard deviations of the simulated normal (largest real |z|: 4.41).
DEFAULT_TOLERANCE = 4.5
#: Rows per species in the UCI secondary file.
ROWS_PER_SPECIES = 353

_SINGLE_VALUE_SD_FRACTION = 1 / 12
_RANGE_SD_FRACTION = 1 / 6
_SD_FLOOR = 0.005
_EDIBILITY = frozenset(CODES[TARGET])


@dataclass(frozen=True)
class SpeciesDefinition:
    """One species of the primary data: identity, edibility and the sets/ranges the simulation draws from.

    ``nominal`` maps every categorical feature to its set of codes (an empty set means the feature
    is missing for this species); ``numeric`` maps every metrical feature to ``(low, high)`` (a
    single value ``v`` in the file gives ``(v, v)``). Treat both mappings as read-only.
    """

    position: int
    family: str
    name: str
    edibility: str
    nominal: dict[str, frozenset[str]] = field(hash=False)
    numeric: dict[str, tuple[float, float]] = field(hash=False)

    def __post_init__(self) -> None:
        problem = _definition_problem(self)
        if problem:
            raise InputError(f"Species {self.name!r} (position {self.position}): {problem}.")

    def to_json(self) -> str:
        """Canonical JSON text of the species (sorted keys and codes), for storage as text."""
        payload = {
            "position": self.position,
            "family": self.family,
            "name": self.name,
            "edibility": self.edibility,
            "nominal": {column: sorted(self.nominal[column]) for column in CATEGORICAL_FEATURES},
            "numeric": {column: list(self.numeric[column]) for column in NUMERIC},
        }
        return json.dumps(payload, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> SpeciesDefinition:
        """Rebuild a species from :meth:`to_json` text; raise ``InputError`` if it is not one."""
        try:
            payload = json.loads(text)
            return cls(
                position=int(payload["position"]),
                family=str(payload["family"]),
                name=str(payload["name"]),
                edibility=str(payload["edibility"]),
                nominal={str(k): frozenset(str(code) for code in v) for k, v in payload["nominal"].items()},
                numeric={str(k): (float(v[0]), float(v[-1])) for k, v in payload["numeric"].items()},
            )
        except InputError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise InputError(f"Stored species text is not a species definition ({exc!r}); store it again "
                             "with SpeciesDefinition.to_json().") from exc

    def numeric_model(self, column: str) -> tuple[float, float]:
        """Mean and standard deviation of the normal the simulation draws ``column`` from."""
        low, high = self.numeric[column]
        if high > low:
            return (low + high) / 2, (high - low) * _RANGE_SD_FRACTION
        return low, max(low * _SINGLE_VALUE_SD_FRACTION, _SD_FLOOR)


def _code_problem(column: str, codes: frozenset[str]) -> str | None:
    unknown = sorted(codes - CODES[column].keys())
    if unknown:
        return f"unknown code(s) {', '.join(map(repr, unknown))} for {column} (allowed: {', '.join(CODES[column])})"
    return None


def _definition_problem(species: SpeciesDefinition) -> str | None:
    if species.edibility not in _EDIBILITY:
        return f"edibility must be 'e' or 'p', not {species.edibility!r}"
    if not species.name.strip() or not species.family.strip():
        return "family and name must not be empty"
    if set(species.nominal) != set(CATEGORICAL_FEATURES):
        return f"nominal features must be exactly {', '.join(CATEGORICAL_FEATURES)}"
    if set(species.numeric) != set(NUMERIC):
        return f"numeric features must be exactly {', '.join(NUMERIC)}"
    for column, codes in species.nominal.items():
        problem = _code_problem(column, codes)
        if problem:
            return problem
    for column, (low, high) in species.numeric.items():
        if not (math.isfinite(low) and math.isfinite(high)) or low < 0 or low > high:
            return f"{column} range ({low}, {high}) must be finite, non-negative and low <= high"
    return None


def _cell_items(cell: str) -> list[str] | None:
    """Items of a ``[a, b]`` cell; ``[]`` for an empty cell; None when the brackets are wrong."""
    text = cell.strip()
    if not text:
        return []
    if not (text.startswith("[") and text.endswith("]")):
        return None
    inner = text[1:-1].strip()
    if not inner:
        return []
    items = [item.strip() for item in inner.split(",")]
    return None if any(not item for item in items) else items


def _cell_error(line: int, column: str, problem: str) -> InputError:
    return InputError(f"Line {line}, column {column!r} of the primary species file: {problem}.")


def parse_primary(text: str) -> list[SpeciesDefinition]:
    """Parse the text of ``primary_data.csv`` into one definition per species, in file order.

    Parameters
    ----------
    text : str
        The whole file. ``;`` or ``,`` separated (detected from the header; ``,`` files must quote
        their list cells), LF or CRLF line endings, an optional BOM. Header names are normalised
        with :func:`engine.dataset.normalise_column_name`, so ``Cap-surface`` reads as ``cap_surface``.

    Returns
    -------
    list[SpeciesDefinition]
        Species with ``position`` 0, 1, ... in the order of the file; blank lines are skipped.

    Raises
    ------
    InputError
        When the header is not the primary column set, or a line has the wrong number of fields,
        a malformed list, an unknown code or a number that cannot be read. The message names the
        line (1 = header) and the column.
    """
    text = text.lstrip("\ufeff")
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise InputError("The primary species file is empty; expected a header line "
                         f"({';'.join(PRIMARY_COLUMNS)}) and one line per species.")
    delimiter = ";" if ";" in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header_raw = next(reader)
    header = [normalise_column_name(name) for name in header_raw]
    missing = [c for c in PRIMARY_COLUMNS if c not in header]
    unexpected = [raw for raw, c in zip(header_raw, header, strict=True) if c not in PRIMARY_COLUMNS]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if missing or unexpected or duplicated:
        details = "; ".join(part for part in (
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(map(repr, unexpected))}" if unexpected else "",
            f"repeated {', '.join(duplicated)}" if duplicated else "",
        ) if part)
        raise InputError(f"Line 1 (header) of the primary species file has an unknown column set: {details}. "
                         f"Expected the columns {delimiter.join(PRIMARY_COLUMNS)} (any order, any case).")

    species: list[SpeciesDefinition] = []
    for fields in reader:
        line = reader.line_num
        if not any(value.strip() for value in fields):
            continue
        if len(fields) != len(header):
            raise InputError(f"Line {line} of the primary species file has {len(fields)} fields, expected "
                             f"{len(header)} separated by {delimiter!r}; check for a missing or extra separator.")
        cells = dict(zip(header, fields, strict=True))
        raw_names = dict(zip(header, header_raw, strict=True))

        family, name, edibility = (cells[c].strip() for c in ("family", "name", TARGET))
        for column, value in (("family", family), ("name", name)):
            if not value:
                raise _cell_error(line, raw_names[column], "the value is empty")
        if edibility not in _EDIBILITY:
            raise _cell_error(line, raw_names[TARGET], f"{edibility!r} is not 'e' (edible) or 'p' (poisonous)")

        nominal: dict[str, frozenset[str]] = {}
        for column in CATEGORICAL_FEATURES:
            items = _cell_items(cells[column])
            if items is None:
                raise _cell_error(line, raw_names[column],
                                  f"{cells[column]!r} is not a list such as [x, f] or an empty cell")
            codes = frozenset(items)
            problem = _code_problem(column, codes)
            if problem:
                raise _cell_error(line, raw_names[column], problem)
            nominal[column] = codes

        numeric: dict[str, tuple[float, float]] = {}
        for column in NUMERIC:
            items = _cell_items(cells[column])
            if not items or len(items) > 2:
                raise _cell_error(line, raw_names[column],
                                  f"{cells[column]!r} is not a range [min, max] or a single value [mean]")
            try:
                values = [float(item) for item in items]
            except ValueError:
                raise _cell_error(line, raw_names[column], f"cannot read {cells[column]!r} as numbers") from None
            low, high = values[0], values[-1]
            if not (math.isfinite(low) and math.isfinite(high)) or low < 0 or low > high:
                raise _cell_error(line, raw_names[column],
                                  f"{cells[column]!r} must be finite, non-negative, with min <= max")
            numeric[column] = (low, high)

        species.append(SpeciesDefinition(position=len(species), family=family, name=name, edibility=edibility,
                                         nominal=nominal, numeric=numeric))
    if not species:
        raise InputError("The primary species file has a header but no species lines.")
    return species


@dataclass(frozen=True)
class SpeciesAssignment:
    """The species chosen for every row of a frame, and how.

    Attributes
    ----------
    position : numpy.ndarray
        ``SpeciesDefinition.position`` of the chosen species, one int per row.
    method : numpy.ndarray
        One of :data:`METHODS` per row (str array).
    candidates : numpy.ndarray
        Number of candidate species per row (0 for ``nearest-no-candidate``).
    violations : numpy.ndarray
        Violations of the chosen species (0 unless ``nearest-no-candidate``).
    log_likelihood : numpy.ndarray
        Score of the chosen species (see the module docstring).
    """

    position: np.ndarray
    method: np.ndarray
    candidates: np.ndarray
    violations: np.ndarray
    log_likelihood: np.ndarray

    def __len__(self) -> int:
        return int(self.position.shape[0])

    def summary(self) -> dict[str, int]:
        """Number of rows per method, for every method in :data:`METHODS` (zeros included)."""
        return {method: int(np.count_nonzero(self.method == method)) for method in METHODS}


@dataclass(frozen=True)
class BlockAgreement:
    """Share of rows whose assigned species is the one the block order implies (row // rows_per_species)."""

    rows_per_species: int
    rows: int
    overall: float
    by_method: dict[str, float]
    rows_by_method: dict[str, int]

    def __float__(self) -> float:
        return self.overall


def _vocabulary(column: str, species: Sequence[SpeciesDefinition]) -> list[str]:
    if column == TARGET:
        return sorted(_EDIBILITY)
    codes: set[str] = set()
    for s in species:
        codes |= s.nominal[column]
    return sorted(codes)


def _membership(
    column: str, vocabulary: list[str], species: Sequence[SpeciesDefinition]
) -> tuple[np.ndarray, np.ndarray]:
    """Table (missing, codes..., unknown) x species of 'value allowed', and -log |set| per species."""
    table = np.zeros((len(vocabulary) + 2, len(species)), dtype=bool)
    log_p = np.zeros(len(species))
    for j, s in enumerate(species):
        codes = frozenset({s.edibility}) if column == TARGET else s.nominal[column]
        if not codes:
            table[0, j] = True
        for k, code in enumerate(vocabulary, start=1):
            table[k, j] = code in codes
        if column != TARGET and codes:
            log_p[j] = -math.log(len(codes))
    return table, log_p


def _row_codes(values: pd.Series, vocabulary: list[str]) -> np.ndarray:
    """Index into the membership table: 0 missing, 1..K a known code, K + 1 a code no species has."""
    missing = values.isna().to_numpy()
    codes = pd.Index(vocabulary, dtype=object).get_indexer(values.astype(object)).astype(np.int64) + 1
    codes[(codes == 0) & ~missing] = len(vocabulary) + 1
    codes[missing] = 0
    return codes


def assign_species(
    frame: pd.DataFrame,
    species: Sequence[SpeciesDefinition],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    chunk_rows: int = 8192,
) -> SpeciesAssignment:
    """Assign every row of ``frame`` to the species most likely to have produced it.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with the canonical columns of :data:`engine.dataset.COLUMNS`: categoricals as str
        with missing as None/NaN, numerics as float. Other columns are ignored.
    species : Sequence[SpeciesDefinition]
        The species to choose from, e.g. the result of :func:`parse_primary`.
    tolerance : float, default 4.5
        How far (in sds of the simulated normal) a number may lie from a species' mean and the
        species stay a candidate. 4.5 sd = the range widened by a quarter of its width per side.
    chunk_rows : int, default 8192
        Rows scored at once; bounds memory to about ``chunk_rows * len(species) * 20`` bytes.

    Returns
    -------
    SpeciesAssignment
        Chosen position, method, candidate count, violations and log-likelihood per row.

    Raises
    ------
    InputError
        When ``species`` is empty, a column is missing, a numeric column is not numeric, or
        ``tolerance``/``chunk_rows`` is not positive.
    """
    if not species:
        raise InputError("No species to assign rows to; parse the primary file with parse_primary() first.")
    if not tolerance > 0 or chunk_rows < 1:
        raise InputError(f"tolerance ({tolerance}) and chunk_rows ({chunk_rows}) must be positive.")
    missing_columns = [c for c in COLUMNS if c not in frame.columns]
    if missing_columns:
        raise InputError(f"The frame lacks the column(s) {', '.join(missing_columns)}; normalise its header with "
                         "engine.dataset.normalise_column_name.")

    nominal_columns = (TARGET, *CATEGORICAL_FEATURES)
    tables, log_ps, row_codes = [], [], []
    for column in nominal_columns:
        vocabulary = _vocabulary(column, species)
        table, log_p = _membership(column, vocabulary, species)
        tables.append(table)
        log_ps.append(log_p)
        row_codes.append(_row_codes(frame[column], vocabulary))

    means = np.empty((len(NUMERIC), len(species)))
    sds = np.empty_like(means)
    for j, s in enumerate(species):
        for i, column in enumerate(NUMERIC):
            means[i, j], sds[i, j] = s.numeric_model(column)
    log_sds = np.log(sds)
    numbers = []
    for column in NUMERIC:
        try:
            numbers.append(pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float))
        except (ValueError, TypeError) as exc:
            raise InputError(f"Column {column} must hold numbers ({exc}); convert it with pd.to_numeric.") from exc

    n_rows = len(frame)
    chosen = np.zeros(n_rows, dtype=np.int64)
    counts = np.zeros(n_rows, dtype=np.int64)
    violations = np.zeros(n_rows, dtype=np.int64)
    scores = np.zeros(n_rows)
    for start in range(0, n_rows, chunk_rows):
        rows = slice(start, min(start + chunk_rows, n_rows))
        n = rows.stop - rows.start
        bad = np.zeros((n, len(species)), dtype=np.int16)
        score = np.zeros((n, len(species)))
        for table, log_p, codes in zip(tables, log_ps, row_codes, strict=True):
            match = table[codes[rows]]
            bad += ~match
            score += np.where(match, log_p, 0.0)
        for i, values in enumerate(numbers):
            z = (values[rows, None] - means[i]) / sds[i]
            known = ~np.isnan(z)
            bad += np.abs(z) > tolerance
            score -= np.where(known, 0.5 * z * z + log_sds[i], 0.0)

        candidate = bad == 0
        count = candidate.sum(axis=1)
        fewest = bad.min(axis=1)
        # With candidates, fewest == 0 and the mask is the candidate set; otherwise the least-violating species.
        best = np.argmax(np.where(bad == fewest[:, None], score, -np.inf), axis=1)
        chosen[rows] = best
        counts[rows] = count
        violations[rows] = fewest
        scores[rows] = score[np.arange(n), best]

    positions = np.array([s.position for s in species], dtype=np.int64)
    method = np.where(counts == 1, METHODS[0], np.where(counts > 1, METHODS[1], METHODS[2]))
    return SpeciesAssignment(position=positions[chosen], method=method, candidates=counts,
                             violations=violations, log_likelihood=scores)


def block_order_agreement(assignment: SpeciesAssignment, rows_per_species: int = ROWS_PER_SPECIES) -> BlockAgreement:
    """Share of rows assigned to species ``row_index // rows_per_species``, overall and per method.

    Parameters
    ----------
    assignment : SpeciesAssignment
        Result of :func:`assign_species` on a file ordered by species (the UCI generated file).
    rows_per_species : int, default 353
        Consecutive rows simulated per species.

    Returns
    -------
    BlockAgreement
        ``overall`` (also ``float(result)``) and ``by_method`` for every method with at least one
        row; ``rows_by_method`` gives the row counts behind each share.
    """
    if rows_per_species < 1:
        raise InputError(f"rows_per_species must be at least 1, not {rows_per_species}.")
    n_rows = len(assignment)
    if n_rows == 0:
        raise InputError("The assignment has no rows; there is no agreement to measure.")
    agrees = assignment.position == np.arange(n_rows) // rows_per_species
    by_method: dict[str, float] = {}
    rows_by_method: dict[str, int] = {}
    for method in METHODS:
        mask = assignment.method == method
        rows_by_method[method] = int(mask.sum())
        if rows_by_method[method]:
            by_method[method] = float(agrees[mask].mean())
    return BlockAgreement(rows_per_species=rows_per_species, rows=n_rows, overall=float(agrees.mean()),
                          by_method=by_method, rows_by_method=rows_by_method)

