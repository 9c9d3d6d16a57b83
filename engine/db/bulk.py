"""The one bulk insert: COPY on PostgreSQL, executemany on MariaDB and SQLite."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Table


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def rows_of(frame: pd.DataFrame, columns: Sequence[str]) -> list[list[object]]:
    """Plain Python tuples of ``columns`` with None for every missing value."""
    part = frame[list(columns)]
    values = part.to_numpy(dtype=object, na_value=None)
    for j, name in enumerate(part.columns):
        if pd.api.types.is_datetime64_any_dtype(part[name]):  # drivers bind datetime, not Timestamp
            values[:, j] = [None if v is None or pd.isna(v) else v.to_pydatetime() for v in values[:, j]]
    return values.tolist()


@dataclass(frozen=True)
class DelimitedRows:
    """The same rows as a frame, already written as delimited text: one line per row, cells
    separated by ``delimiter``, an empty cell for a missing value, no quoting, ``columns`` in order.
    """

    text: str
    delimiter: str
    columns: tuple[str, ...]


def _load_data_local(conn: Connection, target: str, rows: DelimitedRows) -> None:
    """MariaDB's LOAD DATA LOCAL INFILE from a private temporary file (empty cell -> NULL)."""
    fd, path = tempfile.mkstemp(prefix="mushroom-load-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(rows.text)
        variables = ", ".join(f"@v{i}" for i in range(len(rows.columns)))
        assignments = ", ".join(f"{_quote(conn, c)} = NULLIF(@v{i}, '')" for i, c in enumerate(rows.columns))
        delimiter = {"\t": "\\t"}.get(rows.delimiter, rows.delimiter)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(
                f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {target} CHARACTER SET utf8mb4 "
                f"FIELDS TERMINATED BY '{delimiter}' ESCAPED BY '' LINES TERMINATED BY '\\n' "
                f"({variables}) SET {assignments}"
            )
        finally:
            cursor.close()
    finally:
        os.unlink(path)


def bulk_insert(conn: Connection, table: Table, frame: pd.DataFrame, columns: Sequence[str] | None = None,
                *, delimited: DelimitedRows | None = None) -> int:
    """Insert every row of ``frame`` into ``table`` inside the caller's transaction.

    Column names come from the table definition, never from the frame's header, so no
    user text reaches the SQL. ``delimited``, when given, holds the same rows as text and
    lets PostgreSQL (COPY) and MariaDB (LOAD DATA LOCAL INFILE) load them without
    rendering the frame again. Returns the number of rows written.
    """
    names = list(columns or [c.name for c in table.columns if c.name in frame.columns])
    if frame.empty:
        return 0
    unknown = [n for n in names + list(delimited.columns if delimited else []) if n not in table.columns]
    if unknown:
        raise ValueError(f"columns {unknown} are not in table {table.name}")
    target = _quote(conn, table.name)
    column_sql = ", ".join(_quote(conn, n) for n in names)
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql" and delimited is not None:
        columns_sql = ", ".join(_quote(conn, n) for n in delimited.columns)
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.copy_expert(f"COPY {target} ({columns_sql}) FROM STDIN WITH (FORMAT csv, DELIMITER "
                               f"E'{delimited.delimiter.encode('unicode_escape').decode()}')",
                               io.StringIO(delimited.text))
        return len(frame)
    if conn.dialect.name in ("mariadb", "mysql") and delimited is not None:
        try:
            _load_data_local(conn, target, delimited)
            return len(frame)
        except Exception as exc:  # noqa: BLE001 - the driver's own error classes
            if "infile" not in str(exc).lower() and "local" not in str(exc).lower():
                raise
            # The server refuses LOCAL INFILE (local_infile=OFF): the portable path below.
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
