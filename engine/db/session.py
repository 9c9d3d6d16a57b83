"""Engines per URL, idempotent schema creation, and the two databases as one object."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from engine.config import Settings
from engine.db.models import production_metadata, staging_metadata
from engine.errors import ConfigError

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def get_engine(url: str) -> Engine:
    """One Engine per URL for the whole process (engines pool connections and are thread-safe)."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create(url)
            _engines[url] = engine
        return engine


def _create(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises several kinds here
        raise ConfigError(f"Database URL cannot be parsed: {exc}. Example: sqlite:///data/production.db") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend in ("mariadb", "mysql"):
        # local_infile lets the bulk path use LOAD DATA LOCAL INFILE (the client only sends
        # files the engine itself wrote; the server may still refuse, see engine.db.bulk).
        return create_engine(url, pool_pre_ping=True, pool_recycle=3600, connect_args={"local_infile": True})
    return create_engine(url, pool_pre_ping=True)


def _attach(production: Engine, staging_file: str) -> None:
    """Let every connection of a SQLite production engine read the staging file as ``staging``."""
    Path(staging_file).parent.mkdir(parents=True, exist_ok=True)

    def attach(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute("ATTACH DATABASE ? AS staging", (staging_file,))

    if not getattr(production, "_mushroom_attached", None):
        event.listen(production, "connect", attach)
        production.pool.dispose()  # connections opened before the listener lack the attachment
        production._mushroom_attached = staging_file  # type: ignore[attr-defined]


def columnstore_available(engine: Engine) -> bool:
    """Whether a MariaDB server offers the ColumnStore engine (never true on other dialects)."""
    if engine.dialect.name not in ("mariadb", "mysql"):
        return False
    with engine.connect() as conn:
        support = conn.execute(
            text("SELECT SUPPORT FROM information_schema.ENGINES WHERE UPPER(ENGINE) = 'COLUMNSTORE'")
        ).scalar()
    return support in ("YES", "DEFAULT")


def create_schema(engine: Engine, which: str) -> None:
    """Create the tables of ``which`` ('staging' or 'production') if missing; safe to run concurrently."""
    metadata = staging_metadata if which == "staging" else production_metadata
    if which == "production" and columnstore_available(engine):
        # ColumnStore suits the analytic production table; it has no unique indexes, so the
        # batch row lock taken at promotion is what keeps a batch from landing twice.
        metadata.tables["mushroom_data"].kwargs["mariadb_engine"] = "Columnstore"
    for attempt in range(5):
        try:
            metadata.create_all(engine, checkfirst=True)
            return
        except (OperationalError, ProgrammingError, SAIntegrityError):
            # Another process created a table between our check and our CREATE: look again.
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


@dataclass(frozen=True)
class Databases:
    """The staging and production databases of one Settings, schemas created.

    ``staging_schema`` names where the production connection sees the staging table when
    both live behind it: ``""`` for one shared database, ``"staging"`` for a SQLite staging
    file attached to the SQLite production file; None when they are apart (rows then move
    through the client).
    """

    staging: Engine
    production: Engine
    staging_schema: str | None = None

    def session(self) -> sessionmaker[Session]:
        """A sessionmaker on the production database; use ``with db.session().begin() as s:``."""
        return sessionmaker(self.production, expire_on_commit=False)


_opened: dict[tuple[str, str], Databases] = {}


def open_databases(settings: Settings) -> Databases:
    """Engines for both databases of ``settings``, with their schemas created once per process."""
    key = (settings.staging_database_url, settings.production_database_url)
    with _lock:
        found = _opened.get(key)
    if found is not None:
        return found
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    staging, production = get_engine(key[0]), get_engine(key[1])
    schema: str | None = None
    if staging is production:
        schema = ""
    elif staging.dialect.name == production.dialect.name == "sqlite" and staging.url.database and \
            production.url.database and ":memory:" not in (staging.url.database, production.url.database):
        _attach(production, str(Path(staging.url.database).resolve()))
        schema = "staging"
    dbs = Databases(staging=staging, production=production, staging_schema=schema)
    create_schema(dbs.staging, "staging")
    create_schema(dbs.production, "production")
    with _lock:
        _opened[key] = dbs
    return dbs
