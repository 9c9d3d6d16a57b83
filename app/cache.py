"""The app's only st.cache_* wrappers: short-lived cached reads of engine services, cleared after writes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine import services
from engine.config import get_settings

#: Lists and counts change whenever anyone (another tab, the scheduler, the CLI) writes.
LIST_TTL_S = 10
#: A batch's lineage and report change only when the same file is sent again.
BATCH_TTL_S = 60


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


_ALL = (_production_count, _list_batches, _list_alerts, _production_preview, _get_batch, _batch_lineage,
        _batch_report, _quarantined_rows)


def clear_reads() -> None:
    """Forget every cached read; call after a write (ingest, acknowledge) so the page shows it at once."""
    for cached in _ALL:
        cached.clear()
