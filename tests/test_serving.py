"""Serving: one mushroom and CSV batches through the production version, input checks, the prediction log."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from engine import dataset, services
from engine.config import Settings
from engine.errors import InputError, StateError
from engine.serving import PredictionLog, check_row
from engine.training.safety import EDIBLE, POISONOUS, UNCERTAIN
from tests.realdata import as_bytes, head_lines, ingest_ten_species, with_cell

#: First data line of secondary_data.csv: p;15.26;x;g;o;f;e;;w;16.95;17.09;s;y;w;u;w;t;g;;d;w
FIRST_ROW = {"cap_diameter": 15.26, "cap_shape": "x", "cap_surface": "g", "cap_color": "o",
             "does_bruise_or_bleed": "f", "gill_attachment": "e", "gill_spacing": None, "gill_color": "w",
             "stem_height": 16.95, "stem_width": 17.09, "stem_root": "s", "stem_surface": "y", "stem_color": "w",
             "veil_type": "u", "veil_color": "w", "has_ring": "t", "ring_type": "g", "spore_print_color": None,
             "habitat": "d", "season": "w"}


@pytest.fixture
def serving(settings: Settings, secondary_bytes: bytes, primary_path: Path) -> Settings:
    ingest_ten_species(settings, secondary_bytes, primary_path)
    [version] = services.train_models(families=("xgb",), settings=settings).versions
    services.promote_version(version.version, reason="serve it", settings=settings)
    return settings


def test_nothing_in_production_says_what_to_do(settings: Settings) -> None:
    with pytest.raises(StateError) as refused:
        services.predict_one(FIRST_ROW, settings=settings)
    assert refused.value.code == "no_production" and "promote" in refused.value.message


def test_one_mushroom_gets_a_decision_probability_version_and_drivers(serving: Settings) -> None:
    result = services.predict_one(FIRST_ROW, settings=serving)
    assert result.decision in (EDIBLE, POISONOUS, UNCERTAIN)
    assert 0.0 <= result.p_poisonous <= 1.0
    assert result.version == services.production_version(settings=serving).version
    assert result.drivers and all(f in dataset.FEATURES for f, _ in result.drivers)
    pipeline = services.load_version_pipeline(result.version, settings=serving)
    expected = pipeline.predict_proba(pd.DataFrame([FIRST_ROW]))[0, 1]
    assert result.p_poisonous == pytest.approx(expected, abs=1e-6)
    log = services.prediction_log(settings=serving)
    log.flush()
    [logged] = services.recent_predictions(settings=serving).to_dict("records")
    assert (logged["request_id"], logged["decision"], logged["version_id"]) == (result.request_id, result.decision,
                                                                                result.version)
    assert json.loads(logged["inputs_json"])["cap_diameter"] == 15.26


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"cap_shape": "z"}, "cap_shape: unknown code 'z'", id="unknown-code"),
        pytest.param({"cap_diameter": "wide"}, "cap_diameter: 'wide' is not a number", id="text-in-number"),
        pytest.param({"stem_width": -3}, "stem_width: -3 is outside", id="negative"),
        pytest.param({"habitat": None}, "habitat: a value is required", id="missing-required"),
        pytest.param({"season": "w'; DROP TABLE predictions;--"}, "season: unknown code", id="sql"),
    ],
)
def test_bad_input_is_named_per_field(change: dict[str, object], message: str) -> None:
    assert any(message in p for p in check_row({**FIRST_ROW, **change}))
    assert check_row(FIRST_ROW) == []


def test_bad_row_raises_a_clear_error_and_logs_nothing(serving: Settings) -> None:
    with pytest.raises(InputError) as refused:
        services.predict_one({**FIRST_ROW, "cap_shape": "z", "habitat": None}, settings=serving)
    assert "cap_shape" in refused.value.message and "habitat" in refused.value.message
    services.prediction_log(settings=serving).flush()
    assert services.recent_predictions(settings=serving).empty


def test_csv_batch_scores_good_rows_and_names_bad_ones(serving: Settings, secondary_bytes: bytes) -> None:
    data = as_bytes(with_cell(head_lines(100, secondary_bytes), 7, "cap-shape", "z"))
    scored, failures = services.predict_csv(data, "batch.csv", settings=serving)
    assert len(scored) == 100
    assert [(f.row, f.column) for f in failures] == [(7, "cap_shape")]
    assert scored["decision"].isna().tolist() == [i == 6 for i in range(100)]
    assert "cap_shape" in scored.loc[6, "error"]
    assert set(scored["decision"].dropna()) <= {EDIBLE, POISONOUS, UNCERTAIN}
    services.prediction_log(settings=serving).flush()
    logged = services.recent_predictions(settings=serving)
    assert len(logged) == 99 and 7 not in set(logged["row_number"])
    first = json.loads(logged.sort_values("row_number")["inputs_json"].iloc[0])
    assert first["cap_diameter"] == 15.26 and first["gill_spacing"] is None  # numbers as numbers, as from the form


def test_csv_without_the_feature_columns_is_refused(serving: Settings, uci_1987_path: Path) -> None:
    with pytest.raises(InputError, match="lacks required feature column"):
        services.predict_csv(uci_1987_path.read_bytes(), "old.csv", settings=serving)


def test_log_loses_nothing_on_normal_shutdown(serving: Settings, secondary_bytes: bytes) -> None:
    predictor = services.get_predictor(settings=serving)
    dbs = services.open_databases(serving)
    log = PredictionLog(dbs.production, serving.data_dir / "fallback.jsonl", interval=5.0)
    predictor_with_log = type(predictor)(predictor.info, predictor.fast, log)
    for _ in range(25):
        predictor_with_log.predict_one(FIRST_ROW)
    log.close()  # what atexit does on a normal shutdown: drain, then stop
    assert log.written == 25 and log.failed == 0
    assert len(services.recent_predictions(settings=serving)) == 25


def test_log_keeps_records_the_database_refuses(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    broken = create_engine(f"sqlite:///{tmp_path / 'no-tables.db'}")  # no predictions table
    log = PredictionLog(broken, tmp_path / "fallback.jsonl", interval=0.01)
    import numpy as np

    from engine.ingest.pipeline import utcnow
    from engine.serving import PendingRecords

    log.enqueue(PendingRecords("r1", 1, "test", dict(FIRST_ROW), np.array([0.9]), np.array([POISONOUS]), None,
                               utcnow()))
    log.close()
    assert (log.written, log.failed) == (0, 1)
    kept = [json.loads(line) for line in (tmp_path / "fallback.jsonl").read_text().splitlines()]
    assert kept[0]["request_id"] == "r1" and "no such table" in (log.last_error or "")
