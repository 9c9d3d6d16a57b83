"""App fixtures: the app's own get_settings() pointed at the test databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st

from engine.config import Settings, get_settings
from tests.app.appenv import point_app_at


@pytest.fixture
def app_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The app's own get_settings() pointed at the fresh databases of ``settings`` (a tmp data dir on SQLite)."""
    point_app_at(settings, monkeypatch)
    yield settings
    get_settings.cache_clear()
    st.cache_data.clear()
