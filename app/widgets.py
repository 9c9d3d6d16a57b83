"""Shared widgets: engine errors, the validation report table, ingestion progress and batch lineage."""

from __future__ import annotations

import re
from dataclasses import asdict

import pandas as pd
import streamlit as st

from engine import services
from engine.errors import EngineError

STEP_LABELS: dict[str, str] = {
    "fetch": "Fetch: read and parse the file",
    "initial_validation": "Initial validation: columns, types, format",
    "staging": "Staging: rows into the staging database",
    "detailed_validation": "Detailed validation: codes, ranges, rules across columns",
    "promotion": "Promotion: one transaction into production",
}

_NEXT_STEP: dict[str, str] = {
    "config_error": "Fix the setting in the environment or in .env, then restart the app.",
    "input_error": "Correct the file or the input, then try again.",
    "file_rejected": "Correct the file, then upload it again.",
    "not_found": "Reload the page: the record may have been removed or the id mistyped.",
    "state_error": "Check the record's current state; the action is not allowed in it.",
    "integrity_error": "Do not use this record; ask an administrator to check the stored data.",
}
_REPORT_COLUMNS = ["row", "column", "value", "check", "severity"]
_MAX_ROWS_LISTED = 50
_MARKS = {"ok": ":green[:material/check_circle:]", "failed": ":red[:material/cancel:]",
          "pending": ":gray[:material/radio_button_unchecked:]"}
_MD_SPECIAL = re.compile(r"[\\`*_\[\]<>|~$]")


def dialect_name(url: str) -> str:
    """The database kind of a URL (``postgresql+psycopg2://u:p@h/db`` -> ``postgresql``); never the URL."""
    return url.split(":", 1)[0].split("+", 1)[0] or "unknown"


def md_escape(text: str) -> str:
    """Text from data or the engine, safe to show in Markdown (no emphasis, links, HTML or LaTeX)."""
    return _MD_SPECIAL.sub(r"\\\g<0>", text)


def show_engine_error(exc: EngineError) -> None:
    """An engine error as st.error: what failed (the engine's message) and what to do next."""
    next_step = _NEXT_STEP.get(exc.code, "If it happens again, send this message to the administrator.")
    st.error(f"{md_escape(exc.message)}\n\nNext step: {next_step}", icon=":material/error:")


def _rows_text(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:_MAX_ROWS_LISTED])
    more = len(rows) - _MAX_ROWS_LISTED
    return shown + (f" … and {more:,} more" if more > 0 else "")


def report_table(frame: pd.DataFrame, key: str, *, file_name: str = "validation_report.csv") -> None:
    """A validation report (row, column, value, check, severity) with filters and a CSV download.

    ``row`` is the 1-based data row of the file (the header is not counted); an empty row or
    column means the issue concerns the whole file or the whole row.
    """
    if frame.empty:
        st.caption("No validation issues recorded.")
        return
    columns = [c for c in _REPORT_COLUMNS if c in frame.columns] + [
        c for c in frame.columns if c not in _REPORT_COLUMNS]
    frame = frame[columns]
    errors = frame[frame["severity"] == "error"]
    warnings = frame[frame["severity"] != "error"]
    error_rows = sorted(int(r) for r in errors["row"].dropna().unique())
    warning_rows = sorted(int(r) for r in warnings["row"].dropna().unique())
    whole_file = int(frame["row"].isna().sum())
    st.markdown(f"**{len(errors):,} error(s)** in {len(error_rows):,} row(s), **{len(warnings):,} warning(s)**"
                + (f", {whole_file:,} about the whole file" if whole_file else "") + ".")
    if error_rows:
        st.markdown(f"Failing rows: {_rows_text(error_rows)}")
    if warning_rows:
        st.markdown(f"Rows with warnings: {_rows_text(warning_rows)}")

    left, middle, right = st.columns([1, 2, 2])
    severities = sorted(frame["severity"].dropna().unique())
    chosen_severity = left.multiselect("Severity", severities, default=severities, key=f"{key}.severity")
    column_names = sorted(frame["column"].dropna().unique())
    chosen_columns = middle.multiselect("Column", column_names, key=f"{key}.column",
                                        placeholder="All columns")
    text = right.text_input("Check contains", key=f"{key}.check", placeholder="e.g. isin, duplicate")

    shown = frame[frame["severity"].isin(chosen_severity)]
    if chosen_columns:
        shown = shown[shown["column"].isin(chosen_columns)]
    if text.strip():
        shown = shown[shown["check"].str.contains(text.strip(), case=False, regex=False, na=False)]
    st.dataframe(shown, hide_index=True, key=f"{key}.table",
                 column_config={"row": st.column_config.NumberColumn("row", format="%d")})
    st.caption(f"Showing {len(shown):,} of {len(frame):,} report lines. Rows count data lines of the file, "
               "from 1 (the header is not counted).")
    st.download_button("Download the filtered report (CSV)", shown.to_csv(index=False).encode("utf-8"),
                       file_name=file_name, mime="text/csv", key=f"{key}.download", on_click="ignore")


