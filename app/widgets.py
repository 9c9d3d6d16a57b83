"""Shared widgets: engine errors, validation reports, ingestion and training progress, model evaluations."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict

import altair as alt
import pandas as pd
import streamlit as st

from engine import dataset, services
from engine.errors import EngineError
from engine.registry import ModelVersionInfo
from engine.serving import PredictionResult
from engine.training.metrics import Metrics
from engine.training.pipelines import FAMILY_NAMES
from engine.training.safety import EDIBLE, POISONOUS, UNCERTAIN

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
    "no_data": "Ingest data on the Upload page (or load the sample data set there), then train again.",
    "no_species": "Load the species reference (`python -m engine load-species`), or load the sample data set on "
                  "the Upload page, which loads it too; then train again.",
    "bad_param": "Correct the hyperparameter in the form, then train again.",
    "unknown_family": "Choose model families from the list, then train again.",
    "gate_refused": "Promote a version that passes the gate, or retrain with other settings on the Training page.",
    "bad_transition": "Check the version's stage in the versions table; archive or promote it from there.",
    "no_production": "Promote a version on the Registry page (or choose a version in the form), then try again.",
    "no_previous": "Promote another version instead; a rollback needs an earlier production version.",
    "bad_row": "Fill in or correct the values named above, then classify again.",
    "missing_columns": "Use the column names of the secondary mushroom data set, then send the file again.",
    "tampered": "Do not use this version; ask an administrator to check the artifact folder, or retrain.",
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


# ---------------------------------------------------------------- training and models

#: How each decision is shown: colour (Streamlit markdown colour), icon, text.
DECISION_STYLE: dict[str, tuple[str, str, str]] = {
    POISONOUS: ("red", ":material/dangerous:", "POISONOUS"),
    UNCERTAIN: ("orange", ":material/help:", "UNCERTAIN - DO NOT EAT"),
    EDIBLE: ("green", ":material/check_circle:", "EDIBLE"),
}
#: The same colours for charts.
DECISION_COLOURS: dict[str, str] = {POISONOUS: "#d32f2f", UNCERTAIN: "#ef6c00", EDIBLE: "#2e7d32"}
#: Short names of the metrics for wide tables.
SHORT_LABELS: dict[str, str] = {
    "accuracy": "accuracy", "precision": "precision", "recall_poisonous": "recall (p)", "f1": "F1", "f2": "F2",
    "roc_auc": "ROC AUC", "false_edible_rate": "false-edible @0.5",
}
METRIC_LABELS: dict[str, str] = {
    "accuracy": "accuracy", "precision": "precision (poisonous)", "recall_poisonous": "recall (poisonous)",
    "f1": "F1", "f2": "F2 (recall counts more)", "roc_auc": "ROC AUC",
    "false_edible_rate": "false-edible rate at P ≥ 0.5",
}
RANDOM_SPLIT_WARNING = (
    "**Random-split figures are optimistic.** The 353 mushrooms of each species are spread over both sides of a "
    "random split, so the model is tested on species it has already seen. A mushroom you find may belong to a "
    "species the model never saw: the species-held-out figures estimate that case, and they are the ones to trust."
)
MISSING_OPTION = "(missing / unknown)"
CONFUSION_HEIGHT = 220
_EVALUATIONS = ("species held out (pooled)", "random split")


def fmt(value: float, spec: str = ".3f") -> str:
    """A number for a table or metric; NaN (e.g. ROC AUC of a one-class fold) as n/a."""
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def version_name(info: ModelVersionInfo) -> str:
    """``v3 · Logistic regression``: for choices in widgets (a label that changes would reset the widget)."""
    return f"v{info.version} · {FAMILY_NAMES.get(info.family, info.family)}"


def version_label(info: ModelVersionInfo) -> str:
    """``v3 · Logistic regression · staging``: for text shown once."""
    return f"{version_name(info)} · {info.stage}"


class TrainProgress:
    """An st.status with an st.progress bar that follows a training run, family by family.

    Pass :meth:`on_progress` to ``services.train_models`` as ``progress``, then call :meth:`finish`
    or :meth:`fail`. The engine reports twice per family (started, registered).
    """

    def __init__(self, families: Sequence[str]) -> None:
        self._families = list(families)
        self._calls = 0
        names = ", ".join(FAMILY_NAMES.get(f, f) for f in self._families)
        self._status = st.status(f"Training {names}", expanded=True)
        with self._status:
            self._bar = st.progress(0.0, text=f"0 of {len(self._families)} families done")

    def on_progress(self, family: str, message: str) -> None:
        """Called by the engine as training progresses."""
        self._calls += 1
        with self._status:
            st.write(f"**{FAMILY_NAMES.get(family, family)}**: {md_escape(message)}")
        done = self._calls // 2
        self._bar.progress(min(self._calls / (2 * len(self._families)), 1.0),
                           text=f"{done} of {len(self._families)} families done")

    def finish(self, versions: Sequence[ModelVersionInfo]) -> None:
        self._bar.progress(1.0, text=f"{len(self._families)} of {len(self._families)} families done")
        listed = ", ".join(f"v{v.version} ({v.family})" for v in versions)
        self._status.update(label=f"Trained and registered {listed} in staging", state="complete", expanded=False)

    def fail(self, exc: EngineError) -> None:
        self._status.update(label=f"Training stopped: {exc.code}", state="error", expanded=True)


def safety_view(info: ModelVersionInfo) -> None:
    """The error that kills first: false-edible rate and coverage at the version's safety threshold."""
    s = info.threshold
    left, middle, right = st.columns(3)
    left.metric("False-edible rate at the safety threshold", f"{s.false_edible_rate:.2%}",
                help="Share of truly poisonous mushrooms, of species held out of training, that this version "
                     "would call edible. This is the error that can kill.")
    middle.metric("Coverage at the safety threshold", f"{s.coverage:.1%}",
                  help="Share of truly edible mushrooms, of species held out of training, that get a confident "
                       "'edible'; the rest are called uncertain or poisonous.")
    right.metric("Thresholds t_low / t_high", f"{s.t_low:.3f} / {s.t_high:.3f}",
                 help="Edible when P(poisonous) < t_low, poisonous when P(poisonous) ≥ t_high, "
                      "'uncertain - do not eat' in between.")
    st.caption(f"Target: at most {s.max_false_edible_rate:.1%} of poisonous mushrooms called edible "
               f"(method {s.method}). Averaged over the {s.n_poisonous_species} poisonous species: "
               f"{s.species_false_edible_rate:.2%}; bound on a new species' expected false-edible rate: "
               f"{s.conformal_bound:.2%}. Calibrated on {s.n_poisonous_rows:,} poisonous and "
               f"{s.n_edible_rows:,} edible rows, each scored by a model that never saw its species.")
    if not s.feasible:
        needed = math.ceil(1 / s.max_false_edible_rate - 1)
        st.warning(f"With {s.n_poisonous_species} poisonous species, no threshold can certify a false-edible rate "
                   f"of {s.max_false_edible_rate:.1%}: the smallest certifiable rate is {s.min_certifiable_rate:.1%} "
                   f"(that needs at least {needed} poisonous species). This version therefore never answers "
                   "'edible' (t_low = 0): it is safe, and its coverage of 0 says how useful it is.",
                   icon=":material/shield:")


