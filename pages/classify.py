"""Classify page: one mushroom from a form, a CSV file of mushrooms, and the recent predictions."""

from __future__ import annotations

from pathlib import PurePath

import streamlit as st

from app import cache, widgets
from engine import registry, services
from engine.config import get_settings
from engine.errors import EngineError
from engine.serving import PredictionResult
from engine.training.safety import LABELS

LAST_RESULT = "classify.last_result"  # the answer to this session's last form, with the values it was given
NOT_SCORED = "not scored"
RECENT_LIMIT = 200
FLUSH_TIMEOUT_S = 5.0


def _version_choice(infos: list[registry.ModelVersionInfo]) -> int | None:
    by_id = {i.version: i for i in infos}
    production = next((i for i in infos if i.stage == registry.PRODUCTION), None)
    default = f"Production version ({widgets.version_name(production)})" if production else \
        "Production version (none yet)"
    return st.selectbox("Model version", [None, *by_id], key="classify.version",
                        format_func=lambda v: default if v is None else widgets.version_name(by_id[v]),
                        help="By default the version in production answers; pick another to try it.")


def _flush_log() -> None:
    """Let this session's predictions reach the log before the recent-predictions table is read."""
    try:
        services.prediction_log().flush(timeout=FLUSH_TIMEOUT_S)
    except TimeoutError:
        st.caption("The prediction log is still being written; the table below may lag a few seconds.")
    cache.clear_predictions()


def _one(infos: list[registry.ModelVersionInfo]) -> None:
    """Part (a): the form, and the answer to its last submission."""
    with st.form("classify.form"):
        st.caption("Fields marked * are required; leave the others as (missing / unknown) when you cannot tell.")
        features = widgets.mushroom_inputs("classify.feature")
        version = _version_choice(infos)
        submitted = st.form_submit_button("Classify", type="primary")
    if submitted:
        st.session_state.pop(LAST_RESULT, None)
        try:
            result = services.predict_one(features, version=version, source="form")
        except EngineError as exc:
            widgets.show_engine_error(exc)
        else:
            st.session_state[LAST_RESULT] = (result, features)
    last: tuple[PredictionResult, dict[str, object]] | None = st.session_state.get(LAST_RESULT)
    if last is None:
        return
    result, given = last
    widgets.decision_view(result)
    if result.drivers:
        st.markdown("**What drove it**: how much P(poisonous) changes when each feature is treated as unknown "
                    "(positive: towards poisonous)")
        st.altair_chart(widgets.drivers_chart(result, given), width="stretch", key="classify.drivers")
    if submitted:
        _flush_log()


def _batch() -> None:
    """Part (b): score every row of a CSV file."""
    limit_mb = min(get_settings().upload_max_mb, int(st.get_option("server.maxUploadSize")))
    with st.form("classify.csv_form", clear_on_submit=True):
        uploaded = st.file_uploader(f"CSV file with the 20 feature columns, up to {limit_mb} MB (a class column is "
                                    "ignored)", type=["csv"], max_upload_size=limit_mb, key="classify.file")
        submitted = st.form_submit_button("Score the file", type="primary")
    if not submitted:
        return
    if uploaded is None:
        st.warning("Choose a CSV file first, then press Score the file.")
        return
    with st.spinner(f"Scoring {uploaded.name}…"):
        try:
            scored, failures = services.predict_csv(uploaded.getvalue(), uploaded.name)
        except EngineError as exc:
            widgets.show_engine_error(exc)
            return
    counts = scored["decision"].fillna(NOT_SCORED).value_counts()
    st.markdown(f"**{widgets.md_escape(uploaded.name)}**: {len(scored):,} row(s), scored by version "
                f"{int(scored['version'].iloc[0])}.")
    for label, slot in zip([*LABELS, NOT_SCORED], st.columns(len(LABELS) + 1), strict=True):
        slot.metric(label, f"{int(counts.get(label, 0)):,}")
    if failures:
        bad_rows = sorted({f.row for f in failures if f.row is not None})
        st.error(f"{len(bad_rows):,} row(s) could not be scored; their problems are listed below and in the "
                 "error column.\n\nNext step: correct those rows and score the file again.", icon=":material/error:")
        st.dataframe(services.failures_frame(failures), hide_index=True, key="classify.failures",
                     column_config={"row": st.column_config.NumberColumn("row", format="%d")})
    first = ["decision", "p_poisonous", "version", "error"]
    shown = scored[first + [c for c in scored.columns if c not in first]]
    shown.insert(0, "row", range(1, len(shown) + 1))
    st.dataframe(shown, hide_index=True, key="classify.scored",
                 column_config={"p_poisonous": st.column_config.NumberColumn("P(poisonous)", format="%.3f")})
    st.caption("Rows are numbered from 1 (the header is not counted); the download holds the file's columns "
               "followed by p_poisonous, decision, version and error.")
    st.download_button("Download the scored CSV", scored.to_csv(index=False).encode("utf-8"),
                       file_name=f"{PurePath(uploaded.name).stem}_scored.csv", mime="text/csv",
                       key="classify.download", on_click="ignore")
    _flush_log()


def _recent() -> None:
    """Part (c): the newest logged predictions, from every source."""
    frame = cache.recent_predictions(RECENT_LIMIT)
    if frame.empty:
        st.caption("No predictions logged yet.")
        return
    order = ["created_at", "decision", "p_poisonous", "version_id", "source", "row_number", "request_id",
             "inputs_json"]
    frame = frame[[c for c in order if c in frame.columns]]
    st.dataframe(frame, hide_index=True, key="classify.recent",
                 column_config={"created_at": st.column_config.DatetimeColumn("at (UTC)",
                                                                             format="YYYY-MM-DD HH:mm:ss"),
                                "p_poisonous": st.column_config.NumberColumn("P(poisonous)", format="%.3f"),
                                "version_id": st.column_config.NumberColumn("version", format="%d"),
                                "row_number": st.column_config.NumberColumn("row", format="%d")})
    st.caption(f"The {len(frame):,} newest predictions (form, files, API), newest first; refreshed every "
               f"{cache.PREDICTIONS_TTL_S} s.")


def _render() -> None:
    infos = cache.list_versions()
    if cache.production_version() is None:
        st.info("No model version is in production yet, so only a chosen version can answer. Promote one on the "
                "Registry page.", icon=":material/info:")
    st.subheader("One mushroom")
    _one(infos)
    st.subheader("A file of mushrooms")
    _batch()
    st.subheader("Recent predictions")
    _recent()


st.title("Classify")
try:
    _render()
except EngineError as exc:
    widgets.show_engine_error(exc)
