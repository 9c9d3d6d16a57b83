"""Training use case: snapshot the production table, evaluate each family honestly, register versions."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from engine import dataset
from engine.config import Settings
from engine.db.session import Databases
from engine.errors import InputError
from engine.registry import ModelVersionInfo, create_model_version, create_snapshot, save_artifact
from engine.training.evaluation import evaluate
from engine.training.pipelines import FAMILIES, resolve_params

#: Called with (family, message) as training progresses.
Progress = Callable[[str, str], None]


@dataclass(frozen=True)
class Snapshot:
    """The training rows, their species, and the identity of the data they came from."""

    frame: pd.DataFrame
    batch_ids: list[int]
    content_sha256: str


@dataclass(frozen=True)
class TrainResult:
    """Versions registered by one training run, with the seconds each family took."""

    snapshot_id: int
    versions: tuple[ModelVersionInfo, ...]
    seconds: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        out = []
        for v in self.versions:
            g, h, s = v.evaluation.grouped, v.evaluation.holdout, v.threshold

            def section(m: Any, false_edible: float) -> dict[str, float]:
                return {"accuracy": m.accuracy, "recall_poisonous": m.recall_poisonous, "f1": m.f1, "f2": m.f2,
                        "roc_auc": m.roc_auc, "false_edible_rate": false_edible}

            out.append({"version": v.version, "family": v.family, "stage": v.stage,
                        "metrics": {"random": section(h.metrics, h.metrics.false_edible_rate),
                                    "species": section(g.pooled, g.pooled.false_edible_rate),
                                    "species_folds_mean": {k: g.mean[k] for k in ("accuracy", "f2", "roc_auc")
                                                           if k in g.mean},
                                    "safety": {"method": s.method, "max_false_edible_rate": s.max_false_edible_rate,
                                               "t_low": s.t_low, "t_high": s.t_high, "coverage": s.coverage,
                                               "false_edible_rate": s.false_edible_rate,
                                               "species_false_edible_rate": s.species_false_edible_rate,
                                               "conformal_bound": s.conformal_bound, "feasible": s.feasible}},
                        "seconds": round(self.seconds.get(v.family, 0.0), 2)})
        return {"status": "trained", "snapshot_id": self.snapshot_id, "versions": out}


def content_hash(frame: pd.DataFrame) -> str:
    """sha256 of the rows' values in order (pandas' stable row hashes, then sha256 over them)."""
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashes.tobytes()).hexdigest()


def take_snapshot(rows: pd.DataFrame) -> Snapshot:
    """Check the production rows can be trained on with species-held-out evaluation."""
    if rows.empty:
        raise InputError("The production table is empty: ingest data first (Upload page or `python -m engine "
                         "ingest`).", code="no_data")
    if rows["species"].isna().any():
        raise InputError(f"{int(rows['species'].isna().sum())} production rows have no species, so the honest "
                         "species-held-out evaluation is impossible. Load the species reference first: "
                         "`python -m engine load-species samples/primary_data.csv`.", code="no_species")
    if rows["class"].nunique() < 2:
        raise InputError("The production rows hold only one class; training needs edible and poisonous rows.")
    columns = ["batch_id", "source_row", *dataset.COLUMNS, "species"]
    frame = rows[columns].sort_values(["batch_id", "source_row"]).reset_index(drop=True)
    return Snapshot(frame, sorted(int(b) for b in frame["batch_id"].unique()), content_hash(frame))


def train_families(
    dbs: Databases,
    settings: Settings,
    rows: pd.DataFrame,
    *,
    families: Sequence[str] = FAMILIES,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    random_state: int = 42,
    user: str = "system",
    notes: str = "",
    progress: Progress | None = None,
) -> TrainResult:
    """Train and register one version per family on a snapshot of ``rows`` (production rows + species).

    Each family is evaluated on a stratified random hold-out and on 5 species-held-out folds,
    its safety threshold is calibrated on the grouped out-of-fold predictions, and the model
    fit on all rows is stored as an artifact and registered in ``staging``.
    """
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise InputError(f"Unknown model families {unknown}; choose from {', '.join(FAMILIES)}.")
    resolved = {f: resolve_params(f, (params or {}).get(f)) for f in families}  # refuse bad params before work
    snap = take_snapshot(rows)
    X = snap.frame[list(dataset.FEATURES)]
    y = snap.frame["class"].to_numpy()
    groups = snap.frame["species"].to_numpy()
    split = {"random_state": random_state, "holdout": "stratified random, test_size 0.2",
             "folds": "5 species-held-out folds (grouped by species)", "order": "batch_id, source_row"}
    with dbs.session().begin() as s:
        snapshot_id = create_snapshot(s, batch_ids=snap.batch_ids, row_count=len(snap.frame),
                                      content_sha256=snap.content_sha256, group_column="species", split=split)
    versions: list[ModelVersionInfo] = []
    seconds: dict[str, float] = {}
    for family in families:
        if progress:
            progress(family, f"evaluating {family}: random hold-out, 5 species-held-out folds, final fit")
        began = time.perf_counter()
        evaluation = evaluate(family, resolved[family], X, y, groups, random_state,
                              max_false_edible_rate=settings.max_false_edible_rate,
                              calibration_method=settings.safety_calibration)
        seconds[family] = time.perf_counter() - began
        assert evaluation.pipeline is not None
        name = f"{family}-s{snapshot_id}-{int(time.time() * 1000)}"
        path, sha = save_artifact(evaluation.pipeline, family, settings.artifact_dir, name)
        version_notes = notes.strip() or ""
        with dbs.session().begin() as s:
            versions.append(create_model_version(s, evaluation=evaluation, snapshot_id=snapshot_id,
                                                 artifact_path=path, artifact_sha256=sha, user=user,
                                                 notes=version_notes))
        if progress:
            progress(family, f"registered version {versions[-1].version} ({seconds[family]:.1f} s)")
    return TrainResult(snapshot_id, tuple(versions), seconds)
