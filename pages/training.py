"""Training page: choose families and hyperparameters, train and register versions, see how honest they are."""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from app import cache, widgets
from engine import dataset, services
from engine.errors import EngineError, NotFoundError
from engine.training.pipelines import FAMILIES, FAMILY_NAMES, PARAM_SPACE, ParamSpec

LAST_VERSIONS = "training.last_versions"  # session state holds only version ids; the rest comes from services
PARAM_COLUMNS = 3


def _step(spec: ParamSpec) -> float:
    """A widget step of about a tenth of the default's order of magnitude."""
    base = abs(float(spec.default)) if spec.default else min(float(spec.high or 1) - float(spec.low or 0), 1.0) / 10
    return float(10 ** (math.floor(math.log10(base)) - 1))


def _param_input(family: str, spec: ParamSpec, slot: Any) -> Any:
    """The widget of one ParamSpec, with its default, bounds and help."""
    key = f"training.{family}.{spec.name}"
    if spec.kind == "choice":
        return slot.selectbox(spec.name, spec.choices, index=spec.choices.index(spec.default), help=spec.help,
                              key=key)
    if spec.kind == "features":
        return slot.multiselect(spec.name, dataset.FEATURES, default=list(spec.default), help=spec.help, key=key,
                                format_func=dataset.describe, placeholder="None: use every feature")
    bounds = f"{spec.low:g} to {spec.high:g}"
    help_text = f"{spec.help} Allowed: {bounds}; default {'no limit' if spec.default is None else spec.default}."
    if spec.kind == "int":
        return slot.number_input(spec.name, min_value=int(spec.low or 0), max_value=int(spec.high or 0),
                                 value=spec.default, step=1, help=help_text, key=key,
                                 placeholder="no limit" if spec.nullable else None)
    return slot.number_input(spec.name, min_value=float(spec.low or 0), max_value=float(spec.high or 0),
                             value=None if spec.default is None else float(spec.default), step=_step(spec),
                             format="%g", help=help_text, key=key,
                             placeholder="no limit" if spec.nullable else None)


def _form() -> tuple[bool, list[str], dict[str, dict[str, Any]], int, str]:
    with st.form("training.form"):
        families = st.multiselect("Model families", FAMILIES, default=list(FAMILIES), key="training.families",
                                  format_func=lambda f: f"{FAMILY_NAMES[f]} ({f})",
                                  help="One version is trained, evaluated and registered per family.")
        st.markdown("**Hyperparameters** (the defaults are the regularised settings that did best on species "
                    "held out; only the chosen families' settings are used)")
        params: dict[str, dict[str, Any]] = {}
        for family, tab in zip(FAMILIES, st.tabs([FAMILY_NAMES[f] for f in FAMILIES]), strict=True):
            with tab:
                specs = PARAM_SPACE[family]
                numbers = [s for s in specs if s.kind != "features"]
                params[family] = {}
                for start in range(0, len(numbers), PARAM_COLUMNS):
                    row = numbers[start:start + PARAM_COLUMNS]
                    for spec, slot in zip(row, st.columns(PARAM_COLUMNS), strict=False):
                        params[family][spec.name] = _param_input(family, spec, slot)
                for spec in (s for s in specs if s.kind == "features"):
                    params[family][spec.name] = _param_input(family, spec, st)
        left, right = st.columns([1, 3])
        seed = left.number_input("Random seed", min_value=0, max_value=2**31 - 1, value=42, step=1,
                                 key="training.seed", help="Seed of the random split, the species folds and every "
                                 "model: the same data, settings and seed give the same metrics.")
        notes = right.text_input("Notes", key="training.notes", placeholder="What you changed and why",
                                 help="Saved with every version of this run.")
        submitted = st.form_submit_button("Train", type="primary")
    return submitted, families, params, int(seed), notes


def _train(families: list[str], params: dict[str, dict[str, Any]], seed: int, notes: str) -> None:
    progress = widgets.TrainProgress(families)
    try:
        result = services.train_models(families=tuple(families), params={f: params[f] for f in families},
                                       random_state=seed, notes=notes, progress=progress.on_progress)
    except EngineError as exc:
        progress.fail(exc)
        widgets.show_engine_error(exc)
        return
    finally:
        cache.clear_reads()
    progress.finish(result.versions)
    st.session_state[LAST_VERSIONS] = [v.version for v in result.versions]


def _results(version_ids: list[int]) -> None:
    """The versions trained in this session: safety first, then the honest and the optimistic metrics."""
    infos = []
    for version in version_ids:
        try:
            infos.append(cache.get_version(version))
        except NotFoundError:
            continue  # the databases changed under this session
    if not infos:
        st.session_state.pop(LAST_VERSIONS, None)
        return
    st.subheader("New versions")
    st.caption("Registered in staging. Promote one on the Registry page to serve it.")
    for info in infos:
        s = info.threshold
        st.markdown(f"**v{info.version} · {FAMILY_NAMES[info.family]}**: false-edible rate "
                    f"**{s.false_edible_rate:.2%}**, coverage **{s.coverage:.1%}** at the safety threshold "
                    f"(t_low {s.t_low:.3f}); species-held-out accuracy {info.evaluation.grouped.pooled.accuracy:.3f} "
                    f"vs random split {info.evaluation.holdout.metrics.accuracy:.3f}.")
    for info, tab in zip(infos, st.tabs([widgets.version_label(i) for i in infos]), strict=True):
        with tab:
            widgets.evaluation_view(info, key=f"training.v{info.version}")


def _render() -> None:
    st.caption("Each family is evaluated on a random split and on 5 folds that hold whole species out, its safety "
               "threshold is calibrated on the species it never saw, and the model fit on all production rows is "
               "registered as a new version in staging.")
    submitted, families, params, seed, notes = _form()
    if submitted and not families:
        st.warning("Choose at least one model family, then press Train.")
    elif submitted:
        _train(families, params, seed, notes)
    last = st.session_state.get(LAST_VERSIONS)
    if last:
        _results([int(v) for v in last])


st.title("Training")
try:
    _render()
except EngineError as exc:
    widgets.show_engine_error(exc)
