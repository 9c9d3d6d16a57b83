"""The ingestion pipeline: fetch -> initial validation -> staging -> detailed validation -> promotion.

Guarantees
----------
- Production (``mushroom_data`` and the batch's status) changes in exactly one transaction,
  the promotion; a crash anywhere else leaves production untouched, and running the same
  file again resumes the batch (a new attempt) and finishes it.
- The same file (by sha256) is promoted at most once: a second run answers ``duplicate``.
  The batch row is locked during promotion and ``(batch_id, source_row)`` is unique, so two
  processes racing on one file cannot both land it.
- Every step of every attempt is recorded with its outcome and timing (the lineage), and
  every failing cell or row is stored with row, column, value and check.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Connection, MetaData, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from engine import dataset
from engine.db.bulk import DelimitedRows, bulk_insert
from engine.db.models import (
    Alert,
    Batch,
    BatchStep,
    QuarantinedRow,
    ValidationFailure,
    mushroom_data,
    staging_mushroom,
)
from engine.db.session import Databases
from engine.errors import StateError
from engine.ingest.schemas import duplicate_rows, validate_raw, validate_staged
from engine.ingest.sources import Failure, FileRejected, RawFile, clip, read_csv_bytes, safe_file_name

STEPS = ("fetch", "initial_validation", "staging", "detailed_validation", "promotion")
PROMOTED, REJECTED, DUPLICATE = "promoted", "rejected", "duplicate"

#: Called after each step with its name; tests use it to inject a crash between steps.
StepHook = Callable[[str], None]
#: Extra work inside the promotion transaction (e.g. species assignment): (connection, batch id, rows).
PromotionHook = Callable[[Connection, int, pd.DataFrame], None]


def utcnow() -> datetime:
    """Naive UTC now: every timestamp in the databases is UTC without a zone."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class StepResult:
    """One step's outcome and timing."""

    step: str
    status: str
    duration_s: float
    detail: str = ""


