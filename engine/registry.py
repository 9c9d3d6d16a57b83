"""The model registry: immutable versions, stage transitions with an audit trail, verified artifacts."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
from sklearn.pipeline import Pipeline
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from xgboost import XGBClassifier

from engine.db.models import Alert, ModelVersion, StageTransition, TrainingSnapshot
from engine.errors import InputError, IntegrityError, NotFoundError, StateError
from engine.ingest.pipeline import utcnow
from engine.training.evaluation import Evaluation
from engine.training.pipelines import MODEL_STEP, PREPROCESS_STEP
from engine.training.safety import SafetyThreshold

STAGING, PRODUCTION, ARCHIVED = "staging", "production", "archived"
STAGES = (STAGING, PRODUCTION, ARCHIVED)
#: Allowed moves; entering production archives the version that held it.
ALLOWED = {(STAGING, PRODUCTION), (STAGING, ARCHIVED), (PRODUCTION, ARCHIVED), (ARCHIVED, PRODUCTION)}
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ModelVersionInfo:
    """A registered version as the rest of the system sees it (never a live ORM row)."""

    version: int
    family: str
    params: dict[str, Any]
    evaluation: Evaluation
    threshold: SafetyThreshold
    coverage: float
    snapshot_id: int
    artifact_path: str
    artifact_sha256: str
    stage: str
    created_at: datetime
    created_by: str
    notes: str

    @classmethod
    def of(cls, row: ModelVersion) -> ModelVersionInfo:
        return cls(row.id, row.family, json.loads(row.params_json), Evaluation.from_dict(
            json.loads(row.evaluation_json)), SafetyThreshold.from_dict(json.loads(row.threshold_json)),
            row.coverage, row.snapshot_id, row.artifact_path, row.artifact_sha256, row.stage, row.created_at,
            row.created_by, row.notes)

    def summary(self) -> dict[str, Any]:
        """The figures that matter, flat: for tables, charts and --json."""
        g, h, s = self.evaluation.grouped, self.evaluation.holdout, self.threshold
        return {"version": self.version, "family": self.family, "stage": self.stage,
                "species_false_edible_rate": s.false_edible_rate, "coverage": s.coverage,
                "t_low": s.t_low, "t_high": s.t_high,
                "species_accuracy": g.pooled.accuracy, "species_recall_poisonous": g.pooled.recall_poisonous,
                "species_roc_auc": g.pooled.roc_auc, "random_accuracy": h.metrics.accuracy,
                "random_roc_auc": h.metrics.roc_auc, "created_at": self.created_at, "created_by": self.created_by}


@dataclass(frozen=True)
class TransitionInfo:
    """One entry of the audit trail."""

    id: int
    version: int
    from_stage: str | None
    to_stage: str
    at: datetime
    by: str
    reason: str


# ---------------------------------------------------------------- artifacts


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_artifact(pipeline: Pipeline, family: str, artifact_dir: Path, name: str) -> tuple[str, str]:
    """Write a fitted pipeline under ``artifact_dir/name``; returns (relative path, manifest sha256).

    XGBoost's booster goes in its native format (``model.ubj``); only the preprocessing (or,
    for the scikit-learn families, the whole pipeline) goes through joblib. A manifest lists
    every file with its sha256, and the manifest's own sha256 is what the registry records.
    """
    target = artifact_dir / name
    if target.exists():
        raise StateError(f"Artifact folder {target} exists already; versions are immutable.")
    staging = artifact_dir / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if family == "xgb":
        joblib.dump(pipeline.named_steps[PREPROCESS_STEP], staging / "preprocess.joblib")
        pipeline.named_steps[MODEL_STEP].save_model(staging / "model.ubj")
    else:
        joblib.dump(pipeline, staging / "pipeline.joblib")
    files = {p.name: _sha256_file(p) for p in sorted(staging.iterdir())}
    manifest = json.dumps({"family": family, "files": files}, sort_keys=True, indent=1).encode()
    (staging / MANIFEST).write_bytes(manifest)
    staging.rename(target)  # the artifact appears whole or not at all
    return name, hashlib.sha256(manifest).hexdigest()


def load_artifact(artifact_dir: Path, relative: str, expected_sha256: str) -> Pipeline:
    """Load a registered pipeline after checking every file against the recorded hashes.

    Raises
    ------
    IntegrityError
        The manifest or a file is missing, or its sha256 differs from the registry: the
        artifact may have been tampered with, and nothing from it is unpickled.
    """
    folder = (artifact_dir / relative).resolve()
    if artifact_dir.resolve() not in folder.parents:
        raise IntegrityError(f"Artifact path {relative!r} leaves the artifact folder; refusing to load it.")
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise IntegrityError(f"Artifact {relative}: {MANIFEST} is missing; refusing to load it.", code="tampered")
    manifest = manifest_path.read_bytes()
    if hashlib.sha256(manifest).hexdigest() != expected_sha256:
        raise IntegrityError(f"Artifact {relative}: the manifest's sha256 differs from the registry's; "
                             "the artifact was changed after registration. Refusing to load it.", code="tampered")
    listed = json.loads(manifest)
    for name, digest in listed["files"].items():
        path = folder / name
        if not path.is_file() or _sha256_file(path) != digest:
            raise IntegrityError(f"Artifact {relative}: {name} is missing or its sha256 differs from the "
                                 "registry's. Refusing to load it (it could run code).", code="tampered")
    if listed["family"] == "xgb":
        preprocess = joblib.load(folder / "preprocess.joblib")
        model = XGBClassifier()
        model.load_model(folder / "model.ubj")
        return Pipeline([(PREPROCESS_STEP, preprocess), (MODEL_STEP, model)])
    pipeline: Pipeline = joblib.load(folder / "pipeline.joblib")
    return pipeline


def record_tamper_alert(session: Session, version: int, error: IntegrityError) -> None:
    """An alert for a refused artifact (the caller commits it even though loading failed)."""
    session.add(Alert(created_at=utcnow(), severity="critical", source="registry",
                      message=f"Model version {version}: {error.message}"[:4000]))


# ---------------------------------------------------------------- versions


def create_snapshot(session: Session, *, batch_ids: list[int], row_count: int, content_sha256: str,
                    group_column: str, split: dict[str, Any]) -> int:
    """Record the rows a training run saw; returns the snapshot id."""
    row = TrainingSnapshot(created_at=utcnow(), batch_ids=json.dumps(sorted(batch_ids)), row_count=row_count,
                           content_sha256=content_sha256, group_column=group_column[:32],
                           split_json=json.dumps(split, sort_keys=True))
    session.add(row)
    session.flush()
    return row.id


def get_snapshot(session: Session, snapshot_id: int) -> dict[str, Any]:
    """A snapshot as a plain dict (batch ids, row count, content hash, split)."""
    row = session.get(TrainingSnapshot, snapshot_id)
    if row is None:
        raise NotFoundError(f"No training snapshot {snapshot_id}.")
    return {"id": row.id, "created_at": row.created_at, "batch_ids": json.loads(row.batch_ids),
            "row_count": row.row_count, "content_sha256": row.content_sha256, "group_column": row.group_column,
            "split": json.loads(row.split_json)}


def create_model_version(session: Session, *, evaluation: Evaluation, snapshot_id: int, artifact_path: str,
                         artifact_sha256: str, user: str, notes: str = "") -> ModelVersionInfo:
    """Register a new version in ``staging``; the transition is the first line of its audit trail."""
    now = utcnow()
    row = ModelVersion(family=evaluation.family, params_json=json.dumps(evaluation.to_dict()["params"]),
                       evaluation_json=json.dumps(evaluation.to_dict()),
                       threshold_json=json.dumps(evaluation.safety.to_dict()), coverage=evaluation.safety.coverage,
                       snapshot_id=snapshot_id, artifact_path=artifact_path, artifact_sha256=artifact_sha256,
                       stage=STAGING, created_at=now, created_by=user[:64], notes=notes)
    session.add(row)
    session.flush()
    session.add(StageTransition(version_id=row.id, from_stage=None, to_stage=STAGING, at=now, by=user[:64],
                                reason="registered"))
    return ModelVersionInfo.of(row)


def get_model_version(session: Session, version: int) -> ModelVersionInfo:
    row = session.get(ModelVersion, version)
    if row is None:
        raise NotFoundError(f"No model version {version}. `python -m engine models` lists them.")
    return ModelVersionInfo.of(row)


def list_model_versions(session: Session) -> list[ModelVersionInfo]:
    return [ModelVersionInfo.of(r) for r in session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()))]


def get_production_model(session: Session) -> ModelVersionInfo | None:
    row = session.scalars(select(ModelVersion).where(ModelVersion.stage == PRODUCTION)).first()
    return None if row is None else ModelVersionInfo.of(row)


def artifact_key(session: Session, version: int | None = None) -> tuple[int, str] | None:
    """(version, artifact sha256) of ``version``, or of the production version when None.

    A light query for the serving hot path: it reads two columns, not the evaluation JSON
    (which holds every out-of-fold prediction and is over a megabyte).
    """
    query = select(ModelVersion.id, ModelVersion.artifact_sha256)
    query = query.where(ModelVersion.stage == PRODUCTION) if version is None else query.where(
        ModelVersion.id == version)
    row = session.execute(query).first()
    return None if row is None else (int(row[0]), str(row[1]))


def list_transitions(session: Session, version: int | None = None) -> list[TransitionInfo]:
    query = select(StageTransition).order_by(StageTransition.id)
    if version is not None:
        query = query.where(StageTransition.version_id == version)
    return [TransitionInfo(t.id, t.version_id, t.from_stage, t.to_stage, t.at, t.by, t.reason)
            for t in session.scalars(query)]


def check_gate(info: ModelVersionInfo, max_false_edible: float) -> None:
    """The gate before production: the species-held-out false-edible rate at the version's threshold.

    A version whose bound could not be certified (``feasible`` False) never answers ``edible``
    (its ``t_low`` is 0), so it passes: it is safe, and its coverage of 0 says how useful it is.
    """
    s = info.threshold
    if s.false_edible_rate > max_false_edible:
        raise StateError(
            f"Version {info.version} fails the production gate: its false-edible rate on species held out of "
            f"training is {s.false_edible_rate:.2%} (allowed {max_false_edible:.2%}). Retrain, or change "
            "PRODUCTION_GATE_MAX_FALSE_EDIBLE if the lab accepts the risk.", code="gate_refused")


def transition_stage(session: Session, version: int, to_stage: str, *, user: str, reason: str,
                     gate_max_false_edible: float | None) -> list[TransitionInfo]:
    """Move ``version`` to ``to_stage``; entering production archives the current production version.

    ``gate_max_false_edible`` None skips the gate (rollback to a version that passed it before).
    Returns the transitions written, in order.
    """
    if to_stage not in STAGES:
        raise InputError(f"Unknown stage {to_stage!r}; use one of {', '.join(STAGES)}.")
    if not reason.strip():
        raise InputError("Give a reason for the stage change; it goes in the audit trail.")
    row = session.get(ModelVersion, version, with_for_update=True)
    if row is None:
        raise NotFoundError(f"No model version {version}.")
    if (row.stage, to_stage) not in ALLOWED:
        raise StateError(f"Version {version} is in {row.stage}; it cannot move to {to_stage}.", code="bad_transition")
    if to_stage == PRODUCTION and gate_max_false_edible is not None:
        check_gate(ModelVersionInfo.of(row), gate_max_false_edible)
    now, by = utcnow(), user[:64]
    written: list[StageTransition] = []
    if to_stage == PRODUCTION:
        for current in session.scalars(select(ModelVersion).where(ModelVersion.stage == PRODUCTION)
                                       .with_for_update()).all():
            current.stage = ARCHIVED
            written.append(StageTransition(version_id=current.id, from_stage=PRODUCTION, to_stage=ARCHIVED, at=now,
                                           by=by, reason=f"replaced by version {version}: {reason}"))
    written.append(StageTransition(version_id=version, from_stage=row.stage, to_stage=to_stage, at=now, by=by,
                                   reason=reason))
    session.execute(update(ModelVersion).where(ModelVersion.id == version).values(stage=to_stage))
    session.add_all(written)
    session.flush()
    return [TransitionInfo(t.id, t.version_id, t.from_stage, t.to_stage, t.at, t.by, t.reason) for t in written]


def rollback(session: Session, *, user: str, reason: str) -> list[TransitionInfo]:
    """Put back the version that was in production before the current one, in one action."""
    current = get_production_model(session)
    if current is None:
        raise StateError("No version is in production, so there is nothing to roll back.", code="no_production")
    previous = session.scalars(
        select(StageTransition).where(StageTransition.from_stage == PRODUCTION,
                                      StageTransition.version_id != current.version)
        .order_by(StageTransition.id.desc())).first()
    if previous is None:
        raise StateError(f"Version {current.version} is the first production version; there is nothing to roll "
                         "back to.", code="no_previous")
    return transition_stage(session, previous.version_id, PRODUCTION, user=user,
                            reason=f"rollback from version {current.version}: {reason}", gate_max_false_edible=None)


def production_version_at(session: Session, when: datetime) -> int | None:
    """Which version was in production at ``when`` (naive UTC), from the audit trail."""
    last = session.scalars(
        select(StageTransition).where(StageTransition.at <= when,
                                      (StageTransition.to_stage == PRODUCTION)
                                      | (StageTransition.from_stage == PRODUCTION))
        .order_by(StageTransition.at.desc(), StageTransition.id.desc())).first()
    if last is None:
        return None
    if last.to_stage == PRODUCTION:
        return last.version_id
    return None
