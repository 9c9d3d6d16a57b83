"""Fetch: turn the bytes of an uploaded or watched CSV file into a frame of strings, or say why not."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from engine import dataset
from engine.errors import InputError

DELIMITERS = (";", ",", "\t")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
#: Longest cell read as data. Codes are one letter and numbers short; anything far longer is
#: an attack or a broken file, and is reported rather than carried through the pipeline.
MAX_CELL_CHARS = 64


@dataclass(frozen=True)
class Failure:
    """One line of a validation report: 1-based data row (None for the whole file), column, value, check."""

    row: int | None
    column: str | None
    value: str | None
    check: str
    severity: str = "error"

    def to_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "value": self.value, "check": self.check,
                "severity": self.severity}


class FileRejected(InputError):
    """The file cannot be read as a mushroom CSV; ``failures`` say where and why."""

    code = "file_rejected"

    def __init__(self, message: str, failures: list[Failure] | None = None) -> None:
        super().__init__(message)
        self.failures = failures or [Failure(None, None, None, message)]


@dataclass(frozen=True)
class RawFile:
    """The file as read: identity, the text's layout, and every cell as a string (None = empty)."""

    file_name: str
    size_bytes: int
    sha256: str
    delimiter: str
    header: tuple[str, ...]
    frame: pd.DataFrame
    #: The data lines as written, kept only for a plain file (no quotes, no blanks around
    #: cells), where each line is already a delimited row equal to the parsed one: the bulk
    #: paths of PostgreSQL and MariaDB load these lines directly.
    plain_lines: tuple[str, ...] | None = None


def safe_file_name(name: str) -> str:
    """A file name fit to store and show: no directories, no control or odd characters, 255 chars at most."""
    base = Path(name.replace("\\", "/")).name
    cleaned = _SAFE_NAME.sub("_", base).strip(" .") or "upload.csv"
    return cleaned[:255]


def clip(value: object, limit: int = 120) -> str | None:
    """A cell value shortened for a report (the full value may be megabytes)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _decode(data: bytes) -> str:
    if not data:
        raise FileRejected("The file is empty: upload a CSV file with a header line and at least one data row.")
    head = data[:8192]
    if b"\x00" in head:
        raise FileRejected("This is a binary file, not CSV text (it contains NUL bytes). Export the data as CSV.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRejected(
            f"The file is not valid UTF-8: byte 0x{data[exc.start]:02x} at byte offset {exc.start} "
            f"(line {line} of the file) cannot be decoded. Save the file as UTF-8.",
            [Failure(line - 1 if line > 1 else None, None, f"0x{data[exc.start]:02x}", "utf8_decode")],
        ) from None


def _sniff(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise FileRejected(
            "No delimiter found in the header line: expected columns separated by ';' or ','. "
            f"The header reads {clip(header_line, 80)!r}."
        )
    return best


def _field_counts(lines: list[str], delimiter: str, quoted: bool) -> list[int]:
    if not quoted:
        return [line.count(delimiter) + 1 for line in lines]
    return [len(fields) for fields in csv.reader(lines, delimiter=delimiter)]


def read_csv_bytes(data: bytes, file_name: str, max_bytes: int | None = None) -> RawFile:
    """Decode, sniff and parse ``data``; every cell stays a string so the report can show it as written.

    Raises
    ------
    FileRejected
        Empty, binary, not UTF-8, too large, no delimiter, a header alone, or rows with the
        wrong number of fields (each such row is named).
    """
    name = safe_file_name(file_name)
    if max_bytes is not None and len(data) > max_bytes:
        raise FileRejected(
            f"The file is {len(data) / 1e6:.1f} MB, over the upload limit of {max_bytes / 1e6:.0f} MB "
            "(setting UPLOAD_MAX_MB). Split it into smaller files."
        )
    digest = hashlib.sha256(data).hexdigest()
    text = _decode(data)
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or not lines[0].strip():
        raise FileRejected("The file has no header line: the first line must name the columns.")
    delimiter = _sniff(lines[0])
    if len(lines) == 1:
        raise FileRejected("The file has a header but no data rows.")
    quoted = '"' in text
    counts = _field_counts(lines, delimiter, quoted)
    expected = counts[0]
    bad = [Failure(i, None, f"{n} fields", f"row has {n} fields, the header has {expected}")
           for i, n in enumerate(counts[1:], start=1) if n != expected]
    if bad:
        raise FileRejected(
            f"{len(bad)} row(s) have a different number of fields than the header ({expected}); "
            f"first at data row {bad[0].row}.",
            bad,
        )
    # Blank lines inside the file were refused above (one field against the header's), so
    # the parser's skipping of blank lines only drops trailing ones.
    frame = pd.read_csv(
        io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
        na_filter=False, engine="c", quoting=csv.QUOTE_MINIMAL,
    )
    header = tuple(str(c) for c in frame.columns)
    normalised = [dataset.normalise_column_name(c) for c in header]
    repeated = sorted({c for c in normalised if normalised.count(c) > 1})
    if repeated:
        raise FileRejected(f"Column(s) named more than once: {', '.join(clip(c, 60) or '' for c in repeated)}.")
    frame.columns = normalised
    plain = not quoted and not any(ch in text for ch in " \t\x0b\x0c")
    if not plain:
        frame = frame.apply(lambda s: s.str.strip())
    frame = frame.where(frame != "", None)
    return RawFile(name, len(data), digest, delimiter, header, frame, tuple(lines[1:]) if plain else None)
