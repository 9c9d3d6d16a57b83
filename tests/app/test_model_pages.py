"""Training, Registry and Classify pages under AppTest, on 10 species of the real data (5 edible, 5 poisonous)."""

from __future__ import annotations

import time as clock
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from engine import dataset, services
from engine.config import Settings, get_settings
from engine.ingest.pipeline import utcnow
from engine.training.pipelines import FAMILIES, PARAM_SPACE
from engine.training.safety import LABELS, decide
from tests.app.appenv import point_app_at
from tests.conftest import REPO, make_settings
from tests.realdata import as_bytes, head_lines, ingest_ten_species, with_cell

PAGES = REPO / "pages"
TRAIN_TIMEOUT_S = 120
#: The first data row of secondary_data.csv (class first; empty = missing).
FIRST_ROW = "p;15.26;x;g;o;f;e;;w;16.95;17.09;s;y;w;u;w;t;g;;d;w"
DECISION_TEXTS = ("POISONOUS", "UNCERTAIN - DO NOT EAT", "EDIBLE")


def _page(name: str) -> AppTest:
    return AppTest.from_file(PAGES / f"{name}.py", default_timeout=60)


def _button(at: AppTest, label: str) -> Button:
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r} among {[b.label for b in at.button]}"
    return matches[0]


def _texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "success", "info", "error", "warning", "title", "subheader")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def _frames(at: AppTest, *columns: str) -> list[pd.DataFrame]:
    """The tables shown that have all these columns, in page order (st.dataframe keys are not in the tree)."""
    return [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]


def _frame(at: AppTest, *columns: str) -> pd.DataFrame:
    found = _frames(at, *columns)
    assert found, f"no table with columns {columns}"
    return found[0]


def _charts(at: AppTest) -> int:
    return len(at.get("vega_lite_chart"))


def _first_row() -> dict[str, object]:
    cells = FIRST_ROW.split(";")[1:]
    return {name: (None if cell == "" else float(cell) if name in dataset.NUMERIC else cell)
            for name, cell in zip(dataset.FEATURES, cells, strict=True)}


def _fill(at: AppTest, features: dict[str, object]) -> None:
    for name, value in features.items():
        key = f"classify.feature.{name}"
        if name in dataset.NUMERIC:
            at.number_input(key=key).set_value(value)
        else:
            at.selectbox(key=key).set_value(value)


@pytest.fixture
def species_data(app_settings: Settings, secondary_bytes: bytes, primary_path: Path) -> Settings:
    """The species reference and the first 5 edible + 5 poisonous species' rows in production."""
    ingest_ten_species(app_settings, secondary_bytes, primary_path)
    return app_settings


@pytest.fixture
def trained(species_data: Settings) -> tuple[int, int]:
    """Versions lr and dt, trained through the services (the Training page's own test trains through its form)."""
    result = services.train_models(families=("lr", "dt"), settings=species_data)
    return result.versions[0].version, result.versions[1].version


