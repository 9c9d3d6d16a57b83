"""Upload & Validation page: send a CSV through the ingestion pipeline; inspect batches, production data, alerts."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from app import cache, widgets
from engine import services
from engine.config import get_settings
from engine.errors import EngineError, NotFoundError

LAST_BATCH = "upload.last_batch_id"  # session state holds only this id; everything shown comes from services
SAMPLE_CITATION = ("UCI Secondary Mushroom Dataset: Wagner, Heider and Hattab (2021), Scientific Reports 11:8134, "
                   "CC BY 4.0.")
POLICY_TEXT = {
    "reject": "a file with any invalid row is refused whole (INVALID_ROW_POLICY=reject)",
    "quarantine": "invalid rows are held back with their reasons, the rest is promoted (INVALID_ROW_POLICY=quarantine)",
}

Ingest = Callable[[Callable[[str], None]], services.IngestResult]


def _ingest(label: str, call: Ingest) -> services.IngestResult | None:
    """Run one ingestion inside a status with a progress bar; remember its batch id."""
    progress = widgets.IngestProgress(label)
    try:
        result = call(progress.on_step)
    except EngineError as exc:
        progress.fail(exc)
        widgets.show_engine_error(exc)
        return None
    finally:
        cache.clear_reads()  # even a rejection writes a batch, its report and an alert
    progress.finish(result)
    if result.batch_id is not None:
        st.session_state[LAST_BATCH] = result.batch_id
    return result


def _last_result(batch_id: int, result: services.IngestResult | None) -> None:
    """The outcome of the last upload of this session, with its report (rebuilt from services on every rerun)."""
    try:
        batch = cache.get_batch(batch_id)
    except NotFoundError:
        st.session_state.pop(LAST_BATCH, None)  # the databases changed under this session
        return
    st.subheader(f"Last upload: batch {batch.id} · {widgets.md_escape(batch.file_name)}")
    if result is not None and result.status == "duplicate":
        st.info(widgets.md_escape(result.message), icon=":material/info:")
    elif batch.status == "promoted":
        text = f"{batch.rows_promoted:,} rows promoted into production (batch {batch.id}, {batch.file_name})."
        if batch.rows_quarantined:
            text += f" {batch.rows_quarantined:,} invalid row(s) quarantined: see the report and the batch history."
        st.success(widgets.md_escape(text), icon=":material/check_circle:")
    elif batch.status == "rejected":
        st.error(f"Batch {batch.id} rejected, nothing reached production. {widgets.md_escape(batch.message)}\n\n"
                 "Next step: correct the rows named in the report below and upload the file again.",
                 icon=":material/error:")
    else:
        st.warning(f"Batch {batch.id} stopped at status '{batch.status}'. Upload the same file again to resume it.")
    # A rejection's report is the point of the section; a promoted batch's (warnings) is one click away.
    with st.expander(f"Validation report of batch {batch.id}", expanded=batch.status != "promoted"):
        widgets.report_table(cache.batch_report(batch.id), key="last", file_name=f"batch_{batch.id}_report.csv")


def _history(batches: list[services.BatchInfo]) -> None:
    """Batch history; the selected batch's lineage, stored report and quarantined rows."""
    if not batches:
        st.caption("No batches yet: upload a file or load the sample data set.")
        return
    widgets.batches_table(batches, key="upload.batches")
    by_id = {b.id: b for b in batches}
    chosen = st.selectbox("Inspect batch", list(by_id), key="upload.inspect",
                          format_func=lambda i: f"#{i} · {by_id[i].file_name} · {by_id[i].status}")
    if chosen is None:
        return
    batch = by_id[chosen]
    st.markdown(f"**Lineage of batch {batch.id}** ({batch.source}, by {batch.created_by}, "
                f"{batch.attempts} attempt(s), sha256 `{batch.sha256[:16]}…`)")
    widgets.lineage_view(cache.batch_lineage(batch.id), key="upload.lineage")
    st.markdown(f"**Validation report of batch {batch.id}** (latest attempt)")
    widgets.report_table(cache.batch_report(batch.id), key="history", file_name=f"batch_{batch.id}_report.csv")
    if batch.rows_quarantined:
        st.markdown(f"**Quarantined rows of batch {batch.id}** ({batch.rows_quarantined:,})")
        st.dataframe(cache.quarantined_rows(batch.id), hide_index=True, key="upload.quarantine")


