"""Registry page: versions and their honest metrics side by side, stage changes with reasons, the audit trail."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, time

import pandas as pd
import streamlit as st

from app import cache, widgets
from engine import registry, services
from engine.config import get_settings
from engine.errors import EngineError
from engine.training.pipelines import DEFAULT_PARAMS, FAMILY_NAMES

COMPARE_DEFAULT = 3  # versions preselected for comparison: the production one and the newest


def _versions_table(infos: list[registry.ModelVersionInfo]) -> None:
    production = next((i for i in infos if i.stage == registry.PRODUCTION), None)
    st.subheader("Versions")
    st.markdown(f"In production: **{widgets.version_label(production)}**" if production else
                "No version is in production: promote one below to serve it on the Classify page.")
    st.dataframe(widgets.versions_frame(infos), hide_index=True, key="registry.versions",
                 column_config=widgets.VERSION_COLUMNS)
    st.caption("False-edible rate and coverage are at each version's safety threshold, on species held out of "
               "training. Random-split figures are optimistic: the same species sit on both sides of the split.")


def _compare(infos: list[registry.ModelVersionInfo]) -> None:
    by_id = {i.version: i for i in infos}
    default = sorted({i.version for i in infos if i.stage == registry.PRODUCTION}
                     | {i.version for i in infos[:COMPARE_DEFAULT]}, reverse=True)[:COMPARE_DEFAULT + 1]
    chosen = st.multiselect("Versions to compare", list(by_id), default=default, key="registry.compare",
                            format_func=lambda v: widgets.version_name(by_id[v]))
    if not chosen:
        st.caption("Choose versions to compare.")
        return
    picked = [by_id[v] for v in sorted(chosen)]
    st.markdown("**At the safety threshold** (the error that kills, and how often 'edible' is answered)")
    false_edible, coverage = widgets.safety_charts(picked, get_settings().production_gate_max_false_edible)
    left, right = st.columns(2)
    left.altair_chart(false_edible, width="stretch", height=260, key="registry.chart.false_edible")
    right.altair_chart(coverage, width="stretch", height=260, key="registry.chart.coverage")
    st.markdown("**Species held out (pooled) vs random split** (the random split is optimistic: the same species "
                "sit on both sides)")
    st.altair_chart(widgets.metrics_chart(picked), width="content", key="registry.chart.metrics")
    st.markdown("**Spread over the species-held-out folds** (dots: folds; bar: mean ± std)")
    st.altair_chart(widgets.folds_chart(picked), width="content", key="registry.chart.folds")
    st.markdown("**Side by side**")
    st.dataframe(_side_by_side(picked), key="registry.compare_table")


def _side_by_side(picked: list[registry.ModelVersionInfo]) -> pd.DataFrame:
    """The summary figures of each version as one column (rates as percentages)."""
    columns = {}
    for info in picked:
        summary = info.summary()
        summary.pop("version")
        columns[f"v{info.version}"] = {
            k: f"{v:.2%}" if k in ("species_false_edible_rate", "coverage") else
            widgets.fmt(v) if isinstance(v, float) else f"{v:%Y-%m-%d %H:%M}" if isinstance(v, datetime) else str(v)
            for k, v in summary.items()}
    return pd.DataFrame(columns)


def _stage_forms(infos: list[registry.ModelVersionInfo]) -> None:
    """Promote (or archive) a version, and roll production back; each with a reason for the audit trail."""
    by_id = {i.version: i for i in infos}
    left, right = st.columns(2)
    with left, st.form("registry.promote"):
        st.markdown("**Change a version's stage**")
        version = st.selectbox("Version", list(by_id), key="registry.promote.version",
                               format_func=lambda v: widgets.version_name(by_id[v]))
        stage = st.selectbox("Target stage", registry.STAGES, index=registry.STAGES.index(registry.PRODUCTION),
                             key="registry.promote.stage")
        reason = st.text_input("Reason (required, goes in the audit trail)", key="registry.promote.reason")
        st.caption(f"Entering production passes the gate first (false-edible rate at most "
                   f"{get_settings().production_gate_max_false_edible:.2%}) and archives the current version.")
        promote = st.form_submit_button("Change stage", type="primary")
    with right, st.form("registry.rollback"):
        st.markdown("**Roll back production**")
        rollback_reason = st.text_input("Reason (required, goes in the audit trail)", key="registry.rollback.reason")
        st.caption("Puts back the version that was in production before the current one, in one action.")
        rollback = st.form_submit_button("Roll back production")
    done: list[registry.TransitionInfo] | None = None
    try:
        if promote and version is not None:
            done = services.promote_version(int(version), to_stage=stage, reason=reason)
        elif rollback:
            done = services.rollback_production(reason=rollback_reason)
    except EngineError as exc:
        widgets.show_engine_error(exc)
    finally:
        if promote or rollback:
            cache.clear_reads()
    if done:
        st.success("  \n".join(f"Version {t.version}: {t.from_stage} → {t.to_stage}" for t in done),
                   icon=":material/check_circle:")


def _audit(infos: list[registry.ModelVersionInfo]) -> None:
    versions = [None, *sorted(i.version for i in infos)]
    version = st.selectbox("Version", versions, key="registry.audit.version",
                           format_func=lambda v: "All versions" if v is None else f"v{v}")
    trail = cache.audit_trail(version)
    frame = pd.DataFrame([asdict(t) for t in reversed(trail)],
                         columns=["id", "version", "from_stage", "to_stage", "at", "by", "reason"])
    st.dataframe(frame, hide_index=True, key="registry.audit",
                 column_config={"at": st.column_config.DatetimeColumn("at (UTC)", format="YYYY-MM-DD HH:mm:ss")})
    st.caption(f"{len(frame)} stage change(s), newest first.")


def _at_time() -> None:
    now = datetime.now(UTC)
    st.session_state.setdefault("registry.at.date", now.date())
    st.session_state.setdefault("registry.at.time", time(now.hour, now.minute, now.second))
    left, right, answer = st.columns([1, 1, 2], vertical_alignment="bottom")
    day = left.date_input("Date (UTC)", key="registry.at.date", help="Starts at the time you opened this page.")
    moment = right.time_input("Time (UTC)", key="registry.at.time", step=1,
                              help="To the second; starts at the time you opened this page.")
    if day is None or moment is None:
        answer.caption("Give a date and a time.")
        return
    when = datetime.combine(day, moment)
    version = cache.production_version_at(when)
    if version is None:
        answer.info(f"No version was in production at {when:%Y-%m-%d %H:%M:%S} UTC.", icon=":material/history:")
    else:
        answer.info(f"Version {version} was in production at {when:%Y-%m-%d %H:%M:%S} UTC.",
                    icon=":material/history:")


def _param_text(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "(none)"
    return "no limit" if value is None else str(value)


def _details(infos: list[registry.ModelVersionInfo]) -> None:
    by_id = {i.version: i for i in infos}
    production = [i.version for i in infos if i.stage == registry.PRODUCTION]
    start = list(by_id).index(production[0]) if production else 0
    version = st.selectbox("Version", list(by_id), index=start, key="registry.details.version",
                           format_func=lambda v: widgets.version_name(by_id[v]))
    if version is None:
        return
    info = by_id[version]
    s = info.threshold
    snapshot = cache.training_snapshot(info.snapshot_id)
    left, right = st.columns(2)
    left.markdown(
        f"**Family:** {FAMILY_NAMES.get(info.family, info.family)} (`{info.family}`)  \n"
        f"**Stage:** {info.stage}  \n"
        f"**Created:** {info.created_at:%Y-%m-%d %H:%M:%S} UTC by {widgets.md_escape(info.created_by)}  \n"
        f"**Training snapshot:** {info.snapshot_id} ({info.evaluation.n_rows:,} rows of batch(es) "
        f"{', '.join(str(b) for b in snapshot['batch_ids'])}, {info.evaluation.n_groups} species, "
        f"seed {info.evaluation.random_state}, content sha256 `{str(snapshot['content_sha256'])[:16]}...`)  \n"
        f"**Notes:** {widgets.md_escape(info.notes) or '(none)'}")
    right.markdown(
        f"**Threshold:** t_low = {s.t_low:.4f}, t_high = {s.t_high:.4f} ({s.method}, target "
        f"{s.max_false_edible_rate:.1%}, {'certified' if s.feasible else 'not certifiable: never edible'})  \n"
        f"**Artifact:** `{widgets.md_escape(info.artifact_path)}`  \n"
        f"**sha256:** `{info.artifact_sha256}`")
    defaults = DEFAULT_PARAMS.get(info.family, {})
    params = pd.DataFrame([{"parameter": k, "value": _param_text(v), "default": _param_text(defaults.get(k)),
                            "changed": _param_text(v) != _param_text(defaults.get(k))} for k, v in info.params.items()])
    st.dataframe(params, hide_index=True, key="registry.details.params")
    with st.expander(f"Evaluation of version {info.version}"):
        widgets.evaluation_view(info, key=f"registry.details.v{info.version}")


def _render() -> None:
    infos = cache.list_versions()
    if not infos:
        st.info("No model versions yet: train some on the Training page.", icon=":material/info:")
        return
    versions_slot = st.container()  # filled after the stage forms ran, so it shows what they just changed
    st.subheader("Compare versions")
    compare_slot = st.container()
    st.subheader("Change stage")
    _stage_forms(infos)
    infos = cache.list_versions()
    with versions_slot:
        _versions_table(infos)
    with compare_slot:
        _compare(infos)
    st.subheader("Audit trail")
    _audit(infos)
    st.subheader("Which version was in production at a given time?")
    _at_time()
    st.subheader("Version details")
    _details(infos)


st.title("Registry")
try:
    _render()
except EngineError as exc:
    widgets.show_engine_error(exc)
