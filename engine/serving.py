"""Serving: the fast predictor of a registered version, its safety decision, and the prediction log."""

from __future__ import annotations

import atexit
import json
import math
import queue
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine

from engine import dataset
from engine.db.bulk import bulk_insert
from engine.db.models import Prediction
from engine.errors import InputError
from engine.ingest.pipeline import utcnow
from engine.ingest.sources import Failure, clip
from engine.registry import ModelVersionInfo
from engine.training.fast import FastPredictor
from engine.training.safety import decide

# ---------------------------------------------------------------- input checks


def check_row(row: Mapping[str, Any]) -> list[str]:
    """Problems of one mushroom given as ``feature -> value``; empty when it can be scored.

    The same rules as :func:`encode_checked` (allowed codes, ranges, required features), in plain
    Python so that one row costs microseconds, not a DataFrame.
    """
    problems: list[str] = []
    for name in dataset.FEATURES:
        value = row.get(name)
        missing = value is None or (isinstance(value, float) and math.isnan(value)) or value == ""
        if missing:
            if name in dataset.REQUIRED:
                problems.append(f"{name}: a value is required")
            continue
        if name in dataset.NUMERIC:
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                problems.append(f"{name}: {clip(value, 40)!r} is not a number")
                continue
            r = dataset.RANGES[name]
            if not (r.low < number if r.low_exclusive else r.low <= number) or number > r.high or math.isnan(number):
                problems.append(f"{name}: {number:g} is outside {r.low:g}..{r.high:g} {r.unit}")
        elif value not in dataset.CODES[name]:
            allowed = ", ".join(f"{k}={v}" for k, v in dataset.CODES[name].items())
            problems.append(f"{name}: unknown code {clip(value, 40)!r} (allowed: {allowed[:200]})")
    return problems