@pytest.fixture
def lenient_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The app on the same databases, with a 50% false-edible target: versions get t_low > 0 and fail the gate."""
    backend = "sqlite" if settings.production_database_url.startswith("sqlite") else "servers"
    lenient = make_settings(settings.data_dir.parent, backend, MAX_FALSE_EDIBLE_RATE="0.5")
    point_app_at(lenient, monkeypatch)
    yield lenient
    get_settings.cache_clear()
    st.cache_data.clear()


# --- Training ----------------------------------------------------------------------------------


def test_training_form_has_every_hyperparameter_with_default_bounds_and_help(app_settings: Settings) -> None:
    at = _page("training").run()
    assert not at.exception
    assert at.multiselect(key="training.families").value == list(FAMILIES)
    for family, specs in PARAM_SPACE.items():
        for spec in specs:
            key = f"training.{family}.{spec.name}"
            if spec.kind == "choice":
                widget = at.selectbox(key=key)
                assert widget.options == list(spec.choices)
            elif spec.kind == "features":
                widget = at.multiselect(key=key)
                assert widget.value == list(spec.default)
            else:
                widget = at.number_input(key=key)
                assert (widget.min, widget.max) == (spec.low, spec.high)
            assert widget.label == spec.name
            assert spec.help in widget.help
            if spec.kind != "features":
                assert widget.value == spec.default
    assert at.number_input(key="training.seed").value == 42


def test_training_without_data_shows_the_next_step(app_settings: Settings) -> None:
    at = _page("training").run()
    _button(at, "Train").click()
    at.run()
    assert not at.exception
    assert "The production table is empty" in at.error[0].value
    assert "Next step: Ingest data on the Upload page" in at.error[0].value
    assert at.status[0].state == "error"
    assert services.list_versions(settings=app_settings) == []


def test_training_without_species_shows_the_next_step(app_settings: Settings) -> None:
    assert services.ingest_upload(as_bytes(head_lines(50)), "fifty.csv", settings=app_settings).status == "promoted"
    at = _page("training").run()
    _button(at, "Train").click()
    at.run()
    assert not at.exception
    assert "50 production rows have no species" in at.error[0].value
    assert "load-species" in at.error[0].value


def test_training_asks_for_a_family(app_settings: Settings) -> None:
    at = _page("training").run()
    at.multiselect(key="training.families").set_value([])
    _button(at, "Train").click()
    at.run()
    assert "Choose at least one model family" in at.warning[0].value


def test_training_form_trains_and_shows_safety_first(species_data: Settings) -> None:
    at = _page("training").run()
    at.multiselect(key="training.families").set_value(["lr", "dt"])
    at.number_input(key="training.dt.max_depth").set_value(3)
    at.text_input(key="training.notes").input("from the form")
    _button(at, "Train").click()
    at.run(timeout=TRAIN_TIMEOUT_S)
    assert not at.exception
    assert at.status[0].state == "complete"
    assert "Trained and registered v1 (lr), v2 (dt)" in at.status[0].label

    versions = services.list_versions(settings=species_data)
    assert [(v.version, v.family, v.stage) for v in versions] == [(2, "dt", "staging"), (1, "lr", "staging")]
    dt, lr = versions
    assert dt.params["max_depth"] == 3 and lr.params["C"] == PARAM_SPACE["lr"][0].default
    assert dt.notes.startswith("from the form\n\nMeasured: species-held-out accuracy")
    assert dt.notes.endswith("Custom parameters (not the defaults).") and dt.evaluation.n_groups == 10

    # The error that kills comes first: each version's first two metrics are false-edible and coverage.
    metrics = [(m.label, m.value) for m in at.metric]
    for i, info in enumerate((lr, dt)):
        s = info.threshold
        assert metrics[3 * i] == ("False-edible rate at the safety threshold", f"{s.false_edible_rate:.2%}")
        assert metrics[3 * i + 1] == ("Coverage at the safety threshold", f"{s.coverage:.1%}")
    texts = _texts(at)
    assert f"false-edible rate **{lr.threshold.false_edible_rate:.2%}**, coverage **{lr.threshold.coverage:.1%}**" \
        in texts
    # The caption names the method and the finite-sample bound; an uncertifiable target is said plainly.
    assert f"(method {lr.threshold.method})" in texts and f"{lr.threshold.conformal_bound:.2%}" in texts
    uncertifiable = "no threshold can certify a false-edible rate of 1.0%" in texts
    assert uncertifiable == (not lr.threshold.feasible or not dt.threshold.feasible)
    assert sum("Random-split figures are optimistic" in w.value for w in at.warning) == 2

    compare = _frame(at, "metric", "species held out: pooled")
    assert list(compare.columns) == ["metric", "species held out: mean ± std over 5 folds",
                                     "species held out: pooled", "random split (optimistic)"]
    g = lr.evaluation.grouped
    assert compare.iloc[0].tolist() == ["accuracy", f"{g.mean['accuracy']:.3f} ± {g.std['accuracy']:.3f}",
                                        f"{g.pooled.accuracy:.3f}", f"{lr.evaluation.holdout.metrics.accuracy:.3f}"]
    folds = _frame(at, "fold", "tp")
    assert list(folds["fold"]) == [1, 2, 3, 4, 5] and folds["n"].sum() == g.pooled.n
    assert _charts(at) == 4, "two confusion matrices per version"

    at.run()
    assert [m.label for m in at.metric][:2] == ["False-edible rate at the safety threshold",
                                               "Coverage at the safety threshold"], "results survive a rerun"


# --- Registry ----------------------------------------------------------------------------------


def test_registry_without_versions_says_what_to_do(app_settings: Settings) -> None:
    at = _page("registry").run()
    assert not at.exception
    assert "train some on the Training page" in at.info[0].value


def test_registry_lists_and_compares_versions(trained: tuple[int, int]) -> None:
    at = _page("registry").run()
    assert not at.exception
    table = _frame(at, "stage", "species_false_edible_rate")
    assert list(table["version"]) == [2, 1] and list(table["stage"]) == ["staging", "staging"]
    assert {"species_false_edible_rate", "coverage", "species_accuracy", "random_accuracy"} <= set(table.columns)
    assert "No version is in production" in _texts(at)
    assert _charts(at) == 6, "false-edible, coverage, metrics, fold spread; the details' two confusion matrices"
    side = _frame(at, "v1", "v2")
    assert list(side.columns) == ["v1", "v2"] and side.loc["family"].tolist() == ["lr", "dt"]


def test_promote_without_a_reason_shows_the_engine_message(trained: tuple[int, int], app_settings: Settings) -> None:
    at = _page("registry").run()
    at.selectbox(key="registry.promote.version").set_value(trained[0])
    _button(at, "Change stage").click()
    at.run()
    assert not at.exception
    assert "Give a reason for the stage change" in at.error[0].value
    assert services.production_version(settings=app_settings) is None
    assert len(services.audit_trail(settings=app_settings)) == 2


def test_the_gate_refusal_is_shown(lenient_settings: Settings, secondary_bytes: bytes, primary_path: Path) -> None:
    ingest_ten_species(lenient_settings, secondary_bytes, primary_path)
    lr = services.train_models(families=("lr",), settings=lenient_settings).versions[0]
    assert lr.threshold.false_edible_rate > lenient_settings.production_gate_max_false_edible
    at = _page("registry").run()
    at.selectbox(key="registry.promote.version").set_value(lr.version)
    at.text_input(key="registry.promote.reason").input("try it")
    _button(at, "Change stage").click()
    at.run()
    assert not at.exception
    assert "fails the production gate" in at.error[0].value
    assert "Next step: Promote a version that passes the gate" in at.error[0].value
    assert services.production_version(settings=lenient_settings) is None


def test_promote_rollback_and_audit_trail(trained: tuple[int, int], app_settings: Settings) -> None:
    lr, dt = trained
    at = _page("registry").run()
    for version, reason in ((lr, "first release"), (dt, "better coverage")):
        at.selectbox(key="registry.promote.version").set_value(version)
        at.text_input(key="registry.promote.reason").input(reason)
        _button(at, "Change stage").click()
        at.run()
        assert not at.exception
    assert at.success[0].value == f"Version {lr}: production → archived  \nVersion {dt}: staging → production"
    table = _frame(at, "stage", "species_false_edible_rate")
    assert dict(zip(table["version"], table["stage"], strict=True)) == {lr: "archived", dt: "production"}

    at.text_input(key="registry.rollback.reason").input("false edibles reported")
    _button(at, "Roll back production").click()
    at.run()
    assert not at.exception
    assert at.success[0].value == f"Version {dt}: production → archived  \nVersion {lr}: archived → production"
    assert services.production_version(settings=app_settings).version == lr  # type: ignore[union-attr]
    table = _frame(at, "stage", "species_false_edible_rate")
    assert dict(zip(table["version"], table["stage"], strict=True)) == {lr: "production", dt: "archived"}

    audit = _frame(at, "from_stage", "reason")
    assert len(audit) == 7
    newest = audit.iloc[0]
    assert (newest["version"], newest["from_stage"], newest["to_stage"]) == (lr, "archived", "production")
    assert newest["reason"] == f"rollback from version {dt}: false edibles reported"
    assert newest["by"] == app_settings.user
    at.selectbox(key="registry.audit.version").set_value(dt).run()
    assert list(_frame(at, "from_stage", "reason")["to_stage"]) == ["archived", "production", "staging"]


def test_rollback_without_an_earlier_version_says_why(trained: tuple[int, int], app_settings: Settings) -> None:
    services.promote_version(trained[0], reason="first", settings=app_settings)
    at = _page("registry").run()
    at.text_input(key="registry.rollback.reason").input("undo")
    _button(at, "Roll back production").click()
    at.run()
    assert not at.exception
    assert "is the first production version" in at.error[0].value
    assert services.production_version(settings=app_settings).version == trained[0]  # type: ignore[union-attr]


def _ask_at(at: AppTest, when: datetime) -> str:
    at.date_input(key="registry.at.date").set_value(when.date())
    at.time_input(key="registry.at.time").set_value(when.time().replace(microsecond=0))
    at.run()
    return next(i.value for i in at.info if "in production at" in i.value)


def test_which_version_was_in_production_at_time_t(trained: tuple[int, int], app_settings: Settings) -> None:
    lr, dt = trained
    services.promote_version(lr, reason="first", settings=app_settings)
    clock.sleep(1.2)
    between = utcnow()
    clock.sleep(1.2)
    services.promote_version(dt, reason="second", settings=app_settings)
    at = _page("registry").run()
    assert not at.exception
    assert _ask_at(at, between - timedelta(days=1)).startswith("No version was in production at")
    assert _ask_at(at, between).startswith(f"Version {lr} was in production at {between:%Y-%m-%d %H:%M:%S} UTC")
    assert _ask_at(at, utcnow() + timedelta(seconds=5)).startswith(f"Version {dt} was in production")


def test_version_details(trained: tuple[int, int], app_settings: Settings) -> None:
    info = services.get_version(trained[1], settings=app_settings)
    at = _page("registry").run()
    at.selectbox(key="registry.details.version").set_value(info.version).run()
    assert not at.exception
    texts = _texts(at)
    assert info.artifact_sha256 in texts and info.artifact_path.replace("-", "") in texts.replace("\\", "").replace(
        "-", "")
    assert f"**Training snapshot:** {info.snapshot_id}" in texts
    assert f"t_low = {info.threshold.t_low:.4f}, t_high = {info.threshold.t_high:.4f}" in texts
    assert f"by {info.created_by}" in texts
    params = _frame(at, "parameter", "default")
    assert dict(zip(params["parameter"], params["value"], strict=True))["min_samples_leaf"] == "2000"


# --- Classify ----------------------------------------------------------------------------------


def test_classify_form_has_every_feature(app_settings: Settings) -> None:
    at = _page("classify").run()
    assert not at.exception
    for name in dataset.FEATURES:
        key = f"classify.feature.{name}"
        if name in dataset.NUMERIC:
            widget = at.number_input(key=key)
            r = dataset.RANGES[name]
            assert (widget.min, widget.max, widget.value) == (r.low, r.high, None)
            assert r.unit in widget.label
        else:
            widget = at.selectbox(key=key)
            coded = [f"{code} = {meaning}" for code, meaning in dataset.CODES[name].items()]
            if name in dataset.REQUIRED:
                assert widget.options == coded and widget.value is None
            else:
                assert widget.options == ["(missing / unknown)", *coded] and widget.value is None
    assert "x = convex" in at.selectbox(key="classify.feature.cap_shape").options


def test_classify_without_production_shows_the_engine_message(trained: tuple[int, int]) -> None:
    at = _page("classify").run()
    assert "No model version is in production yet" in at.info[0].value
    _fill(at, _first_row())
    _button(at, "Classify").click()
    at.run()
    assert not at.exception
    assert "No model version is in production" in at.error[0].value
    assert "Next step: Promote a version on the Registry page" in at.error[0].value


def test_classify_the_first_row_of_the_real_file(trained: tuple[int, int], app_settings: Settings) -> None:
    lr = services.get_version(trained[0], settings=app_settings)
    services.promote_version(lr.version, reason="serve it", settings=app_settings)
    at = _page("classify").run()
    _fill(at, _first_row())
    _button(at, "Classify").click()
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    p = float(metrics["P(poisonous)"])
    assert 0.0 <= p <= 1.0
    assert metrics["Model version"] == "v1 (lr)"
    assert metrics["Thresholds t_low / t_high"] == f"{lr.threshold.t_low:.3f} / {lr.threshold.t_high:.3f}"
    decision = [d for d in DECISION_TEXTS if any(d in m.value for m in at.markdown if m.value.startswith("# "))]
    assert len(decision) == 1
    assert _charts(at) == 1, "the drivers chart"

    services.prediction_log(settings=app_settings).flush()
    logged = services.recent_predictions(settings=app_settings)
    assert len(logged) == 1
    row = logged.iloc[0]
    assert (row["source"], row["version_id"]) == ("form", lr.version)
    assert row["p_poisonous"] == pytest.approx(p, abs=5e-4)
    expected = str(decide([row["p_poisonous"]], (lr.threshold.t_low, lr.threshold.t_high))[0])
    assert row["decision"] == expected and decision[0] == expected.upper()
    recent = _frame(at, "request_id", "inputs_json")
    assert list(recent["request_id"]) == [row["request_id"]], "the page shows its own prediction at once"


def test_classify_names_a_missing_required_value(trained: tuple[int, int], app_settings: Settings) -> None:
    at = _page("classify").run()
    _fill(at, {**_first_row(), "habitat": None})
    at.selectbox(key="classify.version").set_value(trained[1])  # no production needed for a chosen version
    _button(at, "Classify").click()
    at.run()
    assert not at.exception
    assert "habitat: a value is required" in at.error[0].value


def test_classify_with_a_chosen_version(trained: tuple[int, int], app_settings: Settings) -> None:
    at = _page("classify").run()
    _fill(at, _first_row())
    at.selectbox(key="classify.version").set_value(trained[1])
    _button(at, "Classify").click()
    at.run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Model version"] == "v2 (dt)"


def test_an_edible_answer_comes_with_a_caution(lenient_settings: Settings, secondary_bytes: bytes,
                                               primary_path: Path) -> None:
    # With a 50% false-edible target the lr version gets t_low ~0.51, and the first (poisonous!) row, given only
    # its required features, scores below it: exactly why "edible" must never be shown without the caution.
    ingest_ten_species(lenient_settings, secondary_bytes, primary_path)
    lr = services.train_models(families=("lr",), settings=lenient_settings).versions[0]
    at = _page("classify").run()
    _fill(at, {name: value if name in dataset.REQUIRED else None for name, value in _first_row().items()})
    at.selectbox(key="classify.version").set_value(lr.version)
    _button(at, "Classify").click()
    at.run()
    assert not at.exception
    p = float({m.label: m.value for m in at.metric}["P(poisonous)"])
    assert p < lr.threshold.t_low
    assert any(m.value.startswith("# ") and "EDIBLE" in m.value and "green" in m.value for m in at.markdown)
    assert "Never eat a wild mushroom on a model's word" in at.warning[0].value


def test_classify_a_csv_file(trained: tuple[int, int], app_settings: Settings) -> None:
    services.promote_version(trained[0], reason="serve it", settings=app_settings)
    lines = with_cell(head_lines(20), 3, "cap-shape", "z")  # data row 3: an unknown code
    at = _page("classify").run()
    at.file_uploader(key="classify.file").set_value(("twenty.csv", ("\n".join(lines) + "\n").encode(), "text/csv"))
    _button(at, "Score the file").click()
    at.run()
    assert not at.exception
    counts = {m.label: m.value for m in at.metric}
    assert set(counts) == {*LABELS, "not scored"}
    assert sum(int(v) for v in counts.values()) == 20 and counts["not scored"] == "1"
    assert "1 row(s) could not be scored" in at.error[0].value
    failures = _frame(at, "check", "severity")
    assert list(failures["row"]) == [3] and list(failures["column"]) == ["cap_shape"]
    scored = _frame(at, "decision", "error")
    assert len(scored) == 20 and list(scored.columns[:5]) == ["row", "decision", "p_poisonous", "version", "error"]
    assert scored["decision"].isna().tolist() == [i == 2 for i in range(20)]
    assert "cap_shape" in scored.loc[2, "error"]
    assert any(b.label == "Download the scored CSV" for b in at.get("download_button"))
    services.prediction_log(settings=app_settings).flush()
    logged = services.recent_predictions(settings=app_settings)
    assert len(logged) == 19 and set(logged["source"]) == {"batch"}