def _production(count: int) -> None:
    st.metric("Rows in production", f"{count:,}")
    if count:
        st.caption("The 100 newest rows of mushroom_data.")
        st.dataframe(cache.production_preview(100), hide_index=True, key="upload.preview")


def _alerts(alerts: list[services.AlertInfo]) -> None:
    if not alerts:
        st.caption("No open alerts.")
        return
    for alert in alerts:
        with st.container(border=True):
            text, button = st.columns([6, 1], vertical_alignment="center")
            batch = f" · batch {alert.batch_id}" if alert.batch_id is not None else ""
            text.markdown(f"**{alert.severity}** · {alert.source}{batch} · {alert.created_at:%Y-%m-%d %H:%M} UTC  \n"
                          f"{widgets.md_escape(alert.message)}")
            if button.button("Acknowledge", key=f"upload.ack.{alert.id}"):
                services.acknowledge_alert(alert.id)
                cache.clear_reads()
                st.rerun()


def _render() -> None:
    settings = get_settings()
    limit_mb = min(settings.upload_max_mb, int(st.get_option("server.maxUploadSize")))
    st.caption(f"Files go through five steps: fetch, initial validation, staging, detailed validation and "
               f"promotion into production. Invalid rows: {POLICY_TEXT[settings.invalid_row_policy]}.")

    sample_slot = st.empty()
    load_sample = False
    if cache.production_count() == 0:
        with sample_slot.container(border=True):
            st.markdown("**The production table is empty.** Try the whole pipeline with the sample data set "
                        "(61,069 mushrooms simulated from 173 species).")
            st.caption(SAMPLE_CITATION)
            load_sample = st.button("Load the sample data set", type="primary", key="upload.sample")

    with st.form("upload.form", clear_on_submit=True):
        uploaded = st.file_uploader(f"CSV file, up to {limit_mb} MB", type=["csv"], max_upload_size=limit_mb,
                                    key="upload.file")
        submitted = st.form_submit_button("Validate and ingest", type="primary")

    result: services.IngestResult | None = None
    if load_sample:
        sample_slot.empty()
        result = _ingest("Loading the sample data set", lambda hook: services.ingest_sample(on_step=hook))
    elif submitted and uploaded is None:
        st.warning("Choose a CSV file first, then press Validate and ingest.")
    elif submitted and uploaded is not None:
        if uploaded.size > limit_mb * 1024 * 1024:
            st.error(f"{uploaded.name} is {uploaded.size / 1e6:.1f} MB, over the limit of {limit_mb} MB. "
                     "Next step: split the file into smaller files.")
        else:
            data, name = uploaded.getvalue(), uploaded.name
            result = _ingest(f"Ingesting {name}",
                             lambda hook: services.ingest_upload(data, name, source="upload", on_step=hook))

    last = st.session_state.get(LAST_BATCH)
    if last is not None:
        _last_result(int(last), result)

    batches = cache.list_batches()
    count = cache.production_count()
    alerts = cache.list_alerts()
    history, production, open_alerts = st.tabs(
        [f"Batch history ({len(batches)})", f"Production data ({count:,} rows)", f"Open alerts ({len(alerts)})"])
    with history:
        _history(batches)
    with production:
        _production(count)
    with open_alerts:
        _alerts(alerts)


st.title("Upload & Validation")
try:
    _render()
except EngineError as exc:
    widgets.show_engine_error(exc)