def comparison_frame(info: ModelVersionInfo) -> pd.DataFrame:
    """Species-held-out metrics (mean ± std over the folds, pooled) next to the random-split ones."""
    g, h = info.evaluation.grouped, info.evaluation.holdout
    rows = []
    for name, label in METRIC_LABELS.items():
        rows.append({"metric": label,
                     f"species held out: mean ± std over {g.n_folds} folds":
                         f"{fmt(g.mean.get(name, math.nan))} ± {fmt(g.std.get(name, math.nan))}",
                     "species held out: pooled": fmt(getattr(g.pooled, name)),
                     "random split (optimistic)": fmt(getattr(h.metrics, name))})
    return pd.DataFrame(rows)


def folds_frame(info: ModelVersionInfo) -> pd.DataFrame:
    """One row per species-held-out fold: its size, metrics and confusion counts."""
    rows = [{"fold": i + 1, **{k: v for k, v in m.to_dict().items() if k != "threshold"}}
            for i, m in enumerate(info.evaluation.grouped.folds)]
    return pd.DataFrame(rows)


def confusion_chart(m: Metrics, title: str) -> alt.LayerChart:
    """A 2x2 heatmap of counts: rows truth, columns prediction (poisonous when P ≥ threshold)."""
    order = ["edible", "poisonous"]
    cells = [("edible", "edible", m.tn), ("edible", "poisonous", m.fp), ("poisonous", "edible", m.fn),
             ("poisonous", "poisonous", m.tp)]
    data = pd.DataFrame([{"truth": t, "prediction": p, "count": n, "share": n / max(m.n, 1)} for t, p, n in cells])
    top = max(int(data["count"].max()), 1)
    base = alt.Chart(data, title=title).encode(
        x=alt.X("prediction:N", sort=order, title="prediction", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("truth:N", sort=order, title="truth"),
        tooltip=["truth", "prediction", alt.Tooltip("count:Q", format=","), alt.Tooltip("share:Q", format=".1%")])
    rect = base.mark_rect().encode(color=alt.Color("count:Q", scale=alt.Scale(scheme="blues", domain=[0, top]),
                                                   legend=None))
    text = base.mark_text(fontSize=15).encode(
        text=alt.Text("count:Q", format=","),
        color=alt.condition(alt.datum.count > top / 2, alt.value("white"), alt.value("black")))
    return rect + text


def evaluation_view(info: ModelVersionInfo, key: str) -> None:
    """A version's evaluation: safety first, then species held out vs random split, folds, confusion matrices."""
    ev = info.evaluation
    safety_view(info)
    st.markdown("**Species held out vs random split**")
    st.warning(RANDOM_SPLIT_WARNING, icon=":material/warning:")
    st.dataframe(comparison_frame(info), hide_index=True, key=f"{key}.compare")
    st.caption(f"Species held out: {ev.grouped.n_folds} folds over {ev.n_groups} species, each species scored by a "
               f"model that never saw it; pooled = computed once over all {ev.n_rows:,} out-of-fold scores. "
               f"Random split: {ev.holdout.n_train:,} rows to train, {ev.holdout.n_test:,} to test. "
               f"Seed {ev.random_state}; the served model is fit on {ev.final_fit_on}.")
    st.markdown("**Per-fold metrics (species held out)**")
    st.dataframe(folds_frame(info), hide_index=True, key=f"{key}.folds",
                 column_config={name: st.column_config.NumberColumn(SHORT_LABELS[name], format="%.3f",
                                                                    help=METRIC_LABELS[name])
                                for name in SHORT_LABELS})
    st.markdown("**Confusion matrices** (counts; predicted poisonous when P(poisonous) ≥ 0.5, before the safety "
                "threshold's 'uncertain' band)")
    left, right = st.columns(2)
    # Streamlit sizes the chart from st.altair_chart's height, not the spec's, for a chart of two bands.
    left.altair_chart(confusion_chart(ev.grouped.pooled, "Species held out (all folds)"), width="stretch",
                      height=CONFUSION_HEIGHT, key=f"{key}.cm_species")
    right.altair_chart(confusion_chart(ev.holdout.metrics, "Random split (optimistic)"), width="stretch",
                       height=CONFUSION_HEIGHT, key=f"{key}.cm_random")


def versions_frame(infos: Sequence[ModelVersionInfo]) -> pd.DataFrame:
    """``ModelVersionInfo.summary()`` rows, safety columns first after the identity."""
    return pd.DataFrame([i.summary() for i in infos])


_SPECIES = "on species held out of training (5 folds, pooled)"
VERSION_COLUMNS = {
    "version": st.column_config.NumberColumn("version", format="%d", width="small"),
    "family": st.column_config.TextColumn("family", width="small"),
    "stage": st.column_config.TextColumn("stage", width="small"),
    "species_false_edible_rate": st.column_config.NumberColumn(
        "false-edible", format="percent", help="False-edible rate at the safety threshold, " + _SPECIES),
    "coverage": st.column_config.NumberColumn(
        "coverage", format="percent", help="Share of edible mushrooms called edible at the threshold, " + _SPECIES),
    "t_low": st.column_config.NumberColumn("t_low", format="%.3f", help="Edible below this P(poisonous)"),
    "t_high": st.column_config.NumberColumn("t_high", format="%.3f", help="Poisonous from this P(poisonous)"),
    "species_accuracy": st.column_config.NumberColumn("species acc.", format="%.3f", help="Accuracy " + _SPECIES),
    "species_recall_poisonous": st.column_config.NumberColumn("species recall (p)", format="%.3f",
                                                              help="Recall of poisonous " + _SPECIES),
    "species_roc_auc": st.column_config.NumberColumn("species ROC AUC", format="%.3f", help="ROC AUC " + _SPECIES),
    "random_accuracy": st.column_config.NumberColumn("random acc.", format="%.3f",
                                                     help="Accuracy on a random split: optimistic"),
    "random_roc_auc": st.column_config.NumberColumn("random ROC AUC", format="%.3f",
                                                    help="ROC AUC on a random split: optimistic"),
    "created_at": st.column_config.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm"),
    "created_by": st.column_config.TextColumn("by"),
}
_COMPARED = ("accuracy", "recall_poisonous", "roc_auc")


def _facet_width(n_versions: int) -> int:
    """Width of one metric's panel: three panels side by side fit a wide page."""
    return min(max(150, 60 * n_versions), 320)


def metrics_chart(infos: Sequence[ModelVersionInfo]) -> alt.FacetChart:
    """Grouped bars per metric: species-held-out (pooled) vs random split, one group per version."""
    rows = []
    for info in infos:
        g, h = info.evaluation.grouped.pooled, info.evaluation.holdout.metrics
        for name in _COMPARED:
            for evaluation, m in zip(_EVALUATIONS, (g, h), strict=True):
                rows.append({"version": f"v{info.version} {info.family}", "metric": METRIC_LABELS[name],
                             "evaluation": evaluation, "value": getattr(m, name)})
    data = pd.DataFrame(rows)
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("version:N", title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("evaluation:N", sort=list(_EVALUATIONS)),
        y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title=None),
        color=alt.Color("evaluation:N", sort=list(_EVALUATIONS),
                        scale=alt.Scale(range=["#1565c0", "#bdbdbd"]), legend=alt.Legend(orient="bottom")),
        tooltip=["version", "metric", "evaluation", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=_facet_width(len(infos)), height=220).facet(
        column=alt.Column("metric:N", title=None, sort=[METRIC_LABELS[n] for n in _COMPARED]))


def safety_charts(infos: Sequence[ModelVersionInfo], gate: float) -> tuple[alt.LayerChart, alt.LayerChart]:
    """False-edible rate (with the production gate as a dashed rule) and coverage at each version's threshold."""
    data = pd.DataFrame([{"version": f"v{i.version} {i.family}", "false-edible rate": i.threshold.false_edible_rate,
                          "coverage": i.threshold.coverage} for i in infos])
    base = alt.Chart(data).encode(x=alt.X("version:N", title=None, axis=alt.Axis(labelAngle=0)))
    false_edible = base.mark_bar(color=DECISION_COLOURS[POISONOUS]).encode(
        y=alt.Y("false-edible rate:Q", axis=alt.Axis(format="%"), title=None),
        tooltip=["version", alt.Tooltip("false-edible rate:Q", format=".2%")])
    rule = alt.Chart(pd.DataFrame({"gate": [gate]})).mark_rule(strokeDash=[4, 4]).encode(
        y="gate:Q", tooltip=[alt.Tooltip("gate:Q", format=".2%", title="production gate")])
    coverage = base.mark_bar(color=DECISION_COLOURS[EDIBLE]).encode(
        y=alt.Y("coverage:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]), title=None),
        tooltip=["version", alt.Tooltip("coverage:Q", format=".1%")])
    labels = base.mark_text(dy=-8)
    false_edible_text = labels.encode(y="false-edible rate:Q", text=alt.Text("false-edible rate:Q", format=".2%"))
    coverage_text = labels.encode(y="coverage:Q", text=alt.Text("coverage:Q", format=".1%"))
    return ((false_edible + rule + false_edible_text).properties(title="False-edible rate (dashed: production gate)",
                                                                height=220),
            (coverage + coverage_text).properties(title="Coverage", height=220))


def folds_chart(infos: Sequence[ModelVersionInfo]) -> alt.FacetChart:
    """Per-fold spread of species-held-out metrics: one dot per fold, the mean ± std as a bar."""
    rows = []
    for info in infos:
        for k, m in enumerate(info.evaluation.grouped.folds):
            for name in _COMPARED:
                value = getattr(m, name)
                if not math.isnan(value):
                    rows.append({"version": f"v{info.version} {info.family}", "fold": k + 1,
                                 "metric": METRIC_LABELS[name], "value": value})
    data = pd.DataFrame(rows, columns=["version", "fold", "metric", "value"])
    base = alt.Chart().encode(x=alt.X("version:N", title=None, axis=alt.Axis(labelAngle=0)))
    dots = base.mark_circle(size=60, opacity=0.7).encode(
        y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title=None),
        tooltip=["version", "fold", alt.Tooltip("value:Q", format=".3f")])
    spread = base.mark_errorbar(extent="stdev", ticks=True, color="#424242").encode(y="value:Q")
    mean = base.mark_tick(color="#424242", thickness=2, size=18).encode(y="mean(value):Q")
    return alt.layer(dots, spread, mean, data=data).properties(width=_facet_width(len(infos)), height=220).facet(
        column=alt.Column("metric:N", title=None, sort=[METRIC_LABELS[n] for n in _COMPARED]))


# ---------------------------------------------------------------- classification


def code_label(column: str, code: str | None) -> str:
    """``x = convex``; None as the missing option."""
    return MISSING_OPTION if code is None else f"{code} = {dataset.CODES[column].get(code, '?')}"


def mushroom_inputs(key: str, columns: int = 4) -> dict[str, object]:
    """One widget per feature, in file order: categoricals as ``code = meaning`` selectboxes, numerics in range.

    Required features start empty (the engine names any left empty); the others may stay
    "(missing / unknown)". Returns ``feature -> value`` (None when missing).
    """
    values: dict[str, object] = {}
    features = list(dataset.FEATURES)
    for start in range(0, len(features), columns):
        for slot, name in zip(st.columns(columns), features[start:start + columns], strict=False):
            required = name in dataset.REQUIRED
            label = dataset.describe(name) + (" *" if required else "")
            if name in dataset.NUMERIC:
                r = dataset.RANGES[name]
                low = f"more than {r.low:g}" if r.low_exclusive else f"{r.low:g}"
                values[name] = slot.number_input(
                    label, min_value=float(r.low), max_value=float(r.high), value=None, step=0.1, format="%.2f",
                    placeholder=f"{low} to {r.high:g} {r.unit}", key=f"{key}.{name}",
                    help=f"In {r.unit}, {low} to {r.high:g}." + (" Required." if required else ""))
            else:
                codes: list[str | None] = list(dataset.CODES[name])
                if not required:
                    codes = [None, *codes]
                values[name] = slot.selectbox(
                    label, codes, index=None if required else 0, key=f"{key}.{name}",
                    format_func=lambda code, column=name: code_label(column, code),
                    placeholder="Choose a value", help="Required." if required else
                    f"Optional: leave {MISSING_OPTION} if you cannot tell.")
    return values


def decision_view(result: PredictionResult) -> None:
    """The decision big and coloured, P(poisonous), version, thresholds; a caution for 'edible'."""
    colour, icon, text = DECISION_STYLE.get(result.decision, ("gray", ":material/help:", result.decision.upper()))
    with st.container(border=True):
        st.markdown(f"# :{colour}-background[:{colour}[{icon} {text}]]")
        left, middle, right = st.columns(3)
        left.metric("P(poisonous)", f"{result.p_poisonous:.3f}")
        middle.metric("Model version", f"v{result.version} ({result.family})",
                      help=f"{FAMILY_NAMES.get(result.family, result.family)}, version {result.version}")
        right.metric("Thresholds t_low / t_high", f"{result.t_low:.3f} / {result.t_high:.3f}",
                     help="Edible when P(poisonous) < t_low, poisonous when P(poisonous) ≥ t_high, uncertain "
                          "in between.")
        if result.decision == EDIBLE:
            st.warning("**Caution:** 'edible' means P(poisonous) is below the safety threshold calibrated on "
                       "species the model never saw, not a certainty. Never eat a wild mushroom on a model's word: "
                       "have it identified by an expert first.", icon=":material/warning:")
        elif result.decision == UNCERTAIN:
            st.markdown(f":{colour}[The model cannot call it edible with the required safety margin "
                        f"(P(poisonous) {result.p_poisonous:.3f} is not below t_low = {result.t_low:.3f}). "
                        "Do not eat it.]")
        else:
            st.markdown(f":{colour}[P(poisonous) {result.p_poisonous:.3f} is at or above t_high = "
                        f"{result.t_high:.3f}. Do not eat it.]")
        if result.t_low <= 0:
            st.caption("This version never answers 'edible': its safety threshold could not be certified on the "
                       "species it was trained on (see its evaluation on the Registry page).")
        st.caption(f"Request id `{result.request_id}`")


def drivers_chart(result: PredictionResult, features: dict[str, object]) -> alt.Chart:
    """Bars of each driver's effect on P(poisonous); red pushes towards poisonous, green towards edible."""
    rows = []
    for name, effect in result.drivers:
        value = features.get(name)
        shown = f"{value:g}" if isinstance(value, float) else code_label(name, value)  # type: ignore[arg-type]
        rows.append({"feature": f"{dataset.describe(name)}: {shown}", "effect": effect,
                     "direction": "towards poisonous" if effect > 0 else "towards edible"})
    data = pd.DataFrame(rows, columns=["feature", "effect", "direction"])
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("effect:Q", title="effect on P(poisonous)"),
        y=alt.Y("feature:N", sort=None, title=None, axis=alt.Axis(labelLimit=320)),  # largest effect first
        color=alt.Color("direction:N", scale=alt.Scale(domain=["towards poisonous", "towards edible"],
                                                       range=[DECISION_COLOURS[POISONOUS], DECISION_COLOURS[EDIBLE]]),
                        legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["feature", alt.Tooltip("effect:Q", format="+.4f")],
    ).properties(height=alt.Step(28))
