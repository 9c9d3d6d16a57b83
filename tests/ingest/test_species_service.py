"""The species reference through the services: loading, attribution on promotion, re-attribution."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import services
from engine.config import Settings
from engine.errors import InputError
from tests.realdata import as_bytes, head_lines


def test_rows_promoted_after_loading_species_get_their_species(
    settings: Settings, primary_path: Path, secondary_bytes: bytes
) -> None:
    loaded = services.load_species(primary_path, settings=settings)
    assert (loaded.species, loaded.families, loaded.rows_assigned) == (173, 23, 0)
    result = services.ingest_upload(as_bytes(head_lines(706, secondary_bytes)), "two-species.csv", settings=settings)
    assert result.status == "promoted"
    rows = services.species_of_rows(settings=settings)
    # Rows 1-353 come from the first species of primary_data.csv, 354-706 from the second.
    assert rows["species"].iloc[:353].eq("Fly Agaric").all()
    assert rows["species"].iloc[353:].eq("Panther Cap").all()
    assert rows["family"].eq("Amanita Family").all()
    assert set(rows["species_method"]) <= {"unique", "best-of-candidates"}


def test_loading_species_attributes_the_whole_real_file(
    settings: Settings, primary_path: Path, secondary_bytes: bytes
) -> None:
    assert services.ingest_upload(secondary_bytes, "secondary_data.csv", settings=settings).status == "promoted"
    loaded = services.load_species(primary_path, settings=settings)
    assert loaded.rows_assigned == 61_069
    assert loaded.methods == {"unique": 60_612, "best-of-candidates": 457, "nearest-no-candidate": 0}
    [(batch_id, agreement)] = loaded.block_agreement.items()
    assert agreement == pytest.approx(61_019 / 61_069)
    assert "99.918%" in loaded.message
    assert services.species_of_rows(settings=settings)["species"].notna().all()


def test_a_malformed_species_file_changes_nothing(settings: Settings, primary_path: Path, tmp_path: Path) -> None:
    services.load_species(primary_path, settings=settings)
    broken = tmp_path / "primary_broken.csv"
    lines = primary_path.read_text(encoding="utf-8").splitlines()
    broken.write_text("\n".join(lines[:3] + [lines[3].replace("[10, 15]", "[1o, 15]")] + lines[4:]), encoding="utf-8")
    with pytest.raises(InputError, match="Line 4"):
        services.load_species(broken, settings=settings)
    with pytest.raises(InputError, match="No such file"):
        services.load_species(tmp_path / "missing.csv", settings=settings)
    assert len(services._species_reference(services.open_databases(settings))) == 173
