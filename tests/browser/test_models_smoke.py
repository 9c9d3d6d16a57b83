"""Smoke test of the model pages in headless Chromium: train lr, promote it, classify one mushroom."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from engine import dataset
from engine.config import Settings
from tests.conftest import PRIMARY, SECONDARY
from tests.realdata import ingest_ten_species

pytestmark = pytest.mark.browser

TRAIN_TIMEOUT_MS = 120_000
#: The first data row of secondary_data.csv; only its required features are typed in.
FIRST_ROW = "p;15.26;x;g;o;f;e;;w;16.95;17.09;s;y;w;u;w;t;g;;d;w"
DECISION = re.compile(r"POISONOUS|UNCERTAIN - DO NOT EAT|EDIBLE")


@pytest.fixture
def seed_app() -> Callable[[Settings], None]:
    """The species reference and 10 species (5 edible, 5 poisonous) in production, before the server starts."""
    if not (SECONDARY.is_file() and PRIMARY.is_file()):
        pytest.skip(f"real data files {SECONDARY} / {PRIMARY} not found")

    def seed(settings: Settings) -> None:
        ingest_ten_species(settings, SECONDARY.read_bytes(), PRIMARY)

    return seed


def _go(page: Page, title: str) -> None:
    """Open a page from the sidebar navigation (same session) and wait for its title."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()


def _settled(page: Page) -> None:
    """Wait until the script run is over: no element is left greyed out as stale."""
    expect(page.locator("[data-stale='true']")).to_have_count(0)


def _form(page: Page, text: str) -> Locator:
    return page.get_by_test_id("stForm").filter(has_text=text)


def _choose(page: Page, label: str, option: str) -> None:
    """Pick an option of a selectbox by typing it and pressing Enter."""
    box = page.get_by_role("combobox", name=label, exact=True)
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)


def test_train_promote_and_classify(page: Page, screenshot: Callable[[Page, str], Path]) -> None:
    expect(page.get_by_role("heading", name="Upload & Validation")).to_be_visible()

    _go(page, "Training")
    families = page.get_by_test_id("stMultiSelect").filter(has_text="Model families")
    for name in ("Decision tree (dt)", "XGBoost (xgb)"):
        families.get_by_role("button", name=f"Remove {name}").click()
    expect(families.get_by_role("button", name=re.compile("^Remove "))).to_have_count(1)
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text("Trained and registered v1 (lr) in staging")).to_be_visible(timeout=TRAIN_TIMEOUT_MS)
    expect(page.get_by_text("False-edible rate at the safety threshold").first).to_be_visible()
    _settled(page)
    screenshot(page, "training")

    _go(page, "Registry")
    promote = _form(page, "Change a version's stage")
    promote.get_by_label("Reason (required, goes in the audit trail)").fill("smoke test release")
    promote.get_by_role("button", name="Change stage").click()
    expect(page.get_by_text("Version 1: staging → production")).to_be_visible()
    _settled(page)
    screenshot(page, "registry")

    _go(page, "Classify")
    cells = dict(zip(dataset.FEATURES, FIRST_ROW.split(";")[1:], strict=True))
    for name in sorted(dataset.REQUIRED - {dataset.TARGET}, key=dataset.FEATURES.index):
        label = dataset.describe(name) + " *"
        if name in dataset.NUMERIC:
            field = page.get_by_label(label, exact=True)
            field.fill(cells[name])
            field.press("Tab")
        else:
            _choose(page, label, f"{cells[name]} = {dataset.CODES[name][cells[name]]}")
    page.get_by_role("button", name="Classify").click()
    expect(page.get_by_role("heading", name=DECISION)).to_be_visible()
    expect(page.get_by_text("P(poisonous)").first).to_be_visible()
    _settled(page)
    screenshot(page, "classify")
