"""The ingestion pipeline end to end on the real files, on every configured backend."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import services
from engine.config import Settings
from engine.db.models import Alert, Batch, BatchStep, mushroom_data, staging_mushroom
from engine.db.session import open_databases
from engine.ingest.pipeline import STEPS, ingest_bytes
from tests.conftest import make_settings
from tests.realdata import as_bytes, head_lines, with_cell


def _count(settings: Settings) -> int:
    return services.production_count(settings=settings)


def _staged(settings: Settings) -> int:
    dbs = open_databases(settings)
    with dbs.staging.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(staging_mushroom)).scalar_one())


def test_real_file_is_promoted_whole(settings: Settings, secondary_bytes: bytes) -> None:
    result = services.ingest_upload(secondary_bytes, "secondary_data.csv", settings=settings)
    assert result.status == "promoted", result.message
    assert (result.rows_read, result.rows_promoted) == (61_069, 61_069)
    assert _count(settings) == 61_069
    assert _staged(settings) == 0, "staging is emptied once the batch is promoted"
    assert result.failures == ()
    assert len(result.warnings) == 146 and all(w.check == "duplicate row" for w in result.warnings)
    lineage = services.batch_lineage(result.batch_id, settings=settings)
    assert [s.step for s in lineage] == list(STEPS)
    assert all(s.status == "ok" and s.duration_s >= 0 for s in lineage)
    batch = services.get_batch(result.batch_id, settings=settings)
    assert batch.sha256 == "c0eb333df5747171cfc4356c966434b4e9ba1f099c4a0aa2c27f545853e6d203"
    assert (batch.status, batch.rows_promoted) == ("promoted", 61_069)
    dbs = open_databases(settings)
    with dbs.production.connect() as conn:
        first = conn.execute(select(mushroom_data).where(mushroom_data.c.source_row == 1)).mappings().one()
    # First data line of the file: p;15.26;x;g;o;f;e;;w;16.95;17.09;s;y;w;u;w;t;g;;d;w
    assert (first["class"], first["cap_diameter"], first["gill_spacing"], first["season"]) == ("p", 15.26, None, "w")


def test_same_file_twice_is_a_duplicate(settings: Settings, secondary_bytes: bytes) -> None:
    data = as_bytes(head_lines(data=secondary_bytes, rows=500))
    first = services.ingest_upload(data, "a.csv", settings=settings)
    again = services.ingest_upload(data, "renamed.csv", settings=settings)
    assert (first.status, again.status) == ("promoted", "duplicate")
    assert again.batch_id == first.batch_id and "already promoted" in again.message
    assert _count(settings) == 500


def test_1987_file_is_rejected_as_another_schema(settings: Settings, uci_1987_path: Path) -> None:
    result = services.ingest_path(uci_1987_path, settings=settings)
    assert result.status == "rejected"
    assert "another schema" in result.message and "1987" in result.message
    assert {"odor", "cap_diameter"} <= {f.column for f in result.failures}
    assert _count(settings) == 0
    alerts = services.list_alerts(settings=settings)
    assert alerts and alerts[0].batch_id == result.batch_id and "rejected" in alerts[0].message


def _bad_files(secondary_bytes: bytes) -> dict[str, tuple[bytes, str, int | None]]:
    """name -> (file bytes, phrase the message must contain, a data row the report must name)."""
    lines = head_lines(data=secondary_bytes, rows=50)
    header = lines[0]
    return {
        "empty file": (b"", "empty", None),
        "header only": (as_bytes([header]), "no data rows", None),
        "wrong delimiter": (as_bytes([line.replace(";", "|") for line in lines]), "No delimiter", None),
        "missing column": (as_bytes([";".join(line.split(";")[:-1]) for line in lines]), "season", None),
        "unknown code": (as_bytes(with_cell(lines, 7, "cap-shape", "z")), "cap_shape", 7),
        "negative number": (as_bytes(with_cell(lines, 3, "stem-width", "-4.2")), "range", 3),
        "text in numeric column": (as_bytes(with_cell(lines, 9, "cap-diameter", "big")), "number", 9),
        "invalid utf-8": (as_bytes(lines[:5]).replace(b";x;", b";\xff;", 1), "UTF-8", None),
        "binary file": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary", None),
        "enormous field": (as_bytes(with_cell(lines, 12, "habitat", "d" * 5_000_000)), "format", 12),
        "sql in a cell": (as_bytes(with_cell(lines, 4, "season", '"w\'); DROP TABLE mushroom_data;--"')), "format", 4),
        "sql in a column name": (as_bytes([header.replace("season", '"season\'; DROP TABLE mushroom_data;--"')]
                                       + lines[1:]), "unknown column", None),
        "too many fields in a row": (as_bytes(lines[:6] + [lines[6] + ";x"] + lines[7:]), "number of fields", 6),
    }


BAD_NAMES = ["empty file", "header only", "wrong delimiter", "missing column", "unknown code", "negative number",
             "text in numeric column", "invalid utf-8", "binary file", "enormous field", "sql in a cell",
             "sql in a column name", "too many fields in a row"]


@pytest.mark.parametrize("case", BAD_NAMES)
def test_bad_input_is_rejected_and_production_is_unchanged(
    settings: Settings, secondary_bytes: bytes, case: str
) -> None:
    good = services.ingest_upload(as_bytes(head_lines(data=secondary_bytes, rows=300)), "good.csv", settings=settings)
    assert good.status == "promoted"
    data, phrase, row = _bad_files(secondary_bytes)[case]
    result = services.ingest_upload(data, f"{case}.csv", settings=settings)
    assert result.status == "rejected"
    report = " ".join([result.message] + [f"{f.column} {f.check}" for f in result.failures])
    assert phrase.lower() in report.lower(), report
    if row is not None:
        assert row in {f.row for f in result.failures}, result.failures
    assert _count(settings) == 300
    assert _staged(settings) == 0
    stored = services.batch_report(result.batch_id, settings=settings)
    assert len(stored) == len(result.failures) and len(stored) > 0
    assert all(len(str(v)) <= 255 for v in stored["value"].dropna())


def test_report_names_every_failing_row(settings: Settings, secondary_bytes: bytes) -> None:
    lines = head_lines(data=secondary_bytes, rows=200)
    for row in (5, 50, 150):
        lines = with_cell(lines, row, "cap-color", "Q")
    lines = with_cell(lines, 77, "has-ring", "f")  # row 77 has ring_type 'g': breaks the ring rule
    detailed = with_cell(lines, 120, "veil-type", "x")
    result = services.ingest_upload(as_bytes(detailed), "bad.csv", settings=settings)
    assert result.status == "rejected"
    # 'Q' fails the format of initial validation, so the batch stops there with rows 5, 50, 150.
    assert {f.row for f in result.failures} == {5, 50, 150}
    lines = head_lines(data=secondary_bytes, rows=200)
    lines = with_cell(with_cell(lines, 77, "has-ring", "f"), 120, "veil-type", "x")
    result = services.ingest_upload(as_bytes(lines), "bad2.csv", settings=settings)
    assert {f.row for f in result.failures} == {77, 120}
    assert any("ring_type" in f.check for f in result.failures if f.row == 77)


def test_quarantine_policy_holds_back_bad_rows_and_promotes_the_rest(
    tmp_path: Path, backend: str, secondary_bytes: bytes
) -> None:
    settings = make_settings(tmp_path, backend, INVALID_ROW_POLICY="quarantine")
    from tests.conftest import _empty_tables

    _empty_tables(settings)
    lines = with_cell(head_lines(data=secondary_bytes, rows=100), 10, "cap-shape", "z")
    lines = with_cell(lines, 20, "stem-height", "-1")
    result = services.ingest_upload(as_bytes(lines), "q.csv", settings=settings)
    assert (result.status, result.rows_promoted, result.rows_quarantined) == ("promoted", 98, 2)
    held = services.quarantined_rows(result.batch_id, settings=settings)
    assert held["source_row"].tolist() == [10, 20]
    assert "cap_shape" in held["reasons"].iloc[0]
    assert _count(settings) == 98
    every_row_bad = head_lines(data=secondary_bytes, rows=3)
    for row in (1, 2, 3):
        every_row_bad = with_cell(every_row_bad, row, "season", "x")
    result = services.ingest_upload(as_bytes(every_row_bad), "all-bad.csv", settings=settings)
    assert result.status == "rejected" and {f.row for f in result.failures} == {1, 2, 3}
    assert _count(settings) == 98


@pytest.mark.parametrize("crash_after", STEPS[:-1])
def test_a_crash_between_steps_leaves_production_untouched_and_a_rerun_finishes(
    settings: Settings, secondary_bytes: bytes, crash_after: str
) -> None:
    data = as_bytes(head_lines(data=secondary_bytes, rows=400))
    dbs = open_databases(settings)

    def crash(step: str) -> None:
        if step == crash_after:
            raise KeyboardInterrupt(f"killed after {step}")

    with pytest.raises(KeyboardInterrupt):
        ingest_bytes(dbs, data, "crash.csv", on_step=crash)
    assert _count(settings) == 0
    result = ingest_bytes(dbs, data, "crash.csv")
    assert result.status == "promoted" and _count(settings) == 400
    assert _staged(settings) == 0
    with dbs.session()() as s:
        batch = s.scalars(select(Batch)).one()
        assert batch.attempts == 2
        steps = s.scalars(select(BatchStep).where(BatchStep.attempt == 1)).all()
        assert steps[-1].step == crash_after


def test_a_crash_inside_promotion_rolls_back_every_row(settings: Settings, secondary_bytes: bytes) -> None:
    data = as_bytes(head_lines(data=secondary_bytes, rows=400))
    dbs = open_databases(settings)

    def fail_midway(conn, batch_id, rows):  # type: ignore[no-untyped-def]
        assert conn.execute(select(func.count()).select_from(mushroom_data)).scalar_one() == 400
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        ingest_bytes(dbs, data, "cut.csv", on_promote=fail_midway)
    assert _count(settings) == 0
    assert services.list_batches(settings=settings)[0].status == "validated"
    assert ingest_bytes(dbs, data, "cut.csv").status == "promoted"
    assert _count(settings) == 400


def test_two_processes_racing_on_one_file_land_it_once(settings: Settings, secondary_bytes: bytes) -> None:
    data = as_bytes(head_lines(data=secondary_bytes, rows=2000))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            outcomes.append(services.ingest_upload(data, "race.csv", settings=settings).status)
        except Exception as exc:  # noqa: BLE001 - a lost race may surface as a database error
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("promoted") <= 1
    if "promoted" not in outcomes:  # both lost to locking: a plain rerun must finish the job
        assert services.ingest_upload(data, "race.csv", settings=settings).status == "promoted"
    assert _count(settings) == 2000
    assert len(outcomes) + len(errors) == 2


def test_rejected_batch_alert_can_be_acknowledged(settings: Settings) -> None:
    result = services.ingest_upload(b"", "empty.csv", settings=settings)
    assert result.status == "rejected"
    [alert] = services.list_alerts(settings=settings)
    services.acknowledge_alert(alert.id, user="tester", settings=settings)
    assert services.list_alerts(settings=settings) == []
    [seen] = services.list_alerts(open_only=False, settings=settings)
    assert seen.acknowledged_by == "tester"
    dbs = open_databases(settings)
    with dbs.session()() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 1
