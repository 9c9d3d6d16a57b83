"""Smoke tests of the real app in headless Chromium: upload a valid and a broken file, load the sample."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.realdata import as_bytes, head_lines, with_cell

pytestmark = pytest.mark.browser

ROWS = 200
BAD_ROW = 17  # data row (header not counted) given an unknown cap-shape code
SAMPLE_TIMEOUT_MS = 180_000


def _csv(path: Path, bad_row: int | None = None) -> Path:
    """The header and the first ROWS data lines of the real file, optionally with one unknown code."""
    lines = head_lines(ROWS)
    path.write_bytes(as_bytes(lines if bad_row is None else with_cell(lines, bad_row, "cap-shape", "z")))
    return path


def _upload(page: Page, path: Path) -> None:
    """Choose the file in the form's uploader, wait until the server has it, then submit."""
    page.locator("input[type=file]").set_input_files(str(path))
    expect(page.get_by_role("button", name=f"Remove {path.name}")).to_be_visible()
    page.get_by_role("button", name="Validate and ingest").click()


def _sidebar_metric(page: Page, label: str, value: str) -> None:
    """Wait for a sidebar count; the sidebar is filled last, so this also means the script run ended."""
    metric = page.get_by_test_id("stSidebar").get_by_test_id("stMetric").filter(has_text=label)
    expect(metric.get_by_test_id("stMetricValue")).to_have_text(value)


def test_upload_valid_then_broken_file(page: Page, tmp_path: Path, screenshot: Callable[[Page, str], Path]) -> None:
    expect(page.get_by_role("heading", name="Upload & Validation")).to_be_visible()
    expect(page.get_by_role("button", name="Load the sample data set")).to_be_visible()

    _upload(page, _csv(tmp_path / "valid_200.csv"))
    expect(page.get_by_text(f"{ROWS} rows promoted")).to_be_visible()
    expect(page.get_by_text("Production data (200 rows)")).to_be_visible()
    _sidebar_metric(page, "Production rows", "200")
    screenshot(page, "upload_valid")

    _upload(page, _csv(tmp_path / "broken_200.csv", bad_row=BAD_ROW))
    expect(page.get_by_text(f"first at row {BAD_ROW}").filter(visible=True).first).to_be_visible()
    expect(page.get_by_text(f"Failing rows: {BAD_ROW}").filter(visible=True).first).to_be_visible()
    expect(page.get_by_text("Production data (200 rows)")).to_be_visible()  # nothing of it reached production
    _sidebar_metric(page, "Open alerts", "1")
    _sidebar_metric(page, "Production rows", "200")
    assert screenshot(page, "upload_broken").stat().st_size > 0


def test_sample_button_loads_the_sample(page: Page, screenshot: Callable[[Page, str], Path]) -> None:
    page.get_by_role("button", name="Load the sample data set").click()
    expect(page.get_by_text("61,069 rows promoted")).to_be_visible(timeout=SAMPLE_TIMEOUT_MS)
    expect(page.get_by_text("Production data (61,069 rows)")).to_be_visible()
    expect(page.get_by_role("button", name="Load the sample data set")).to_have_count(0)
    _sidebar_metric(page, "Production rows", "61,069")
    screenshot(page, "upload_sample")
