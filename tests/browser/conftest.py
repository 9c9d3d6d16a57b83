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

from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
START_TIMEOUT_S = 90


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
def app_url(tmp_path: Path) -> Iterator[str]:
    """A fresh app on its own empty SQLite databases in tmp_path; stopped when the test ends."""
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
        tab.screenshot(path=str(path), full_page=True)
        return path

    return take
