"""The app shell and pages under streamlit.testing.v1.AppTest, on fresh databases of every backend."""

from __future__ import annotations

import ast

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from engine import services
from engine.config import Settings, get_settings
from tests.conftest import REPO
from tests.realdata import as_bytes, head_lines, with_cell

MAIN = REPO / "app" / "main.py"
PAGES = REPO / "pages"
PLACEHOLDERS = {
    "ab_testing": "a later issue",
    "monitoring": "a later issue",
}
#: Finished pages beyond Upload, and their titles.
MODEL_PAGES = {"training": "Training", "registry": "Registry", "classify": "Classify"}
FORBIDDEN_IN_PAGES = {"sqlalchemy", "sklearn", "xgboost", "scipy", "pandera"}
SAMPLE_TIMEOUT_S = 180  # the sample is 61,069 rows through five steps


def _head(rows: int, bad_row: int | None = None, column: str = "cap-shape", value: str = "z") -> bytes:
    """The header and first ``rows`` data lines of the real file; optionally one cell of one row replaced."""
    lines = head_lines(rows)
    return as_bytes(lines if bad_row is None else with_cell(lines, bad_row, column, value))


def _texts(at: AppTest) -> list[str]:
    return [str(e.value) for kind in ("markdown", "caption", "success", "info", "error", "warning", "title",
                                      "subheader") for e in getattr(at, kind)]


def _button(at: AppTest, label: str) -> Button:
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r} among {[b.label for b in at.button]}"
    return matches[0]


def _upload_page() -> AppTest:
    return AppTest.from_file(PAGES / "upload.py", default_timeout=60)


# --- the shell ---------------------------------------------------------------------------------


def test_entry_point_renders_upload_page_and_sidebar(app_settings: Settings) -> None:
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Upload & Validation"], "the Upload page is the default"
    metrics = {m.label: m.value for m in at.sidebar.metric}
    assert metrics == {"Production rows": "0", "Open alerts": "0"}
    sidebar = " ".join(str(m.value) for m in at.sidebar.markdown)
    dialect = app_settings.production_database_url.split(":")[0].split("+")[0]
    assert dialect in sidebar
    assert "://" not in sidebar and str(app_settings.data_dir) not in sidebar, "never show a database URL"


@pytest.mark.parametrize("page", sorted(PLACEHOLDERS))
def test_entry_point_navigates_to_each_page(app_settings: Settings, page: str) -> None:
    # AppTest supports st.navigation: run the entry point, then switch to a registered page file.
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    at.switch_page(f"../pages/{page}.py").run()
    assert not at.exception
    assert PLACEHOLDERS[page] in at.info[0].value


