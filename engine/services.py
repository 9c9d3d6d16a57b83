"""Use cases: each owns its transaction; called by app/, scheduler/ and the command line."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, delete, func, select

from engine import dataset, registry
from engine.config import Settings, get_settings
from engine.db.bulk import bulk_insert
from engine.db.models import (
    Alert,
    Batch,
    BatchStep,
    Prediction,
    QuarantinedRow,
    Species,
    SpeciesAssignment,
    ValidationFailure,
    mushroom_data,
)
from engine.db.session import Databases, open_databases
from engine.errors import InputError, IntegrityError, NotFoundError, StateError
from engine.ingest.pipeline import STEPS as STEPS  # re-exported: the app shows progress over them
from engine.ingest.pipeline import IngestResult, StepHook, ingest_bytes, utcnow
from engine.ingest.sources import Failure, read_csv_bytes
from engine.ingest.species import METHODS as SPECIES_METHODS
from engine.ingest.species import (
    ROWS_PER_SPECIES,
    SpeciesDefinition,
    assign_species,
    block_order_agreement,
    parse_primary,
)
from engine.ingest.species import SpeciesAssignment as SpeciesAssignmentResult
from engine.serving import PredictionLog, PredictionResult, Predictor
from engine.training.fast import FastPredictor
from engine.training.service import Progress, TrainResult, train_families

SAMPLE_PATH = Path(__file__).resolve().parent.parent / "samples" / "secondary_data.csv"
SAMPLE_SPECIES_PATH = SAMPLE_PATH.with_name("primary_data.csv")


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
    reference = _species_reference(dbs)
    return ingest_bytes(dbs, data, file_name, source=source, user=user or settings.user,
                        policy=settings.invalid_row_policy, max_bytes=settings.upload_max_bytes, on_step=on_step,
                        on_promote=_species_hook(reference) if reference else None)


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
    """Ingest the UCI secondary data set shipped in samples/ (CC BY 4.0, Wagner, Heider and Hattab 2021).

    The species reference (samples/primary_data.csv) is loaded first when none is, so the
    sample's rows are attributed to their species on promotion.
    """
    if not SAMPLE_PATH.is_file():
        raise NotFoundError(f"The sample file {SAMPLE_PATH} is missing from this installation.")
    settings, dbs = _dbs(settings)
    if SAMPLE_SPECIES_PATH.is_file() and not _species_reference(dbs):
        load_species(SAMPLE_SPECIES_PATH, settings=settings)  # so the sample's rows get their species
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


@dataclass(frozen=True)
class SpeciesLoadResult:
    """The species reference loaded, and how the production rows were attributed to species."""

    species: int
    families: int
    rows_assigned: int
    methods: dict[str, int]
    block_agreement: dict[int, float]
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"status": "loaded", "species": self.species, "families": self.families,
                "rows_assigned": self.rows_assigned, "methods": self.methods,
                "block_agreement": {str(k): v for k, v in self.block_agreement.items()}, "message": self.message}


def _species_reference(dbs: Databases) -> list[SpeciesDefinition]:
    with dbs.session()() as s:
        return [SpeciesDefinition.from_json(r.definition_json)
                for r in s.scalars(select(Species).order_by(Species.position)).all()]


def _assignment_frame(batch_id: int, rows: pd.DataFrame, result: SpeciesAssignmentResult) -> pd.DataFrame:
    return pd.DataFrame({"batch_id": batch_id, "source_row": rows["source_row"].to_numpy(),
                         "species_position": result.position, "method": result.method,
                         "candidates": result.candidates})


def _species_hook(reference: list[SpeciesDefinition]):  # type: ignore[no-untyped-def]
    """Attribute a batch's rows to species inside its promotion transaction."""

    def hook(conn: Connection, batch_id: int, rows: pd.DataFrame) -> None:
        frame = _assignment_frame(batch_id, rows, assign_species(rows, reference))
        bulk_insert(conn, SpeciesAssignment.__table__, frame)  # type: ignore[arg-type]

    return hook


