"""The app's only st.cache_* wrappers: short-lived cached reads of engine services, cleared after writes."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from engine import registry, services
from engine.config import get_settings

#: Lists and counts change whenever anyone (another tab, the scheduler, the CLI) writes.
LIST_TTL_S = 10
#: A batch's lineage and report change only when the same file is sent again.
BATCH_TTL_S = 60
#: The prediction log grows with every answer (this tab, other tabs, the API); read it often.
PREDICTIONS_TTL_S = 5


def _db_key() -> str:
    """Part of every cache key, so two configurations (tests, a changed .env) never share results.

    It is hashed by Streamlit and never displayed.
    """
    settings = get_settings()
    return f"{settings.staging_database_url}|{settings.production_database_url}"


@st.cache_data(ttl=LIST_TTL_S, show_spinner=False)
def _production_count(db_key: str) -> int:
    return services.production_count()


@st.cache_data(ttl=LIST_TTL_S, show_spinner=False)
def _list_batches(db_key: str, limit: int) -> list[services.BatchInfo]:
    return services.list_batches(limit)


@st.cache_data(ttl=LIST_TTL_S, show_spinner=False)
def _list_alerts(db_key: str) -> list[services.AlertInfo]:
    return services.list_alerts(open_only=True)


@st.cache_data(ttl=LIST_TTL_S, show_spinner=False)
def _production_preview(db_key: str, limit: int) -> pd.DataFrame:
    return services.production_preview(limit)


@st.cache_data(ttl=BATCH_TTL_S, show_spinner=False)
def _get_batch(db_key: str, batch_id: int) -> services.BatchInfo:
    return services.get_batch(batch_id)


@st.cache_data(ttl=BATCH_TTL_S, show_spinner=False)
def _batch_lineage(db_key: str, batch_id: int) -> list[services.StepInfo]:
    return services.batch_lineage(batch_id)


@st.cache_data(ttl=BATCH_TTL_S, show_spinner=False)
def _batch_report(db_key: str, batch_id: int) -> pd.DataFrame:
    return services.batch_report(batch_id)


@st.cache_data(ttl=BATCH_TTL_S, show_spinner=False)
def _quarantined_rows(db_key: str, batch_id: int) -> pd.DataFrame:
    return services.quarantined_rows(batch_id)


@st.cache_data(ttl=LIST_TTL_S, show_spinner=False)
def _list_versions(db_key: str) -> list[registry.ModelVersionInfo]:
    return services.list_versions()


@st.cache_data(ttl=LIST_TTL_S, show_spinner=False)
def _get_version(db_key: str, version: int) -> registry.ModelVersionInfo:
    return services.get_version(version)


@st.cache_data(ttl=LIST_TTL_S, show_spinner=False)
def _production_version(db_key: str) -> registry.ModelVersionInfo | None:
    return services.production_version()


@st.cache_data(ttl=LIST_TTL_S, show_spinner=False)
def _audit_trail(db_key: str, version: int | None) -> list[registry.TransitionInfo]:
    return services.audit_trail(version)


@st.cache_data(ttl=LIST_TTL_S, show_spinner=False)
def _production_version_at(db_key: str, when: datetime) -> int | None:
    return services.production_version_at(when)


@st.cache_data(ttl=BATCH_TTL_S, show_spinner=False)
def _training_snapshot(db_key: str, snapshot_id: int) -> dict[str, object]:
    return services.training_snapshot(snapshot_id)


@st.cache_data(ttl=PREDICTIONS_TTL_S, show_spinner=False)
def _recent_predictions(db_key: str, limit: int) -> pd.DataFrame:
    return services.recent_predictions(limit)


def production_count() -> int:
    """Rows in the production table."""
    return _production_count(_db_key())


def list_batches(limit: int = 100) -> list[services.BatchInfo]:
    """Newest batches first."""
    return _list_batches(_db_key(), limit)


def list_alerts() -> list[services.AlertInfo]:
    """Open (unacknowledged) alerts, newest first."""
    return _list_alerts(_db_key())


def production_preview(limit: int = 100) -> pd.DataFrame:
    """The newest ``limit`` production rows."""
    return _production_preview(_db_key(), limit)


def get_batch(batch_id: int) -> services.BatchInfo:
    """One batch (NotFoundError if unknown; errors are never cached)."""
    return _get_batch(_db_key(), batch_id)


def batch_lineage(batch_id: int) -> list[services.StepInfo]:
    """Every step of every attempt of a batch."""
    return _batch_lineage(_db_key(), batch_id)


def batch_report(batch_id: int) -> pd.DataFrame:
    """The latest attempt's validation report of a batch."""
    return _batch_report(_db_key(), batch_id)


def quarantined_rows(batch_id: int) -> pd.DataFrame:
    """Rows of a batch held back under the quarantine policy."""
    return _quarantined_rows(_db_key(), batch_id)


def list_versions() -> list[registry.ModelVersionInfo]:
    """Every registered model version, newest first."""
    return _list_versions(_db_key())


def get_version(version: int) -> registry.ModelVersionInfo:
    """One model version (NotFoundError if unknown; errors are never cached)."""
    return _get_version(_db_key(), version)


def production_version() -> registry.ModelVersionInfo | None:
    """The version in production, or None."""
    return _production_version(_db_key())


def audit_trail(version: int | None = None) -> list[registry.TransitionInfo]:
    """Stage transitions, oldest first; of one version or of all."""
    return _audit_trail(_db_key(), version)


def production_version_at(when: datetime) -> int | None:
    """Which version was in production at ``when`` (naive UTC)."""
    return _production_version_at(_db_key(), when)


def recent_predictions(limit: int = 200) -> pd.DataFrame:
    """The newest logged predictions (up to PREDICTIONS_TTL_S old; the log itself is written in the background)."""
    return _recent_predictions(_db_key(), limit)


def clear_predictions() -> None:
    """Forget the cached prediction log, e.g. after this session's predictions were flushed."""
    _recent_predictions.clear()


_ALL = (_production_count, _list_batches, _list_alerts, _production_preview, _get_batch, _batch_lineage,
        _batch_report, _quarantined_rows, _list_versions, _get_version, _production_version, _audit_trail,
        _production_version_at, _recent_predictions)


def clear_reads() -> None:
    """Forget every cached read; call after a write (ingest, acknowledge, train, promote) so the page shows it."""
    for cached in _ALL:
        cached.clear()


def training_snapshot(snapshot_id: int) -> dict[str, object]:
    """A training snapshot (immutable, so cached like a batch)."""
    return _training_snapshot(_db_key(), snapshot_id)
