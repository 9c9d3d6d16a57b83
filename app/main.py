"""Entry point of the Streamlit app: page config, the st.navigation router and the sidebar."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    # `streamlit run app/main.py` puts only app/ on sys.path; pages import app.* and engine.*.
    sys.path.insert(0, str(REPO_ROOT))

import streamlit as st  # noqa: E402

from app import cache, widgets  # noqa: E402
from engine.config import Settings, get_settings  # noqa: E402
from engine.errors import ConfigError, EngineError  # noqa: E402

PAGES_DIR = REPO_ROOT / "pages"


#: (file in pages/, title, icon, url path); the first is the default page.
PAGES = (
    ("upload.py", "Upload & Validation", ":material/upload_file:", "upload"),
    ("training.py", "Training", ":material/model_training:", "training"),
    ("registry.py", "Registry", ":material/inventory_2:", "registry"),
    ("ab_testing.py", "A/B Testing", ":material/compare_arrows:", "ab-testing"),
    ("monitoring.py", "Monitoring", ":material/monitoring:", "monitoring"),
    ("classify.py", "Classify", ":material/search:", "classify"),
)


def _pages() -> list[st.Page]:
    """The six pages, files in the top-level pages/ folder (absolute paths: they sit outside app/)."""
    return [st.Page(PAGES_DIR / file, title=title, icon=icon, url_path=url, default=i == 0)
            for i, (file, title, icon, url) in enumerate(PAGES)]


def _sidebar(settings: Settings) -> None:
    """Databases (dialect names only, never URLs), production rows and open alerts."""
    st.markdown("**Databases**")
    st.markdown(f"Staging: `{widgets.dialect_name(settings.staging_database_url)}`  \n"
                f"Production: `{widgets.dialect_name(settings.production_database_url)}`")
    try:
        rows = cache.production_count()
        alerts = len(cache.list_alerts())
    except EngineError as exc:
        widgets.show_engine_error(exc)
        return
    left, right = st.columns(2)
    left.metric("Production rows", f"{rows:,}")
    right.metric("Open alerts", f"{alerts:,}")


st.set_page_config(page_title="Mushroom Classification System", page_icon="🍄", layout="wide")

try:
    current_settings = get_settings()
except ConfigError as config_error:
    st.error(f"The settings are invalid: {config_error.message}\n\n"
             "Next step: fix the value in the environment or in .env, then restart the app.")
    st.stop()

page = st.navigation(_pages())
# Filled after the page ran, so the counts include what the page just wrote.
sidebar_slot = st.sidebar.container()
page.run()
with sidebar_slot:
    _sidebar(current_settings)