def load_species(path: Path, *, settings: Settings | None = None) -> SpeciesLoadResult:
    """Load primary_data.csv as the species reference and (re)attribute every production row.

    Rows are assigned by value sets and ranges (see engine.ingest.species); for each batch of
    exactly 173 x 353 rows the share that agrees with the UCI file's block order is reported.
    """
    settings, dbs = _dbs(settings)
    if not path.is_file():
        raise InputError(f"No such file: {path}. Give the path of primary_data.csv.")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path.name} is not UTF-8 (byte offset {exc.start}).") from None
    reference = parse_primary(text)
    with dbs.production.connect() as conn:
        batches = [int(b) for b in conn.execute(select(mushroom_data.c.batch_id).distinct()).scalars()]
    agreement: dict[int, float] = {}
    methods = dict.fromkeys(SPECIES_METHODS, 0)
    assigned = 0
    with dbs.session().begin() as s:
        s.execute(delete(Species))
        s.add_all(Species(position=d.position, family=d.family[:128], name=d.name[:128], edibility=d.edibility,
                          definition_json=d.to_json()) for d in reference)
        s.execute(delete(SpeciesAssignment))
        conn = s.connection()
        for batch_id in batches:
            t = mushroom_data
            query = select(t.c.source_row, *(t.c[c] for c in dataset.COLUMNS)).where(
                t.c.batch_id == batch_id).order_by(t.c.source_row)
            rows = pd.read_sql(query, conn)
            result = assign_species(rows, reference)
            bulk_insert(conn, SpeciesAssignment.__table__, _assignment_frame(batch_id, rows, result))  # type: ignore[arg-type]
            for m, n in result.summary().items():
                methods[m] += n
            assigned += len(result)
            if len(rows) == len(reference) * ROWS_PER_SPECIES:  # a whole UCI file, rows in source order
                agreement[batch_id] = block_order_agreement(result).overall
    families = len({d.family for d in reference})
    message = f"Loaded {len(reference)} species of {families} families; attributed {assigned} production rows."
    if agreement:
        message += " Agreement with the UCI block order: " + ", ".join(
            f"batch {b}: {a:.3%}" for b, a in agreement.items()) + "."
    return SpeciesLoadResult(len(reference), families, assigned, methods, agreement, message)


def species_of_rows(*, settings: Settings | None = None) -> pd.DataFrame:
    """Production rows with their species and family (None where no reference was loaded)."""
    _, dbs = _dbs(settings)
    t, a, sp = mushroom_data, SpeciesAssignment.__table__, Species.__table__
    query = (select(t.c.batch_id, t.c.source_row, *(t.c[c] for c in dataset.COLUMNS),
                    sp.c.name.label("species"), sp.c.family, a.c.method.label("species_method"))
             .select_from(t.outerjoin(a, (a.c.batch_id == t.c.batch_id) & (a.c.source_row == t.c.source_row))
                          .outerjoin(sp, sp.c.position == a.c.species_position))
             .order_by(t.c.batch_id, t.c.source_row))
    with dbs.production.connect() as conn:
        return pd.read_sql(query, conn)


# ---------------------------------------------------------------- training and registry


def train_models(*, families: tuple[str, ...] = ("lr", "dt", "xgb"), params: dict[str, dict[str, object]] | None = None,
                 random_state: int = 42, notes: str = "", user: str | None = None,
                 progress: Progress | None = None, settings: Settings | None = None) -> TrainResult:
    """Train and register one version per family on a snapshot of the production table."""
    settings, dbs = _dbs(settings)
    rows = species_of_rows(settings=settings)
    return train_families(dbs, settings, rows, families=families, params=params, random_state=random_state,
                          user=user or settings.user, notes=notes, progress=progress)


def list_versions(*, settings: Settings | None = None) -> list[registry.ModelVersionInfo]:
    """Every registered version, newest first."""
    _, dbs = _dbs(settings)
    with dbs.session()() as s:
        return registry.list_model_versions(s)


def get_version(version: int, *, settings: Settings | None = None) -> registry.ModelVersionInfo:
    _, dbs = _dbs(settings)
    with dbs.session()() as s:
        return registry.get_model_version(s, version)


def production_version(*, settings: Settings | None = None) -> registry.ModelVersionInfo | None:
    _, dbs = _dbs(settings)
    with dbs.session()() as s:
        return registry.get_production_model(s)


def promote_version(version: int, *, to_stage: str = "production", reason: str, user: str | None = None,
                    settings: Settings | None = None) -> list[registry.TransitionInfo]:
    """Move a version to a stage (production passes the gate first); recorded with who, when, why."""
    settings, dbs = _dbs(settings)
    with dbs.session().begin() as s:
        return registry.transition_stage(s, version, to_stage, user=user or settings.user, reason=reason,
                                         gate_max_false_edible=settings.production_gate_max_false_edible)


def rollback_production(*, reason: str, user: str | None = None,
                        settings: Settings | None = None) -> list[registry.TransitionInfo]:
    """Put the previous production version back, in one action."""
    settings, dbs = _dbs(settings)
    with dbs.session().begin() as s:
        return registry.rollback(s, user=user or settings.user, reason=reason)


def audit_trail(version: int | None = None, *, settings: Settings | None = None) -> list[registry.TransitionInfo]:
    _, dbs = _dbs(settings)
    with dbs.session()() as s:
        return registry.list_transitions(s, version)


def production_version_at(when: datetime, *, settings: Settings | None = None) -> int | None:
    """Which version was in production at ``when`` (naive UTC)."""
    _, dbs = _dbs(settings)
    with dbs.session()() as s:
        return registry.production_version_at(s, when)


