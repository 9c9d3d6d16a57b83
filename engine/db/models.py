"""SQLAlchemy tables: staging rows (staging DB); production rows and all metadata (production DB)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine import dataset

#: Microsecond timestamps on MariaDB too (its DATETIME defaults to whole seconds).
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
#: Double precision everywhere (MariaDB's FLOAT would be single precision).
Double = Float().with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb")
#: Long text that MariaDB stores beyond TEXT's 64 KiB.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _data_columns() -> list[Column]:
    columns: list[Column] = []
    for name in dataset.COLUMNS:
        if name in dataset.NUMERIC:
            columns.append(Column(name, Double, nullable=name not in dataset.REQUIRED))
        else:
            columns.append(Column(name, String(1), nullable=name not in dataset.REQUIRED))
    return columns


staging_metadata = MetaData()

#: Raw rows of a batch, typed, keyed by batch and 1-based source row. Emptied after promotion.
staging_mushroom = Table(
    "staging_mushroom",
    staging_metadata,
    Column("batch_id", Integer, primary_key=True, autoincrement=False),
    Column("source_row", Integer, primary_key=True, autoincrement=False),
    *_data_columns(),
    mariadb_engine="InnoDB",
)


class Base(DeclarativeBase):
    """Declarative base of the production database's metadata tables."""


production_metadata = Base.metadata

#: The production table. (batch_id, source_row) is unique: a batch can never land twice.
mushroom_data = Table(
    "mushroom_data",
    production_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("batch_id", Integer, nullable=False),
    Column("source_row", Integer, nullable=False),
    *_data_columns(),
    UniqueConstraint("batch_id", "source_row", name="uq_mushroom_data_batch_row"),
    mariadb_engine="InnoDB",
)


class Batch(Base):
    """One file brought in: its identity, its status and its row counts."""

    __tablename__ = "batches"
    __table_args__ = {"mariadb_engine": "InnoDB"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delimiter: Mapped[str | None] = mapped_column(String(8))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_staged: Mapped[int] = mapped_column(Integer, default=0)
    rows_promoted: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    rows_failed: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
    promoted_at: Mapped[datetime | None] = mapped_column(Timestamp)


class BatchStep(Base):
    """One step of one attempt at a batch, with its outcome and timing (the lineage)."""

    __tablename__ = "batch_steps"
    __table_args__ = {"mariadb_engine": "InnoDB"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    duration_s: Mapped[float] = mapped_column(Double)
    detail: Mapped[str] = mapped_column(Text, default="")


class ValidationFailure(Base):
    """One failing cell or row of a batch's latest attempt: row, column, value, check."""

    __tablename__ = "validation_failures"
    __table_args__ = (Index("ix_validation_failures_batch", "batch_id", "attempt"), {"mariadb_engine": "InnoDB"})

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(8))
    row: Mapped[int | None] = mapped_column(Integer)
    column: Mapped[str | None] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(String(255))
    check: Mapped[str] = mapped_column(String(255))


class QuarantinedRow(Base):
    """A row held back from production under the quarantine policy, with its reasons."""

    __tablename__ = "quarantined_rows"
    __table_args__ = {"mariadb_engine": "InnoDB"}

    batch_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source_row: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    values_json: Mapped[str] = mapped_column(Text)
    reasons: Mapped[str] = mapped_column(Text)


class Alert(Base):
    """Something a person should look at: a rejected batch, a tampered artifact, drift."""

    __tablename__ = "alerts"
    __table_args__ = {"mariadb_engine": "InnoDB"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    severity: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(Integer)
    acknowledged_at: Mapped[datetime | None] = mapped_column(Timestamp)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))


class Species(Base):
    """One of the 173 source species of primary_data.csv, with its value sets and ranges."""

    __tablename__ = "species"
    __table_args__ = {"mariadb_engine": "InnoDB"}

    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    family: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128))
    edibility: Mapped[str] = mapped_column(String(1))
    definition_json: Mapped[str] = mapped_column(Text)


class SpeciesAssignment(Base):
    """Which species a production row was attributed to, and how."""

    __tablename__ = "species_assignment"
    __table_args__ = {"mariadb_engine": "InnoDB"}

    batch_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source_row: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    species_position: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(32))
    candidates: Mapped[int] = mapped_column(Integer)


class TrainingSnapshot(Base):
    """The exact rows a training run saw: which batches, how many rows, their content hash."""

    __tablename__ = "training_snapshots"
    __table_args__ = {"mariadb_engine": "InnoDB"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    batch_ids: Mapped[str] = mapped_column(Text)
    row_count: Mapped[int] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(String(64))
    group_column: Mapped[str] = mapped_column(String(32))
    split_json: Mapped[str] = mapped_column(Text)


class ModelVersion(Base):
    """An immutable trained version; only ``stage`` changes, and every change is a StageTransition."""

    __tablename__ = "model_versions"
    __table_args__ = {"mariadb_engine": "InnoDB"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    family: Mapped[str] = mapped_column(String(16))
    params_json: Mapped[str] = mapped_column(Text)
    evaluation_json: Mapped[str] = mapped_column(LongText)
    threshold_json: Mapped[str] = mapped_column(Text)
    coverage: Mapped[float] = mapped_column(Double)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("training_snapshots.id"))
    artifact_path: Mapped[str] = mapped_column(String(512))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    created_by: Mapped[str] = mapped_column(String(64))
    notes: Mapped[str] = mapped_column(Text, default="")


class StageTransition(Base):
    """One stage change of a version: who, when, why (the registry's audit trail)."""

    __tablename__ = "stage_transitions"
    __table_args__ = {"mariadb_engine": "InnoDB"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")


class Prediction(Base):
    """One logged prediction: inputs, output, probability, decision, version, time, request id."""

    __tablename__ = "predictions"
    __table_args__ = {"mariadb_engine": "InnoDB"}

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    version_id: Mapped[int] = mapped_column(Integer, index=True)
    decision: Mapped[str] = mapped_column(String(32))
    p_poisonous: Mapped[float] = mapped_column(Double)
    inputs_json: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    row_number: Mapped[int | None] = mapped_column(Integer)