@dataclass(frozen=True)
class IngestResult:
    """What happened to one file: the status, counts, every failure and the step timings."""

    batch_id: int | None
    status: str
    file_name: str
    sha256: str
    rows_read: int
    rows_promoted: int
    rows_quarantined: int
    message: str
    failures: tuple[Failure, ...] = ()
    warnings: tuple[Failure, ...] = ()
    steps: tuple[StepResult, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.status in (PROMOTED, DUPLICATE)

    def to_dict(self) -> dict[str, object]:
        return {
            "batch_id": self.batch_id, "status": self.status, "file_name": self.file_name,
            "sha256": self.sha256, "rows_read": self.rows_read, "rows_promoted": self.rows_promoted,
            "rows_quarantined": self.rows_quarantined, "message": self.message,
            "failures": [f.to_dict() for f in self.failures],
            "warnings": [f.to_dict() for f in self.warnings],
            "steps": [{"step": s.step, "status": s.status, "duration_s": round(s.duration_s, 4),
                       "detail": s.detail} for s in self.steps],
        }


class _Run:
    """State of one attempt: the batch row's id, attempt number and the step records so far."""

    def __init__(self, dbs: Databases, batch_id: int, attempt: int, hook: StepHook | None) -> None:
        self.dbs = dbs
        self.batch_id = batch_id
        self.attempt = attempt
        self.hook = hook
        self.steps: list[StepResult] = []
        self.started = time.perf_counter()

    def record(self, step: str, status: str, began: float, detail: str = "", session: Session | None = None) -> None:
        result = StepResult(step, status, time.perf_counter() - began, detail)
        self.steps.append(result)
        row = BatchStep(batch_id=self.batch_id, attempt=self.attempt, step=step, status=status,
                        started_at=utcnow(), duration_s=result.duration_s, detail=detail[:2000])
        if session is not None:
            session.add(row)
        else:
            with self.dbs.session().begin() as s:
                s.add(row)

    def after(self, step: str) -> None:
        if self.hook is not None:
            self.hook(step)


def _open_batch(dbs: Databases, raw_sha: str, file_name: str, size: int, source: str, user: str,
                ) -> tuple[int, int, str | None]:
    """Find or create the batch of this content; returns (id, attempt, status before this run)."""
    now = utcnow()
    for _ in range(3):
        try:
            with dbs.session().begin() as s:
                batch = s.scalars(select(Batch).where(Batch.sha256 == raw_sha).with_for_update()).first()
                if batch is None:
                    batch = Batch(sha256=raw_sha, file_name=file_name, source=source[:64], size_bytes=size,
                                  status="received", attempts=1, created_by=user[:64], created_at=now,
                                  updated_at=now, message="")
                    s.add(batch)
                    s.flush()
                    return batch.id, 1, None
                previous = batch.status
                if previous == PROMOTED:
                    return batch.id, batch.attempts, previous
                batch.attempts += 1
                batch.status = "received"
                batch.file_name, batch.source, batch.updated_at = file_name, source[:64], now
                return batch.id, batch.attempts, previous
        except SAIntegrityError:
            continue  # another process created it between our select and insert: look again
    raise RuntimeError("could not open a batch record after 3 tries")


def _store_failures(dbs: Databases, run: _Run, stage: str, items: list[Failure]) -> None:
    if not items:
        return
    frame = pd.DataFrame({
        "batch_id": run.batch_id, "attempt": run.attempt, "stage": stage,
        "severity": [f.severity for f in items],
        "row": pd.array([f.row for f in items], dtype="Int64"),
        "column": [None if f.column is None else f.column[:255] for f in items],
        "value": [None if f.value is None else f.value[:255] for f in items],
        "check": [f.check[:255] for f in items],
    })
    with dbs.production.begin() as conn:
        bulk_insert(conn, ValidationFailure.__table__, frame)  # type: ignore[arg-type]


def _reject(dbs: Databases, run: _Run, raw_name: str, rows_read: int, failures: list[Failure],
            warnings: list[Failure], message: str, sha: str) -> IngestResult:
    rows_failed = len({f.row for f in failures if f.row is not None})
    with dbs.session().begin() as s:
        s.execute(update(Batch).where(Batch.id == run.batch_id, Batch.status != PROMOTED).values(
            status=REJECTED, rows_read=rows_read, rows_failed=rows_failed, message=message[:4000],
            updated_at=utcnow()))
        s.add(Alert(created_at=utcnow(), severity="error", source="ingest", batch_id=run.batch_id,
                    message=f"Batch {run.batch_id} ({raw_name}) rejected: {message}"[:4000]))
    with dbs.staging.begin() as conn:
        conn.execute(delete(staging_mushroom).where(staging_mushroom.c.batch_id == run.batch_id))
    return IngestResult(run.batch_id, REJECTED, raw_name, sha, rows_read, 0, 0, message,
                        tuple(failures), tuple(warnings), tuple(run.steps))


def _summarise(failures: list[Failure]) -> str:
    rows = sorted({f.row for f in failures if f.row is not None})
    checks: dict[str, int] = {}
    for f in failures:
        checks[f.check] = checks.get(f.check, 0) + 1
    top = "; ".join(f"{clip(k, 80)} x{v}" for k, v in sorted(checks.items(), key=lambda kv: -kv[1])[:3])
    where = f"{len(rows)} row(s) fail, first at row {rows[0]}" if rows else "the file as a whole fails"
    return f"{where}: {top}."


def _schema_message(failures: list[Failure]) -> str | None:
    """A plain sentence when the columns themselves are wrong (another data set, a renamed column)."""
    missing = [str(f.column) for f in failures if f.check.startswith("required column")]
    unknown = [str(f.column) for f in failures if f.check.startswith("unknown column")]
    if not missing and not unknown:
        return None
    parts = []
    if missing:
        parts.append(f"{len(missing)} required column(s) missing ({', '.join(missing[:8])})")
    if unknown:
        parts.append(f"{len(unknown)} unknown column(s) ({', '.join(clip(u, 40) or '' for u in unknown[:8])})")
    hint = ""
    if {"odor", "stalk_shape", "gill_size"} & set(unknown):
        hint = " This looks like the 1987 UCI mushroom data set (agaricus-lepiota), which has another schema."
    return ("The file has another schema than the secondary mushroom data set: " + " and ".join(parts) + "."
            + hint + " Expected columns: " + ", ".join(dataset.COLUMNS) + ".")


def ingest_bytes(
    dbs: Databases,
    data: bytes,
    file_name: str,
    *,
    source: str = "upload",
    user: str = "system",
    policy: str = "reject",
    max_bytes: int | None = None,
    on_step: StepHook | None = None,
    on_promote: PromotionHook | None = None,
) -> IngestResult:
    """Run the whole pipeline on one file's bytes.

    Parameters
    ----------
    dbs : Databases
        Staging and production databases (schemas created).
    data, file_name : bytes, str
        The file and the name it was given (sanitised before it is stored).
    source, user : str
        Where the file came from (``upload``, ``cli``, ``inbox``...) and who sent it.
    policy : {'reject', 'quarantine'}
        What detailed-validation errors do: refuse the batch, or hold back the failing rows.
    max_bytes : int, optional
        Size limit; larger files are rejected before parsing.
    on_step, on_promote : callable, optional
        Called after each step / inside the promotion transaction.

    Returns
    -------
    IngestResult
        ``promoted``, ``rejected`` (with every failure) or ``duplicate``.
    """
    name = safe_file_name(file_name)
    sha = hashlib.sha256(data).hexdigest()
    batch_id, attempt, previous = _open_batch(dbs, sha, name, len(data), source, user)
    if previous == PROMOTED:
        with dbs.session().begin() as s:
            batch = s.get_one(Batch, batch_id)
            message = (f"Duplicate: this file (sha256 {sha[:12]}...) was already promoted as batch {batch_id} "
                       f"({batch.rows_promoted} rows, {batch.promoted_at:%Y-%m-%d %H:%M} UTC). Nothing written.")
            rows_read = batch.rows_read
        return IngestResult(batch_id, DUPLICATE, name, sha, rows_read, 0, 0, message)
    run = _Run(dbs, batch_id, attempt, on_step)
    if previous is not None:
        # A crashed or rejected earlier attempt: its half-staged rows go before anything else.
        with dbs.staging.begin() as conn:
            conn.execute(delete(staging_mushroom).where(staging_mushroom.c.batch_id == batch_id))

    began = time.perf_counter()
    try:
        raw: RawFile = read_csv_bytes(data, name, max_bytes)
    except FileRejected as exc:
        run.record("fetch", "failed", began, exc.message)
        _store_failures(dbs, run, "fetch", exc.failures)
        return _reject(dbs, run, name, 0, exc.failures, [], exc.message, sha)
    rows_read = len(raw.frame)
    run.record("fetch", "ok", began, f"{rows_read} rows, {len(raw.header)} columns, delimiter {raw.delimiter!r}, "
                                     f"{raw.size_bytes} bytes, sha256 {sha}")
    with dbs.session().begin() as s:
        s.execute(update(Batch).where(Batch.id == batch_id).values(rows_read=rows_read, delimiter=raw.delimiter))
    run.after("fetch")

    began = time.perf_counter()
    typed, failures = validate_raw(raw.frame)
    if typed is None:
        message = "Initial validation failed (columns, types or format): " + _summarise(failures)
        message = _schema_message(failures) or message
        run.record("initial_validation", "failed", began, message)
        _store_failures(dbs, run, "initial", failures)
        return _reject(dbs, run, name, rows_read, failures, [], message, sha)
    typed = typed[list(dataset.COLUMNS)]
    typed.insert(0, "source_row", range(1, rows_read + 1))
    typed.insert(0, "batch_id", batch_id)
    run.record("initial_validation", "ok", began, f"{len(dataset.COLUMNS)} columns, types and formats valid")
    run.after("initial_validation")

    began = time.perf_counter()
    text_loaders = {"postgresql", "mariadb", "mysql"}  # the dialects whose bulk path reads the lines
    uses_text = bool(text_loaders & {dbs.staging.dialect.name, dbs.production.dialect.name})
    delimited = _delimited(raw, batch_id) if uses_text else None
    with dbs.staging.begin() as conn:
        conn.execute(delete(staging_mushroom).where(staging_mushroom.c.batch_id == batch_id))
        bulk_insert(conn, staging_mushroom, typed, delimited=delimited)
    run.record("staging", "ok", began, f"{rows_read} rows staged ({dbs.staging.dialect.name})")
    with dbs.session().begin() as s:
        s.execute(update(Batch).where(Batch.id == batch_id, Batch.status != PROMOTED).values(
            status="staged", rows_staged=rows_read))
    run.after("staging")

    began = time.perf_counter()
    failures = validate_staged(typed)
    warnings = duplicate_rows(typed)
    _store_failures(dbs, run, "detailed", failures + warnings)
    bad_rows = sorted({f.row for f in failures if f.row is not None})
    whole_file = [f for f in failures if f.row is None]
    if failures and (policy == "reject" or whole_file or len(bad_rows) == rows_read):  # nothing left to promote
        message = "Detailed validation failed (codes, ranges, missing values, rules across columns): " + \
            _summarise(failures)
        run.record("detailed_validation", "failed", began, message)
        return _reject(dbs, run, name, rows_read, failures, warnings, message, sha)
    detail = f"{len(bad_rows)} row(s) quarantined" if bad_rows else "all rows valid"
    run.record("detailed_validation", "ok", began, f"{detail}; {len(warnings)} duplicate row(s) reported")
    with dbs.session().begin() as s:
        s.execute(update(Batch).where(Batch.id == batch_id, Batch.status != PROMOTED).values(
            status="validated", rows_failed=len(bad_rows)))
    run.after("detailed_validation")

    began = time.perf_counter()
    good = typed if not bad_rows else typed[~typed["source_row"].isin(bad_rows)]
    if bad_rows and delimited is not None:
        keep = set(good["source_row"])
        lines = delimited.text.split("\n")
        delimited = DelimitedRows("\n".join(line for i, line in enumerate(lines, 1) if i in keep),
                                  delimited.delimiter, delimited.columns)
    status = _promote(dbs, run, good, typed, failures, bad_rows, on_promote, began, delimited)
    if status == DUPLICATE:
        return IngestResult(batch_id, DUPLICATE, name, sha, rows_read, 0, 0,
                            f"Duplicate: batch {batch_id} was promoted by another process meanwhile.")
    with dbs.staging.begin() as conn:
        conn.execute(delete(staging_mushroom).where(staging_mushroom.c.batch_id == batch_id))
    run.after("promotion")
    message = f"Promoted {len(good)} of {rows_read} rows into mushroom_data as batch {batch_id}."
    if bad_rows:
        message += f" {len(bad_rows)} invalid row(s) quarantined with their reasons."
    return IngestResult(batch_id, PROMOTED, name, sha, rows_read, len(good), len(bad_rows), message,
                        tuple(failures), tuple(warnings), tuple(run.steps))


def _delimited(raw: RawFile, batch_id: int) -> DelimitedRows | None:
    """The file's own lines, prefixed with batch id and row number, when they can be loaded as they are."""
    if raw.plain_lines is None:
        return None
    d = raw.delimiter
    text = "\n".join(f"{batch_id}{d}{i}{d}{line}" for i, line in enumerate(raw.plain_lines, 1))
    return DelimitedRows(text, d, ("batch_id", "source_row", *raw.frame.columns))


def _promote(dbs: Databases, run: _Run, good: pd.DataFrame, typed: pd.DataFrame, failures: list[Failure],
             bad_rows: list[int], on_promote: PromotionHook | None, began: float,
             delimited: DelimitedRows | None) -> str:
    """The one production transaction: rows, quarantine, lineage step and status, or nothing."""
    with dbs.session().begin() as s:
        # Write to the batch row first: that takes its lock on every backend (SQLite's write
        # lock included, which a SELECT ... FOR UPDATE would not), so the status read next
        # cannot change under us.
        s.execute(update(Batch).where(Batch.id == run.batch_id).values(updated_at=utcnow()))
        batch = s.scalars(select(Batch).where(Batch.id == run.batch_id)).one()
        if batch.status == PROMOTED:
            return DUPLICATE
        conn = s.connection()
        columns = ["batch_id", "source_row", *dataset.COLUMNS]
        if dbs.staging_schema is not None and not bad_rows:
            # Production can read the staging table (one database, or SQLite's attached
            # staging file): the rows move inside the database, not through Python.
            source = staging_mushroom if not dbs.staging_schema else \
                staging_mushroom.to_metadata(MetaData(), schema=dbs.staging_schema)
            staged = select(*(source.c[c] for c in columns)).where(source.c.batch_id == run.batch_id)
            conn.execute(insert(mushroom_data).from_select(columns, staged))
        else:
            bulk_insert(conn, mushroom_data, good, columns, delimited=delimited)
        # The invariant, checked inside the transaction: exactly this batch's rows, once.
        landed = conn.execute(select(func.count()).select_from(mushroom_data).where(
            mushroom_data.c.batch_id == run.batch_id)).scalar_one()
        if landed != len(good):
            raise StateError(f"Batch {run.batch_id}: {landed} rows would be in production, expected {len(good)}; "
                             "another run of the same file interfered. Nothing was promoted; run the file again.")
        if bad_rows:
            reasons: dict[int, list[str]] = {}
            for f in failures:
                if f.row is not None:
                    reasons.setdefault(f.row, []).append(f"{f.column}: {f.check}")
            held = typed[typed["source_row"].isin(bad_rows)]
            s.add_all(QuarantinedRow(
                batch_id=run.batch_id, source_row=int(r["source_row"]),
                values_json=json.dumps({c: (None if pd.isna(r[c]) else r[c]) for c in dataset.COLUMNS}),
                reasons="; ".join(reasons.get(int(r["source_row"]), []))[:4000],
            ) for r in held.to_dict("records"))
            s.add(Alert(created_at=utcnow(), severity="warning", source="ingest", batch_id=run.batch_id,
                        message=f"Batch {run.batch_id} ({batch.file_name}): {len(bad_rows)} row(s) quarantined, "
                                f"{len(good)} promoted."))
        if on_promote is not None:
            on_promote(conn, run.batch_id, good)
        now = utcnow()
        batch.status, batch.rows_promoted, batch.rows_quarantined = PROMOTED, len(good), len(bad_rows)
        batch.promoted_at = batch.updated_at = now
        batch.message = f"Promoted {len(good)} rows" + (f", quarantined {len(bad_rows)}" if bad_rows else "")
        run.record("promotion", "ok", began, f"{len(good)} rows into mushroom_data ({dbs.production.dialect.name})",
                   session=s)
    return PROMOTED
