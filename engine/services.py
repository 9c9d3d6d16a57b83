"""Use cases: each owns its transaction; called by app/, scheduler/ and the command line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select

from engine import dataset
from engine.config import Settings, get_settings
from engine.db.models import Alert, Batch, BatchStep, QuarantinedRow, ValidationFailure, mushroom_data
from engine.db.session import Databases, open_databases
from engine.errors import InputError, NotFoundError
from engine.ingest.pipeline import STEPS, IngestResult, StepHook, ingest_bytes, utcnow
from engine.ingest.sources import Failure

__all__ = ["STEPS", "IngestResult"]

SAMPLE_PATH = Path(__file__).resolve().parent.parent / "samples" / "secondary_data.csv"


@dataclass(frozen=True)
class BatchInfo:
    """A batch as pages and the CLI see it (never a live ORM row)."""

    id: int
    file_name: str
    source: str
    sha256: str
    size_bytes: int
    status: str
    attempts: int
    rows_read: int
    rows_promoted: int
    rows_quarantined: int
    rows_failed: int
    message: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    promoted_at: datetime | None

    @classmethod
    def of(cls, b: Batch) -> BatchInfo:
        return cls(b.id, b.file_name, b.source, b.sha256, b.size_bytes, b.status, b.attempts, b.rows_read,
                   b.rows_promoted, b.rows_quarantined, b.rows_failed, b.message, b.created_by, b.created_at,
                   b.updated_at, b.promoted_at)


@dataclass(frozen=True)
class StepInfo:
    """One step of one attempt, for the lineage view."""

    attempt: int
    step: str
    status: str
    started_at: datetime
    duration_s: float
    detail: str


@dataclass(frozen=True)
class AlertInfo:
    """An alert, open or acknowledged."""

    id: int
    created_at: datetime
    severity: str
    source: str
    message: str
    batch_id: int | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None


def _dbs(settings: Settings | None) -> tuple[Settings, Databases]:
    settings = settings or get_settings()
    return settings, open_databases(settings)


def ingest_upload(data: bytes, file_name: str, *, source: str = "upload", user: str | None = None,
                  settings: Settings | None = None, on_step: StepHook | None = None) -> IngestResult:
    """Ingest the bytes of an uploaded file (size limit, policy and databases from settings).

    ``on_step`` is called with each step's name as it completes (for a progress display).
    """
    settings, dbs = _dbs(settings)
    return ingest_bytes(dbs, data, file_name, source=source, user=user or settings.user,
                        policy=settings.invalid_row_policy, max_bytes=settings.upload_max_bytes, on_step=on_step)


def ingest_path(path: Path, *, source: str = "cli", user: str | None = None,
                settings: Settings | None = None, on_step: StepHook | None = None) -> IngestResult:
    """Ingest a file on disk; refuses directories and files over the size limit before reading them."""
    settings = settings or get_settings()
    if not path.is_file():
        raise InputError(f"No such file: {path}. Give the path of a CSV file.")
    if path.stat().st_size > settings.upload_max_bytes:
        raise InputError(f"{path.name} is {path.stat().st_size / 1e6:.1f} MB, over the limit of "
                         f"{settings.upload_max_mb} MB (UPLOAD_MAX_MB).")
    return ingest_upload(path.read_bytes(), path.name, source=source, user=user, settings=settings, on_step=on_step)


def ingest_sample(*, user: str | None = None, settings: Settings | None = None,
                  on_step: StepHook | None = None) -> IngestResult:
    """Ingest the UCI secondary data set shipped in samples/ (CC BY 4.0, Wagner, Heider and Hattab 2021)."""
    if not SAMPLE_PATH.is_file():
        raise NotFoundError(f"The sample file {SAMPLE_PATH} is missing from this installation.")
    return ingest_path(SAMPLE_PATH, source="sample", user=user, settings=settings, on_step=on_step)


def list_batches(limit: int = 100, *, settings: Settings | None = None) -> list[BatchInfo]:
    """Newest batches first."""
    _, dbs = _dbs(settings)
    with dbs.session()() as s:
        rows = s.scalars(select(Batch).order_by(Batch.id.desc()).limit(limit)).all()
        return [BatchInfo.of(b) for b in rows]


def get_batch(batch_id: int, *, settings: Settings | None = None) -> BatchInfo:
    """One batch, or NotFoundError."""
    _, dbs = _dbs(settings)
    with dbs.session()() as s:
        batch = s.get(Batch, batch_id)
        if batch is None:
            raise NotFoundError(f"No batch {batch_id}. See the batch history for existing ids.")
        return BatchInfo.of(batch)


def batch_lineage(batch_id: int, *, settings: Settings | None = None) -> list[StepInfo]:
    """Every step of every attempt of a batch, in order."""
    _, dbs = _dbs(settings)
    with dbs.session()() as s:
        rows = s.scalars(select(BatchStep).where(BatchStep.batch_id == batch_id).order_by(BatchStep.id)).all()
        return [StepInfo(r.attempt, r.step, r.status, r.started_at, r.duration_s, r.detail) for r in rows]


def batch_report(batch_id: int, *, settings: Settings | None = None) -> pd.DataFrame:
    """The latest attempt's validation report: row, column, value, check, severity, stage."""
    _, dbs = _dbs(settings)
    batch = get_batch(batch_id, settings=settings)
    t = ValidationFailure.__table__
    query = (select(t.c.row, t.c.column, t.c.value, t.c.check, t.c.severity, t.c.stage)
             .where(t.c.batch_id == batch_id, t.c.attempt == batch.attempts).order_by(t.c.id))
    with dbs.production.connect() as conn:
        frame = pd.read_sql(query, conn)
    frame["row"] = frame["row"].astype("Int64")
    return frame


