"""Small files cut from the real UCI files, shared by the tests (no hand-typed frames)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import services
from engine.config import Settings
from tests.conftest import SECONDARY

ROWS_PER_SPECIES = 353


def head_lines(rows: int, data: bytes | None = None) -> list[str]:
    """The header and the first ``rows`` data lines of secondary_data.csv (or of ``data``)."""
    if data is None:
        if not SECONDARY.is_file():
            pytest.skip(f"real data file {SECONDARY} not found")
        data = SECONDARY.read_bytes()
    return data.decode("utf-8").splitlines()[: rows + 1]


def with_cell(lines: list[str], data_row: int, column: str, value: str) -> list[str]:
    """A copy of ``lines`` with one cell (header name ``column``, 1-based ``data_row``) replaced."""
    header = lines[0].split(";")
    out = list(lines)
    cells = out[data_row].split(";")
    cells[header.index(column)] = value
    out[data_row] = ";".join(cells)
    return out


def as_bytes(lines: list[str]) -> bytes:
    """Lines as a file like the original: CRLF line ends, UTF-8."""
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def ten_species_lines(data: bytes) -> list[str]:
    """Header plus the blocks of the first 5 edible and first 5 poisonous species (3,530 rows)."""
    header, *rows = data.decode("utf-8").splitlines()
    blocks = [rows[i:i + ROWS_PER_SPECIES] for i in range(0, len(rows), ROWS_PER_SPECIES)]
    chosen = [b for b in blocks if b[0][0] == "e"][:5] + [b for b in blocks if b[0][0] == "p"][:5]
    return [header] + [line for block in chosen for line in block]


def ingest_ten_species(settings: Settings, secondary_bytes: bytes, primary_path: Path) -> None:
    """Load the species reference and promote ten species: enough for 5 species-held-out folds."""
    services.load_species(primary_path, settings=settings)
    result = services.ingest_upload(as_bytes(ten_species_lines(secondary_bytes)), "ten-species.csv",
                                    settings=settings)
    assert result.status == "promoted", result.message
