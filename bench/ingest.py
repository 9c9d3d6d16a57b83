"""Benchmark: the full validated ingestion pipeline against naive read_csv + to_sql, per database.

Usage: python bench/ingest.py [--file PATH] [--repeat N]

Backends: SQLite always (files in a temp folder); PostgreSQL and MariaDB when
BENCH_POSTGRESQL_URL / BENCH_MARIADB_URL (or TEST_STAGING_DATABASE_URL /
TEST_PRODUCTION_DATABASE_URL, as scripts/test-databases.sh prints) are set. For each backend
the pipeline runs with staging and production on that backend; with both servers it also runs
the production layout (PostgreSQL staging, MariaDB production). The baseline is the naive
path the issue names: ``pandas.read_csv`` + ``DataFrame.to_sql`` with default arguments into
one table, no validation, timed in the same run on the same server. Prints medians and ratios
(baseline / pipeline: above 1 means the pipeline is faster; the target is at least 2).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402
from sqlalchemy import create_engine, inspect, text  # noqa: E402

from engine.config import load_settings  # noqa: E402
from engine.db.models import production_metadata, staging_metadata  # noqa: E402
from engine.db.session import open_databases  # noqa: E402
from engine.ingest.pipeline import ingest_bytes  # noqa: E402

DEFAULT_FILE = REPO / "samples" / "secondary_data.csv"


def _empty(dbs) -> None:  # type: ignore[no-untyped-def]
    for engine, metadata in ((dbs.staging, staging_metadata), (dbs.production, production_metadata)):
        with engine.begin() as conn:
            if engine.dialect.name in ("mariadb", "mysql"):
                conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for t in reversed(metadata.sorted_tables):
                if engine.dialect.name == "sqlite":
                    conn.execute(t.delete())
                else:
                    conn.execute(text(f"TRUNCATE TABLE {engine.dialect.identifier_preparer.quote(t.name)}"
                                      + (" CASCADE" if engine.dialect.name == "postgresql" else "")))
            if engine.dialect.name in ("mariadb", "mysql"):
                conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


def time_pipeline(path: Path, staging_url: str, production_url: str, data_dir: Path, repeat: int) -> list[float]:
    settings = load_settings({"MUSHROOM_DATA_DIR": str(data_dir), "STAGING_DATABASE_URL": staging_url,
                              "PRODUCTION_DATABASE_URL": production_url, "MUSHROOM_ENV": "test"})
    dbs = open_databases(settings)
    times = []
    for _ in range(repeat):
        _empty(dbs)
        began = time.perf_counter()
        result = ingest_bytes(dbs, path.read_bytes(), path.name, source="bench")
        times.append(time.perf_counter() - began)
        if result.status != "promoted":
            raise SystemExit(f"pipeline did not promote: {result.message}")
    return times


def time_naive(path: Path, url: str, repeat: int) -> list[float]:
    engine = create_engine(url)
    times = []
    for _ in range(repeat):
        with engine.begin() as conn:
            if inspect(conn).has_table("naive_mushrooms"):
                conn.execute(text("DROP TABLE naive_mushrooms"))
        began = time.perf_counter()
        frame = pd.read_csv(path, sep=";")
        frame.to_sql("naive_mushrooms", engine)
        times.append(time.perf_counter() - began)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE naive_mushrooms"))
    engine.dispose()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pg = os.environ.get("BENCH_POSTGRESQL_URL") or os.environ.get("TEST_STAGING_DATABASE_URL")
    maria = os.environ.get("BENCH_MARIADB_URL") or os.environ.get("TEST_PRODUCTION_DATABASE_URL")
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    sqlite_staging, sqlite_production = f"sqlite:///{tmp / 'staging.db'}", f"sqlite:///{tmp / 'production.db'}"
    cases: list[tuple[str, str, str, str]] = [("sqlite", sqlite_staging, sqlite_production, sqlite_production)]
    if pg:
        cases.append(("postgresql", pg, pg, pg))
    if maria:
        cases.append(("mariadb", maria, maria, maria))
    if pg and maria:
        cases.append(("postgresql staging -> mariadb production", pg, maria, maria))
    print(f"file: {args.file} ({args.file.stat().st_size:,} bytes), repeat {args.repeat}, median seconds")
    print(f"{'backend':<44}{'naive to_sql':>14}{'pipeline':>12}{'ratio':>9}  target >= 2")
    worst = float("inf")
    for name, staging, production, naive_url in cases:
        naive = statistics.median(time_naive(args.file, naive_url, args.repeat))
        piped = statistics.median(time_pipeline(args.file, staging, production, tmp / name.split()[0], args.repeat))
        ratio = naive / piped
        worst = min(worst, ratio)
        print(f"{name:<44}{naive:>14.3f}{piped:>12.3f}{ratio:>8.2f}x  {'ok' if ratio >= 2 else 'BELOW TARGET'}")
    if not pg or not maria:
        print("note: set BENCH_POSTGRESQL_URL and BENCH_MARIADB_URL to include the servers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