def quarantined_rows(batch_id: int, *, settings: Settings | None = None) -> pd.DataFrame:
    """Rows held back from a batch under the quarantine policy, with their reasons."""
    _, dbs = _dbs(settings)
    t = QuarantinedRow.__table__
    with dbs.production.connect() as conn:
        return pd.read_sql(select(t).where(t.c.batch_id == batch_id).order_by(t.c.source_row), conn)


def list_alerts(*, open_only: bool = True, limit: int = 200, settings: Settings | None = None) -> list[AlertInfo]:
    """Newest alerts first; by default only those nobody acknowledged."""
    _, dbs = _dbs(settings)
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if open_only:
        query = query.where(Alert.acknowledged_at.is_(None))
    with dbs.session()() as s:
        return [AlertInfo(a.id, a.created_at, a.severity, a.source, a.message, a.batch_id, a.acknowledged_at,
                          a.acknowledged_by) for a in s.scalars(query).all()]


def acknowledge_alert(alert_id: int, *, user: str | None = None, settings: Settings | None = None) -> None:
    """Mark an alert as seen by ``user``."""
    settings, dbs = _dbs(settings)
    with dbs.session().begin() as s:
        alert = s.get(Alert, alert_id)
        if alert is None:
            raise NotFoundError(f"No alert {alert_id}.")
        alert.acknowledged_at = utcnow()
        alert.acknowledged_by = (user or settings.user)[:64]


def production_count(*, settings: Settings | None = None) -> int:
    """Rows in ``mushroom_data``."""
    _, dbs = _dbs(settings)
    with dbs.production.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(mushroom_data)).scalar_one())


def production_preview(limit: int = 100, *, settings: Settings | None = None) -> pd.DataFrame:
    """The newest ``limit`` rows of ``mushroom_data``."""
    _, dbs = _dbs(settings)
    t = mushroom_data
    query = select(t.c.batch_id, t.c.source_row, *(t.c[c] for c in dataset.COLUMNS)).order_by(
        t.c.id.desc()).limit(max(1, min(limit, 10_000)))
    with dbs.production.connect() as conn:
        return pd.read_sql(query, conn)


def failures_frame(items: tuple[Failure, ...] | list[Failure]) -> pd.DataFrame:
    """Report lines as a frame with the same columns as :func:`batch_report`."""
    frame = pd.DataFrame([f.to_dict() for f in items], columns=["row", "column", "value", "check", "severity"])
    frame["row"] = frame["row"].astype("Int64")
    return frame