def batches_table(batches: list[services.BatchInfo], key: str) -> None:
    """The batch history as a table (newest first)."""
    frame = pd.DataFrame([asdict(b) for b in batches])
    order = ["id", "file_name", "status", "source", "rows_read", "rows_promoted", "rows_quarantined",
             "rows_failed", "attempts", "created_by", "created_at", "promoted_at", "message", "sha256"]
    st.dataframe(frame[order], hide_index=True, key=key)


def lineage_view(steps: list[services.StepInfo], key: str) -> None:
    """A batch's lineage: the latest attempt as a chain of steps, then every step of every attempt."""
    if not steps:
        st.caption("No steps recorded for this batch.")
        return
    latest = max(s.attempt for s in steps)
    status = {s.step: s.status for s in steps if s.attempt == latest}
    chain = " → ".join(f"{_MARKS.get(status.get(step, ''), _MARKS['pending'])} {step.replace('_', ' ')}"
                       for step in services.STEPS)
    st.markdown(f"Attempt {latest}: {chain}")
    frame = pd.DataFrame([asdict(s) for s in steps])
    st.dataframe(frame, hide_index=True, key=key,
                 column_config={"duration_s": st.column_config.NumberColumn("duration (s)", format="%.3f")})


class IngestProgress:
    """An st.status with an st.progress bar that follows the five ingestion steps.

    Pass :meth:`on_step` to the engine as its ``on_step`` hook, then call :meth:`finish` or :meth:`fail`.
    """

    def __init__(self, label: str) -> None:
        self._status = st.status(label, expanded=True)
        self._done = 0
        with self._status:
            self._bar = st.progress(0.0, text=self._next_text())

    def _next_text(self) -> str:
        if self._done >= len(services.STEPS):
            return "All steps done"
        step = services.STEPS[self._done]
        return f"Step {self._done + 1} of {len(services.STEPS)}: {STEP_LABELS[step]}…"

    def on_step(self, step: str) -> None:
        """Called by the engine after each step completes."""
        self._done += 1
        with self._status:
            st.write(f"{_MARKS['ok']} {STEP_LABELS.get(step, step)}")
        self._bar.progress(min(self._done / len(services.STEPS), 1.0), text=self._next_text())

    def finish(self, result: services.IngestResult) -> None:
        """Close the status with the outcome; a failed step is written out with its detail."""
        for step in result.steps:
            if step.status == "failed":
                with self._status:
                    st.write(f"{_MARKS['failed']} {STEP_LABELS.get(step.step, step.step)}: {md_escape(step.detail)}")
        if result.status == "promoted":
            self._bar.progress(1.0, text="All steps done")
            self._status.update(label=f"{result.file_name}: batch {result.batch_id} promoted",
                                state="complete", expanded=False)
        elif result.status == "duplicate":
            self._status.update(label=f"{result.file_name}: already promoted as batch {result.batch_id}",
                                state="complete", expanded=False)
        else:
            self._bar.progress(min(self._done / len(services.STEPS), 1.0),
                               text=f"Stopped after {self._done} of {len(services.STEPS)} steps")
            self._status.update(label=f"{result.file_name}: batch {result.batch_id} {result.status}",
                                state="error", expanded=False)

    def fail(self, exc: EngineError) -> None:
        """Close the status after an engine error."""
        self._status.update(label=f"Stopped: {exc.code}", state="error", expanded=False)
