"""Browser fixtures: the real app as a `streamlit run` subprocess on 127.0.0.1, and headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from engine.config import Settings, load_settings
from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
START_TIMEOUT_S = 90
SCREENSHOT_MAX_HEIGHT = 12_000
_MAIN_HEIGHT_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const block = document.querySelector('[data-testid="stMainBlockContainer"]');
  return Math.max(main ? main.scrollHeight : 0, block ? block.scrollHeight + 160 : 0);
}"""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: starts the real app and drives it in headless Chromium")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"streamlit not healthy after {START_TIMEOUT_S} s:\n{log.read_text(errors='replace')}")


@pytest.fixture
def seed_app() -> Callable[[Settings], None] | None:
    """Data to put in the app's databases before the server starts; test modules override this fixture."""
    return None


@pytest.fixture
def app_url(tmp_path: Path, seed_app: Callable[[Settings], None] | None) -> Iterator[str]:
    """A fresh app on its own SQLite databases in tmp_path (empty unless seed_app fills them); stopped at the end."""
    data = tmp_path / "data"
    port = _free_port()
    env = dict(os.environ)
    env.update({
        "MUSHROOM_DATA_DIR": str(data),
        # Explicit, so a developer's .env cannot point the test at real databases.
        "STAGING_DATABASE_URL": f"sqlite:///{data / 'staging.db'}",
        "PRODUCTION_DATABASE_URL": f"sqlite:///{data / 'production.db'}",
        "MUSHROOM_ENV": "test",
        "MUSHROOM_USER": "browser-test",
        "INVALID_ROW_POLICY": "reject",
    })
    if seed_app is not None:
        seed_app(load_settings(env))  # the same databases and folders the server will use
    log = tmp_path / "streamlit.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium (Playwright cannot download its own browsers here)."""
    if not Path(CHROMIUM).is_file():
        if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
            pytest.fail(f"{CHROMIUM} not installed but REQUIRE_BROWSER_TESTS=1 (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, app_url: str) -> Iterator[Page]:
    """A tab on the app's start URL, with generous timeouts (the first run imports pandas, pandera...)."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    tab.goto(app_url)
    yield tab
    context.close()


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Page, str], Path]:
    """Save a full-page screenshot of a tab into the test's tmp dir."""

    def take(tab: Page, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        # Streamlit scrolls inside its main area, so full_page alone stops at the viewport: grow it for the shot.
        size = tab.viewport_size
        height = int(tab.evaluate(_MAIN_HEIGHT_JS))
        if size is not None and height > size["height"]:
            tab.set_viewport_size({"width": size["width"], "height": min(height, SCREENSHOT_MAX_HEIGHT)})
        tab.screenshot(path=str(path), full_page=True)
        if size is not None:
            tab.set_viewport_size(size)
        return path

    return take
