"""Training through the services, and the registry: versions, gate, promotion, rollback, time T, tampering."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from engine import registry, services
from engine.config import Settings
from engine.errors import IntegrityError, StateError
from engine.ingest.pipeline import utcnow
from tests.conftest import make_settings
from tests.realdata import as_bytes, head_lines, ingest_ten_species

SPECIES = 10  # tests.realdata.ingest_ten_species: 5 edible and 5 poisonous species


@pytest.fixture
def trained(settings: Settings, secondary_bytes: bytes, primary_path: Path):  # type: ignore[no-untyped-def]
    ingest_ten_species(settings, secondary_bytes, primary_path)
    result = services.train_models(families=("lr", "dt"), settings=settings)
    return settings, result


def test_training_registers_one_staging_version_per_family(trained) -> None:  # type: ignore[no-untyped-def]
    settings, result = trained
    out = result.to_dict()
    assert [v["family"] for v in out["versions"]] == ["lr", "dt"]
    for v in out["versions"]:
        assert v["stage"] == "staging"
        for section in ("random", "species"):
            assert set(v["metrics"][section]) == {"accuracy", "recall_poisonous", "f1", "f2", "roc_auc",
                                                  "false_edible_rate"}
            assert 0.0 <= v["metrics"][section]["accuracy"] <= 1.0
    versions = services.list_versions(settings=settings)
    assert [v.version for v in versions] == [2, 1]
    info = versions[-1]
    assert info.evaluation.grouped.n_folds == 5 and info.evaluation.n_groups == SPECIES
    assert len(info.artifact_sha256) == 64 and info.created_by == "pytest"
    g = info.evaluation.grouped
    assert f"species-held-out accuracy {g.mean['accuracy']:.3f}" in info.notes
    assert "Default C=0.001" in info.notes  # the defaults were used: the notes say why they are what they are
    trail = services.audit_trail(info.version, settings=settings)
    assert [(t.from_stage, t.to_stage) for t in trail] == [(None, "staging")]
    snapshot = services.training_snapshot(info.snapshot_id, settings=settings)
    assert snapshot["row_count"] == SPECIES * 353 and snapshot["batch_ids"] == [1]
    assert len(str(snapshot["content_sha256"])) == 64 and snapshot["group_column"] == "species"


def test_same_snapshot_and_seed_give_the_same_metrics(trained) -> None:  # type: ignore[no-untyped-def]
    settings, first = trained
    again = services.train_models(families=("dt",), settings=settings)
    a = first.versions[1].evaluation.to_dict()
    b = again.versions[0].evaluation.to_dict()
    assert (a["holdout"], a["grouped"]["pooled"], a["safety"]) == (b["holdout"], b["grouped"]["pooled"], b["safety"])


def test_promotion_rollback_and_time_t(trained) -> None:  # type: ignore[no-untyped-def]
    settings, result = trained
    lr, dt = (v.version for v in result.versions)
    before = utcnow()
    time.sleep(0.01)
    services.promote_version(lr, reason="first release", user="alice", settings=settings)
    time.sleep(0.01)
    between = utcnow()
    time.sleep(0.01)
    services.promote_version(dt, reason="better coverage", user="bob", settings=settings)
    assert services.production_version(settings=settings).version == dt
    assert services.get_version(lr, settings=settings).stage == "archived"
    assert services.production_version_at(before, settings=settings) is None
    assert services.production_version_at(between, settings=settings) == lr
    assert services.production_version_at(utcnow(), settings=settings) == dt
    services.rollback_production(reason="false edibles reported", user="carol", settings=settings)
    assert services.production_version(settings=settings).version == lr
    assert [v.stage for v in services.list_versions(settings=settings)].count("production") == 1
    trail = services.audit_trail(settings=settings)
    assert trail[-1].by == "carol" and "rollback from version" in trail[-1].reason
    with pytest.raises(StateError) as refused:
        services.promote_version(lr, to_stage="staging", reason="x", settings=settings)
    assert refused.value.code == "bad_transition"


def test_the_gate_refuses_a_version_over_the_bound(trained) -> None:  # type: ignore[no-untyped-def]
    settings, result = trained
    info = result.versions[0]
    over = dataclasses.replace(info, threshold=dataclasses.replace(info.threshold, false_edible_rate=0.05))
    with pytest.raises(StateError) as refused:
        registry.check_gate(over, 0.01)
    assert refused.value.code == "gate_refused" and "5.00%" in refused.value.message
    registry.check_gate(dataclasses.replace(over, threshold=dataclasses.replace(info.threshold,
                                                                                false_edible_rate=0.01)), 0.01)
    strict = make_settings(settings.data_dir.parent, "sqlite" if settings.production_database_url.startswith(
        "sqlite") else "servers", PRODUCTION_GATE_MAX_FALSE_EDIBLE="0.0")
    if info.threshold.false_edible_rate > 0:
        with pytest.raises(StateError):
            services.promote_version(info.version, reason="try", settings=strict)
        assert services.production_version(settings=strict) is None
    else:  # a version that never answers edible wrongly passes even the strictest gate
        services.promote_version(info.version, reason="try", settings=strict)
        assert services.production_version(settings=strict).version == info.version


def test_a_tampered_artifact_is_refused_with_an_alert(trained) -> None:  # type: ignore[no-untyped-def]
    settings, result = trained
    info = result.versions[0]
    pipeline = services.load_version_pipeline(info.version, settings=settings)
    assert hasattr(pipeline, "predict_proba")
    folder = settings.artifact_dir / info.artifact_path
    target = next(p for p in folder.iterdir() if p.suffix == ".joblib")
    target.write_bytes(target.read_bytes() + b"\x00")
    with pytest.raises(IntegrityError) as refused:
        services.load_version_pipeline(info.version, settings=settings)
    assert refused.value.code == "tampered" and "sha256" in refused.value.message
    manifest = folder / "manifest.json"
    listed = json.loads(manifest.read_text())
    listed["files"][target.name] = "0" * 64
    manifest.write_text(json.dumps(listed))
    with pytest.raises(IntegrityError, match="manifest"):
        services.load_version_pipeline(info.version, settings=settings)
    alerts = services.list_alerts(settings=settings)
    assert sum(a.source == "registry" and a.severity == "critical" for a in alerts) == 2


def test_training_without_species_says_what_to_do(settings: Settings, secondary_bytes: bytes) -> None:
    services.ingest_upload(as_bytes(head_lines(799, secondary_bytes)), "x.csv", settings=settings)
    from engine.errors import InputError

    with pytest.raises(InputError, match="load-species"):
        services.train_models(families=("lr",), settings=settings)
