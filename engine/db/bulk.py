"""The one bulk insert: COPY on PostgreSQL, executemany on MariaDB and SQLite."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def rows_of(frame: pd.DataFrame, columns: Sequence[str]) -> list[tuple[object, ...]]:
    """Plain Python tuples of ``columns`` with None for every missing value."""
    lists = []
    for name in columns:
        series = frame[name]
        if pd.api.types.is_float_dtype(series.dtype):
            values = series.to_numpy(dtype=object)
            values[np.isnan(series.to_numpy(dtype=float))] = None
        else:
            values = series.astype(object).where(series.notna(), None).to_numpy(dtype=object)
        lists.append(values.tolist())
    return list(zip(*lists, strict=True))


def bulk_insert(conn: Connection, table: Table, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> int:
    """Insert every row of ``frame`` into ``table`` inside the caller's transaction.

    Column names come from the table definition, never from the frame's header, so no
    user text reaches the SQL. Returns the number of rows written.
    """
    names = list(columns or [c.name for c in table.columns if c.name in frame.columns])
    if frame.empty:
        return 0
    unknown = [n for n in names if n not in table.columns]
    if unknown:
        raise ValueError(f"columns {unknown} are not in table {table.name}")
    target = _quote(conn, table.name)
    column_sql = ", ".join(_quote(conn, n) for n in names)
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        buffer = io.StringIO()
        frame[names].to_csv(buffer, index=False, header=False, na_rep="")
        buffer.seek(0)
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.copy_expert(f"COPY {target} ({column_sql}) FROM STDIN WITH (FORMAT csv)", buffer)
        return len(frame)
    style = getattr(conn.dialect.dbapi, "paramstyle", "qmark")
    marks = ", ".join("?" if style == "qmark" else "%s" for _ in names)
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(f"INSERT INTO {target} ({column_sql}) VALUES ({marks})", rows_of(frame, names))
    finally:
        cursor.close()
    return len(frame)
