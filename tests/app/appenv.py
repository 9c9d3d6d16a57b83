"""Point the app's own get_settings() at given Settings (shared by the app fixtures and tests)."""

from __future__ import annotations

import pytest
import streamlit as st

from engine.config import Settings, get_settings


def point_app_at(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Set the environment so that get_settings() returns ``settings``; forget cached settings and reads."""
    env = {
        "MUSHROOM_DATA_DIR": str(settings.data_dir),
        "STAGING_DATABASE_URL": settings.staging_database_url,
        "PRODUCTION_DATABASE_URL": settings.production_database_url,
        "MUSHROOM_ENV": settings.environment,
        "MUSHROOM_USER": settings.user,
        "INVALID_ROW_POLICY": settings.invalid_row_policy,
        "UPLOAD_MAX_MB": str(settings.upload_max_mb),
        "ARTIFACT_DIR": str(settings.artifact_dir),
        "INBOX_DIR": str(settings.inbox_dir),
        "MAX_FALSE_EDIBLE_RATE": str(settings.max_false_edible_rate),
        "PRODUCTION_GATE_MAX_FALSE_EDIBLE": str(settings.production_gate_max_false_edible),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    st.cache_data.clear()
    assert get_settings() == settings