def _numbers(col: pd.Series) -> np.ndarray:
    try:
        return np.asarray(pc.cast(pa.array(col), pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return pd.to_numeric(col, errors="coerce").astype(np.float64).to_numpy()


def _codes(col: pd.Series, vocabulary: pa.Array) -> np.ndarray:
    """Index of each cell in ``vocabulary``; -1 for a missing cell or a value not in it."""
    found = pc.index_in(pa.array(col, type=pa.string()), value_set=vocabulary)
    return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def encode_checked(fast: FastPredictor, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[Failure]]:
    """Check every row of a frame of strings and encode it for ``fast`` in one pass per column.

    The checks are :func:`check_row`'s (allowed codes, ranges, required features), vectorised
    with Arrow's compute kernels. Returns the encoded matrix, a mask of the rows that passed,
    and one Failure per bad cell (rows numbered from 1). Rows that fail are encoded too but
    must not be scored.
    """
    absent = [c for c in dataset.FEATURES if c not in frame.columns]
    if absent:
        raise InputError(f"The file lacks required feature column(s): {', '.join(absent)}. "
                         "Use the column names of the secondary mushroom data set.", code="missing_columns")
    n = len(frame)
    x = np.zeros((n, fast.n_columns), dtype=fast.input_dtype)
    bad = np.zeros(n, dtype=bool)
    failures: list[Failure] = []
    numeric = {name: (idx, scaling) for name, idx, scaling in fast.numeric}
    categorical = {name: (mapping, missing_idx) for name, mapping, missing_idx, _ in fast.categorical}
    used = [name for name in dataset.CATEGORICAL_FEATURES if name in categorical]
    hot = np.empty((n, len(used)), dtype=np.int64)  # per used categorical: the column set to 1, or -1

    def fail(mask: np.ndarray, name: str, col: pd.Series, check: str) -> None:
        if mask.any():
            for i in np.flatnonzero(mask):
                failures.append(Failure(int(i) + 1, name, clip(col.iloc[i]), check))
            bad[mask] = True

    for name in dataset.FEATURES:
        col = frame[name]
        empty = col.isna().to_numpy()
        if name in dataset.REQUIRED:
            fail(empty, name, col, "a value is required")
        if name in dataset.NUMERIC:
            values = _numbers(col)
            fail(np.isnan(values) & ~empty, name, col, "type: a number")
            r = dataset.RANGES[name]
            with np.errstate(invalid="ignore"):
                low_ok = values > r.low if r.low_exclusive else values >= r.low
                fail(~np.isnan(values) & ~(low_ok & (values <= r.high)), name, col,
                     f"range: {r.low:g}..{r.high:g} {r.unit}")
            if name in numeric:
                idx, scaling = numeric[name]
                if scaling is not None:
                    fill, mean, scale = scaling
                    values = (np.where(np.isnan(values), fill, values) - mean) / scale
                x[:, idx] = values
        else:
            vocabulary = list(dataset.CODES[name])
            codes = _codes(col, pa.array(vocabulary, type=pa.string()))
            fail((codes < 0) & ~empty, name, col, "allowed codes: " + ", ".join(vocabulary))
            if name in categorical:
                mapping, missing_idx = categorical[name]
                missing = -1 if missing_idx is None else missing_idx
                target = np.array([mapping.get(v, -1) for v in vocabulary] + [-1])
                hot[:, used.index(name)] = np.where(empty, missing, target[codes])  # code -1 -> trailing -1
    if used:
        cells = hot + (np.arange(n, dtype=np.int64) * fast.n_columns)[:, None]
        x.reshape(-1)[cells.ravel() if (hot >= 0).all() else cells[hot >= 0]] = 1.0
    failures.sort(key=lambda f: (f.row or 0, f.column or ""))
    return x, ~bad, failures


# ---------------------------------------------------------------- the prediction log


class PredictionLog:
    """Prediction records written in batches by one background thread; nothing lost on a normal shutdown.

    ``enqueue`` only puts a record (or a whole scored batch) on a queue, so the answer is not
    slowed by the database; the writer flushes every ``interval`` seconds or ``batch`` records,
    and ``close`` (also registered with atexit) drains the queue before the process ends. A
    batch the database refuses three times goes to ``fallback`` (JSON lines) and is counted in
    ``failed``, never dropped.
    """

    def __init__(self, engine: Engine, fallback: Path, *, interval: float = 0.25, batch: int = 5000) -> None:
        self.engine = engine
        self.fallback = fallback
        self.failed = 0
        self.last_error: str | None = None
        self.interval = interval
        self.batch = batch
        self._queue: queue.Queue[PendingRecords | None] = queue.Queue()
        self._written = 0
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    @property
    def written(self) -> int:
        return self._written

    def enqueue(self, records: PendingRecords) -> None:
        """Queue records; the writer thread, not the caller, turns them into rows."""
        self._idle.clear()
        self._queue.put(records)

    def _drain(self, first: PendingRecords) -> list[PendingRecords]:
        items, count = [first], len(first.p)
        while count < self.batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)
                break
            items.append(item)
            count += len(item.p)
        return items

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.interval)
            except queue.Empty:
                self._idle.set()
                continue
            if item is None:
                self._idle.set()
                return
            items = self._drain(item)
            frame = PendingRecords.frame_of(items)
            self._write(frame)
            if self._queue.empty():
                self._idle.set()

    def _write(self, frame: pd.DataFrame) -> None:
        for attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    bulk_insert(conn, Prediction.__table__, frame)  # type: ignore[arg-type]
                self._written += len(frame)
                return
            except Exception as exc:  # noqa: BLE001 - serving goes on; the records must not be lost
                error = exc
                time.sleep(self.interval * (attempt + 1))
        # The database refused three times: keep the records in a file beside the data instead.
        self.fallback.parent.mkdir(parents=True, exist_ok=True)
        with self.fallback.open("a", encoding="utf-8") as handle:
            handle.write(frame.to_json(orient="records", lines=True, date_format="iso"))
        self.failed += len(frame)
        self.last_error = f"{type(error).__name__}: {error}"[:500]

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every queued record is written (tests, pages that show the log)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and self._idle.wait(0.05) and self._queue.empty():
                return
        raise TimeoutError("prediction log did not drain in time")

    def close(self) -> None:
        """Drain the queue and stop the writer (idempotent)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=60)


@dataclass(frozen=True)
class PendingRecords:
    """Predictions waiting for the writer: raw arrays, turned into table rows off the request path."""

    request_id: str
    version: int
    source: str
    inputs: pd.DataFrame | dict[str, Any]
    p: np.ndarray
    decisions: np.ndarray
    row_numbers: list[int] | None
    created_at: Any

    @staticmethod
    def frame_of(items: list[PendingRecords]) -> pd.DataFrame:
        """Table rows of many pending items; single answers are gathered into one frame at once."""
        singles = [i for i in items if not isinstance(i.inputs, pd.DataFrame)]
        frames = [i.build() for i in items if isinstance(i.inputs, pd.DataFrame)]
        if singles:
            frames.append(pd.DataFrame({
                "request_id": [i.request_id for i in singles], "created_at": [i.created_at for i in singles],
                "version_id": [i.version for i in singles], "decision": [str(i.decisions[0]) for i in singles],
                "p_poisonous": [float(i.p[0]) for i in singles],
                "inputs_json": [json.dumps(i.inputs) for i in singles],
                "source": [i.source[:32] for i in singles], "row_number": [None] * len(singles)}))
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def build(self) -> pd.DataFrame:
        if isinstance(self.inputs, pd.DataFrame):
            chosen = self.inputs if self.row_numbers is None else self.inputs.iloc[np.array(self.row_numbers) - 1]
            chosen = chosen[list(dataset.FEATURES)].astype({c: np.float64 for c in dataset.NUMERIC})
            inputs = chosen.to_json(orient="records", lines=True).splitlines()
        else:
            inputs = [json.dumps(self.inputs)]
        n = len(self.p)
        return pd.DataFrame({"request_id": self.request_id, "created_at": self.created_at,
                             "version_id": self.version, "decision": self.decisions, "p_poisonous": self.p,
                             "inputs_json": inputs, "source": self.source[:32],
                             "row_number": self.row_numbers if self.row_numbers is not None else [None] * n})


# ---------------------------------------------------------------- the predictor


@dataclass(frozen=True)
class PredictionResult:
    """One answer: the decision, P(poisonous), the version and the features that drove it."""

    request_id: str
    decision: str
    p_poisonous: float
    version: int
    family: str
    t_low: float
    t_high: float
    drivers: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "decision": self.decision, "p_poisonous": self.p_poisonous,
                "version": self.version, "family": self.family, "t_low": self.t_low, "t_high": self.t_high,
                "drivers": [{"feature": f, "effect": e} for f, e in self.drivers]}


class Predictor:
    """A registered version ready to answer: encoding, probability, threshold, logging."""

    def __init__(self, info: ModelVersionInfo, fast: FastPredictor, log: PredictionLog | None) -> None:
        self.info = info
        self.fast = fast
        self.log = log
        self._thresholds = (info.threshold.t_low, info.threshold.t_high)

    def _decide_one(self, p: float) -> str:
        return str(decide(np.array([p]), self._thresholds)[0])

    def predict_one(self, row: Mapping[str, Any], *, source: str = "api", explain: bool = False) -> PredictionResult:
        """Score one mushroom; raises InputError listing every problem of the row."""
        problems = check_row(row)
        if problems:
            raise InputError("This mushroom cannot be scored: " + "; ".join(problems) + ".", code="bad_row")
        clean = {name: row.get(name) for name in dataset.FEATURES}
        for name in dataset.NUMERIC:
            if clean[name] is not None and clean[name] != "":
                clean[name] = float(clean[name])  # type: ignore[arg-type]
            else:
                clean[name] = None
        p = self.fast.predict_one(clean)
        decision = self._decide_one(p)
        request_id = str(uuid.uuid4())
        if self.log is not None:
            self.log.enqueue(PendingRecords(request_id, self.info.version, source, clean, np.array([p]),
                                            np.array([decision]), None, utcnow()))
        drivers = self.explain(clean, p) if explain else ()
        return PredictionResult(request_id, decision, p, self.info.version, self.info.family,
                                self._thresholds[0], self._thresholds[1], drivers)

    def explain(self, row: Mapping[str, Any], p: float, top: int = 6) -> tuple[tuple[str, float], ...]:
        """How much each given feature moves P(poisonous): p minus p with that feature unknown.

        Occlusion, the same for every family: each feature in turn is set to missing and the
        row scored again (one batch of up to 20 rows). Positive: the feature pushes towards
        poisonous.
        """
        given = [f for f in dataset.FEATURES if row.get(f) is not None]
        if not given:
            return ()
        x = np.vstack([self.fast.encode_row({**row, name: None}) for name in given])
        effects = p - self.fast.predict_encoded(x)
        order = np.argsort(-np.abs(effects))[:top]
        return tuple((given[i], float(effects[i])) for i in order)

    def predict_frame(self, frame: pd.DataFrame, *, source: str = "batch") -> tuple[pd.DataFrame, list[Failure]]:
        """Score every valid row of a frame of strings; invalid rows get no answer and a failure each.

        Returns the frame with ``p_poisonous``, ``decision``, ``version`` and ``error`` columns
        added (input columns unchanged), and the failures.
        """
        n = len(frame)
        x, ok, failures = encode_checked(self.fast, frame)
        p = np.full(n, np.nan)
        decisions = np.full(n, None, dtype=object)
        if ok.any():
            p_ok = self.fast.predict_encoded(x[ok] if not ok.all() else x)
            p[ok] = p_ok
            decisions[ok] = decide(p_ok, self._thresholds)
        out = frame.copy()
        out["p_poisonous"] = p
        out["decision"] = decisions
        out["version"] = self.info.version
        errors: dict[int, list[str]] = {}
        for f in failures:
            errors.setdefault(int(f.row or 0), []).append(f"{f.column}: {f.check} (got {f.value!r})")
        out["error"] = [("; ".join(errors[i + 1]) if i + 1 in errors else None) for i in range(n)] if errors \
            else None
        if self.log is not None and ok.any():
            rows = np.flatnonzero(ok)
            self.log.enqueue(PendingRecords(str(uuid.uuid4()), self.info.version, source, frame, p[ok],
                                            decisions[ok], (rows + 1).tolist(), utcnow()))
        return out, failures
