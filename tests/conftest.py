"""Shared fixtures: the real data files, and Settings on each database backend (SQLite always;
PostgreSQL staging + MariaDB production when TEST_STAGING_DATABASE_URL and
TEST_PRODUCTION_DATABASE_URL are set, as scripts/test-databases.sh and CI do)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.config import Settings, load_settings
from engine.db.models import production_metadata, staging_metadata
from engine.db.session import open_databases

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MUSHROOM_SHARED_DATA", REPO.parent / "shared" / "data"))
SECONDARY = SHARED_DATA / "secondary_data.csv"
PRIMARY = SHARED_DATA / "primary_data.csv"
UCI_1987 = SHARED_DATA / "mushrooms.csv"

SERVER_URLS = (os.environ.get("TEST_STAGING_DATABASE_URL"), os.environ.get("TEST_PRODUCTION_DATABASE_URL"))
HAVE_SERVERS = all(SERVER_URLS)
if os.environ.get("REQUIRE_SERVER_TESTS") == "1" and not HAVE_SERVERS:
    raise RuntimeError("REQUIRE_SERVER_TESTS=1 but TEST_STAGING_DATABASE_URL / TEST_PRODUCTION_DATABASE_URL are unset")

BACKENDS = [pytest.param("sqlite", id="sqlite")]
if HAVE_SERVERS:
    BACKENDS.append(pytest.param("servers", id="postgresql+mariadb"))


def _real(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"real data file {path} not found (set MUSHROOM_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def secondary_path() -> Path:
    return _real(SECONDARY)


@pytest.fixture(scope="session")
def secondary_bytes(secondary_path: Path) -> bytes:
    return secondary_path.read_bytes()


@pytest.fixture(scope="session")
def primary_path() -> Path:
    return _real(PRIMARY)


@pytest.fixture(scope="session")
def uci_1987_path() -> Path:
    return _real(UCI_1987)


def _empty_tables(settings: Settings) -> None:
    dbs = open_databases(settings)
    for engine, metadata in ((dbs.staging, staging_metadata), (dbs.production, production_metadata)):
        with engine.begin() as conn:
            tables = list(reversed(metadata.sorted_tables))
            if engine.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            elif engine.dialect.name in ("mariadb", "mysql"):
                conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
                for t in tables:
                    conn.execute(text(f"TRUNCATE TABLE `{t.name}`"))
                conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
            else:
                for t in tables:
                    conn.execute(t.delete())


def make_settings(tmp_path: Path, backend: str, **extra: str) -> Settings:
    env = {"MUSHROOM_DATA_DIR": str(tmp_path / "data"), "MUSHROOM_ENV": "test", "MUSHROOM_USER": "pytest"}
    if backend == "servers":
        env["STAGING_DATABASE_URL"], env["PRODUCTION_DATABASE_URL"] = SERVER_URLS  # type: ignore[assignment]
    env.update(extra)
    return load_settings(env)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(tmp_path: Path, backend: str) -> Iterator[Settings]:
    """Settings on a fresh, empty pair of databases of the parametrised backend."""
    s = make_settings(tmp_path, backend)
    _empty_tables(s)
    yield s