def load_version_pipeline(version: int, *, settings: Settings | None = None):  # type: ignore[no-untyped-def]
    """The version's fitted pipeline, loaded only if its artifact matches the registry (else alert + error)."""
    settings, dbs = _dbs(settings)
    info = get_version(version, settings=settings)
    try:
        return registry.load_artifact(settings.artifact_dir, info.artifact_path, info.artifact_sha256)
    except IntegrityError as exc:
        with dbs.session().begin() as s:
            registry.record_tamper_alert(s, version, exc)
        raise


# ---------------------------------------------------------------- serving

_logs: dict[str, PredictionLog] = {}
_predictors: dict[tuple[str, int, str], Predictor] = {}
_serving_lock = threading.Lock()


def prediction_log(*, settings: Settings | None = None) -> PredictionLog:
    """The process's prediction log writer for the production database (one per database)."""
    settings, dbs = _dbs(settings)
    with _serving_lock:
        log = _logs.get(settings.production_database_url)
        if log is None:
            log = _logs[settings.production_database_url] = PredictionLog(
                dbs.production, settings.data_dir / "prediction-log-fallback.jsonl")
        return log


def get_predictor(version: int | None = None, *, settings: Settings | None = None) -> Predictor:
    """The predictor of ``version`` (default: the production version), its artifact verified once.

    The version is looked up on every call (another process may have promoted one), and the
    cache is keyed by the artifact's sha256 too, so a reused version number never serves a
    stale model.
    """
    settings, dbs = _dbs(settings)
    with dbs.session()() as s:
        key = registry.artifact_key(s, version)
    if key is None:
        if version is not None:
            raise NotFoundError(f"No model version {version}. `python -m engine models` lists them.")
        raise StateError("No model version is in production. Train one (Training page or `python -m engine "
                         "train`) and promote it (Registry page or `python -m engine promote`).",
                         code="no_production")
    cache_key = (settings.production_database_url, *key)
    with _serving_lock:
        found = _predictors.get(cache_key)
    if found is not None:
        return found
    info = get_version(key[0], settings=settings)
    pipeline = load_version_pipeline(info.version, settings=settings)
    predictor = Predictor(info, FastPredictor.from_pipeline(pipeline), prediction_log(settings=settings))
    with _serving_lock:
        _predictors[cache_key] = predictor
    return predictor


def predict_one(features: dict[str, object], *, version: int | None = None, source: str = "form",
                explain: bool = True, settings: Settings | None = None) -> PredictionResult:
    """Classify one mushroom: decision, P(poisonous), version and the features that drove it."""
    return get_predictor(version, settings=settings).predict_one(features, source=source, explain=explain)


def predict_csv(data: bytes, file_name: str, *, version: int | None = None, source: str = "batch",
                settings: Settings | None = None) -> tuple[pd.DataFrame, list[Failure]]:
    """Score every row of a CSV file (same reading rules as ingestion; a ``class`` column is ignored)."""
    settings, _ = _dbs(settings)
    raw = read_csv_bytes(data, file_name, settings.upload_max_bytes)
    return get_predictor(version, settings=settings).predict_frame(raw.frame, source=source)


def recent_predictions(limit: int = 200, *, settings: Settings | None = None) -> pd.DataFrame:
    """The newest logged predictions."""
    _, dbs = _dbs(settings)
    t = Prediction.__table__
    with dbs.production.connect() as conn:
        return pd.read_sql(select(t).order_by(t.c.id.desc()).limit(max(1, min(limit, 10_000))), conn)


def training_snapshot(snapshot_id: int, *, settings: Settings | None = None) -> dict[str, object]:
    """A training snapshot: batch ids, row count, content hash, how the rows were split."""
    _, dbs = _dbs(settings)
    with dbs.session()() as s:
        return registry.get_snapshot(s, snapshot_id)


# ---------------------------------------------------------------- watched folder


def ingest_inbox(*, settings: Settings | None = None, settle_seconds: float = 2.0) -> list[IngestResult]:
    """Ingest every CSV file waiting in the inbox folder, oldest first, then file it away.

    A promoted or duplicate file moves to ``inbox/processed/``, a rejected one to
    ``inbox/rejected/`` (the report is in the batch history), each name prefixed with the
    time. Files changed in the last ``settle_seconds`` may still be copying and wait for the
    next run; links and folders are left alone.
    """
    settings = settings or get_settings()
    inbox = settings.inbox_dir
    inbox.mkdir(parents=True, exist_ok=True)
    now = time.time()
    waiting = sorted((p for p in inbox.iterdir() if p.suffix.lower() == ".csv" and p.is_file() and not p.is_symlink()
                      and now - p.stat().st_mtime >= settle_seconds), key=lambda p: (p.stat().st_mtime, p.name))
    results = []
    for path in waiting:
        result = ingest_path(path, source="inbox", settings=settings)
        folder = inbox / ("processed" if result.ok else "rejected")
        folder.mkdir(exist_ok=True)
        path.rename(folder / f"{utcnow():%Y%m%dT%H%M%S}-{path.name}")
        results.append(result)
    return results