@pytest.mark.parametrize("page", sorted(MODEL_PAGES))
def test_entry_point_navigates_to_each_model_page(app_settings: Settings, page: str) -> None:
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    at.switch_page(f"../pages/{page}.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == [MODEL_PAGES[page]]


@pytest.mark.parametrize("page", sorted([*PLACEHOLDERS, *MODEL_PAGES, "upload"]))
def test_each_page_file_renders_on_its_own(app_settings: Settings, page: str) -> None:
    at = AppTest.from_file(PAGES / f"{page}.py", default_timeout=60).run()
    assert not at.exception
    assert len(at.title) == 1


def test_invalid_settings_show_the_error_and_stop(app_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVALID_ROW_POLICY", "sometimes")
    get_settings.cache_clear()
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    assert not at.exception
    assert "INVALID_ROW_POLICY='sometimes'" in at.error[0].value
    assert not at.title, "no page runs on invalid settings"


@pytest.mark.parametrize("page", sorted(p.stem for p in PAGES.glob("*.py")))
def test_pages_stay_thin(page: str) -> None:
    tree = ast.parse((PAGES / f"{page}.py").read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & FORBIDDEN_IN_PAGES


# --- the Upload page ---------------------------------------------------------------------------


def test_empty_production_offers_the_sample(app_settings: Settings) -> None:
    at = _upload_page().run()
    assert not at.exception
    assert _button(at, "Load the sample data set")
    assert any("Wagner, Heider and Hattab (2021)" in c.value and "CC BY 4.0" in c.value for c in at.caption)
    assert any("No batches yet" in c.value for c in at.caption)


def test_sample_button_promotes_the_sample(app_settings: Settings) -> None:
    at = _upload_page().run()
    _button(at, "Load the sample data set").click()
    at.run(timeout=SAMPLE_TIMEOUT_S)
    assert not at.exception
    assert "61,069 rows promoted" in at.success[0].value
    assert at.status[0].state == "complete"
    assert services.production_count(settings=app_settings) == 61_069
    # Batch history, lineage and preview render from the services.
    assert [t.label for t in at.tabs] == ["Batch history (1)", "Production data (61,069 rows)", "Open alerts (0)"]
    frames = [d.value for d in at.dataframe]
    history = next(f for f in frames if "rows_promoted" in f.columns)
    assert history.loc[0, "rows_promoted"] == 61_069 and history.loc[0, "source"] == "sample"
    lineage = next(f for f in frames if "step" in f.columns)
    assert list(lineage["step"]) == list(services.STEPS)
    preview = next(f for f in frames if "cap_diameter" in f.columns)
    assert len(preview) == 100
    assert {m.label: m.value for m in at.metric}["Rows in production"] == "61,069"
    # The UCI file's 146 repeated rows are reported as warnings, not refused.
    assert any("146 warning(s)" in m.value for m in at.markdown)

    # A rerun keeps the outcome (session state holds only the batch id) and drops the sample offer.
    at.run()
    assert "61,069 rows promoted" in at.success[0].value
    assert all(b.label != "Load the sample data set" for b in at.button)


def test_rejected_batch_report_names_the_failing_row(app_settings: Settings) -> None:
    # Ingested through the service before the page runs: the page must show what is stored.
    bad = services.ingest_upload(_head(50, bad_row=17), "bad_rows.csv", settings=app_settings)
    assert bad.status == "rejected"
    at = _upload_page().run()
    assert not at.exception
    assert "Failing rows: 17" in _texts(at)
    report = next(d.value for d in at.dataframe if "check" in d.value.columns)
    failing = report[report["severity"] == "error"]
    assert list(failing["row"]) == [17] and list(failing["column"]) == ["cap_shape"]
    assert list(failing["value"]) == ["z"]
    assert any(b.label == "Download the filtered report (CSV)" for b in at.get("download_button"))
    # The rejection raised an alert; acknowledging it removes it from the open alerts.
    assert [t.label for t in at.tabs][2] == "Open alerts (1)"
    assert any("bad\\_rows.csv" in m.value and "rejected" in m.value for m in at.markdown)
    _button(at, "Acknowledge").click()
    at.run()
    assert not at.exception
    assert [t.label for t in at.tabs][2] == "Open alerts (0)"
    assert services.list_alerts(settings=app_settings) == []


def test_report_filters_narrow_the_table(app_settings: Settings) -> None:
    data = _head(60, bad_row=17)
    for row, column, value in ((23, "habitat", "q"), (41, "cap-color", "z")):
        header = data.decode().splitlines()[0].split(";")
        lines = data.decode().splitlines()
        cells = lines[row].split(";")
        cells[header.index(column)] = value
        lines[row] = ";".join(cells)
        data = ("\r\n".join(lines) + "\r\n").encode()
    services.ingest_upload(data, "three_bad.csv", settings=app_settings)
    at = _upload_page().run()
    assert "Failing rows: 17, 23, 41" in _texts(at)
    at.multiselect(key="history.column").set_value(["habitat"]).run()
    report = next(d.value for d in at.dataframe if "check" in d.value.columns)
    assert list(report["row"]) == [23]
    at.multiselect(key="history.column").set_value([]).run()
    at.text_input(key="history.check").input("no such check").run()
    report = next(d.value for d in at.dataframe if "check" in d.value.columns)
    assert report.empty


def test_upload_form_promotes_then_reports_duplicate(app_settings: Settings) -> None:
    # Streamlit 1.67's AppTest can drive st.file_uploader (FileUploader.set_value), so the form is
    # tested here too; the browser smoke test covers the real upload over HTTP.
    data = _head(50)
    at = _upload_page().run()
    at.file_uploader(key="upload.file").set_value(("fifty.csv", data, "text/csv"))
    _button(at, "Validate and ingest").click()
    at.run()
    assert not at.exception
    assert "50 rows promoted" in at.success[0].value
    at.run()
    assert "50 rows promoted" in at.success[0].value, "the last result survives a rerun"

    at.file_uploader(key="upload.file").set_value(("fifty_again.csv", data, "text/csv"))
    _button(at, "Validate and ingest").click()
    at.run()
    assert not at.exception
    assert "already promoted" in at.info[0].value
    assert services.production_count(settings=app_settings) == 50


def test_submit_without_a_file_asks_for_one(app_settings: Settings) -> None:
    at = _upload_page().run()
    _button(at, "Validate and ingest").click()
    at.run()
    assert "Choose a CSV file first" in at.warning[0].value


def test_file_over_the_limit_is_refused_before_ingestion(app_settings: Settings,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPLOAD_MAX_MB", "1")
    get_settings.cache_clear()
    at = _upload_page().run()
    assert at.file_uploader(key="upload.file").label == "CSV file, up to 1 MB"
    at.file_uploader(key="upload.file").set_value(("big.csv", b"x" * (1024 * 1024 + 1), "text/csv"))
    _button(at, "Validate and ingest").click()
    at.run()
    assert "over the limit of 1 MB" in at.error[0].value
    assert services.list_batches(settings=app_settings) == []


def test_broken_file_rejected_by_fetch_shows_the_engine_message(app_settings: Settings) -> None:
    at = _upload_page().run()
    at.file_uploader(key="upload.file").set_value(("empty.csv", b"", "text/csv"))
    _button(at, "Validate and ingest").click()
    at.run()
    assert not at.exception
    assert "The file is empty" in at.error[0].value
    assert at.status[0].state == "error"
