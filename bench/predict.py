"""Benchmark: the engine's predictor against the raw XGBoost booster (floor) and the sklearn pipeline (naive).

Usage: python bench/predict.py [--rows N] [--file PATH]

In one run, on a fresh SQLite data folder: ingest the file, load the species, train all three
families with the species-held-out evaluation (time printed), promote the XGBoost version, then
- one row: p50/p95 of (a) the floor, ``booster.inplace_predict`` on a row already encoded as
  numpy, (b) the naive ``pipeline.predict_proba`` on a one-row DataFrame, (c) the engine's
  ``Predictor.predict_one`` (input checks, encoding, threshold decision, log record enqueued);
- all rows: (a) the floor on the whole encoded matrix, (b) ``pipeline.predict_proba`` on the
  frame, (c) the engine's ``Predictor.predict_frame`` on the file's strings (checks, encoding,
  decisions, log enqueued);
- the largest difference between the fast path's and the pipeline's probabilities.
Targets (issue 3): one-row p50 <= 2x floor; all rows <= 1.5x floor; difference <= 1e-6.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from engine import dataset, services  # noqa: E402
from engine.config import load_settings  # noqa: E402
from engine.ingest.sources import read_csv_bytes  # noqa: E402
from engine.training.data import read_secondary_csv  # noqa: E402


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) * 1000.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=REPO / "samples" / "secondary_data.csv")
    parser.add_argument("--species", type=Path, default=REPO / "samples" / "primary_data.csv")
    parser.add_argument("--rows", type=int, default=2000, help="rows timed one at a time")
    args = parser.parse_args()
    settings = load_settings({"MUSHROOM_DATA_DIR": tempfile.mkdtemp(prefix="bench-predict-"),
                              "MUSHROOM_ENV": "test"})
    services.ingest_path(args.file, settings=settings)
    services.load_species(args.species, settings=settings)
    began = time.perf_counter()
    trained = services.train_models(settings=settings)
    total = time.perf_counter() - began
    per_family = ", ".join(f"{f} {s:.1f} s" for f, s in trained.seconds.items())
    print(f"train lr+dt+xgb with random hold-out + 5 species-held-out folds + final fit: {total:.1f} s "
          f"({per_family})")
    xgb = next(v for v in trained.versions if v.family == "xgb")
    services.promote_version(xgb.version, reason="benchmark", settings=settings)
    predictor = services.get_predictor(settings=settings)
    pipeline = predictor.fast.pipeline
    booster = pipeline.named_steps["model"].get_booster()

    frame = read_secondary_csv(args.file)[list(dataset.FEATURES)]
    raw = read_csv_bytes(args.file.read_bytes(), args.file.name).frame
    encoded = predictor.fast.encode_frame(frame)
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    n = min(args.rows, len(frame))
    picks = np.random.default_rng(0).choice(len(frame), size=n, replace=False)

    # Each path is timed in its own loop over the same rows (interleaving them would make each
    # call pay for waking the threads the previous one left idle).
    floor, naive, engine = [], [], []
    for i in picks:
        x = encoded[i:i + 1]
        t = time.perf_counter()
        booster.inplace_predict(x)
        floor.append(time.perf_counter() - t)
    for i in picks:
        one = frame.iloc[i:i + 1]
        t = time.perf_counter()
        pipeline.predict_proba(one)
        naive.append(time.perf_counter() - t)
    for i in picks:
        row = records[i]
        t = time.perf_counter()
        predictor.predict_one(row, source="bench")
        engine.append(time.perf_counter() - t)
    print(f"\none row, {n} rows timed (ms)        p50      p95")
    for name, values in (("floor: booster.inplace_predict", floor), ("naive: pipeline.predict_proba", naive),
                         ("engine: Predictor.predict_one", engine)):
        print(f"  {name:<32}{_p(values, 50):>8.3f}{_p(values, 95):>9.3f}")
    ratio_one = statistics.median(engine) / statistics.median(floor)
    print(f"  engine p50 / floor p50 = {ratio_one:.2f}x (target <= 2)   naive / engine = "
          f"{statistics.median(naive) / statistics.median(engine):.1f}x")

    def best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    t_floor = best(lambda: booster.inplace_predict(encoded))
    t_naive = best(lambda: pipeline.predict_proba(frame))
    t_engine = best(lambda: predictor.predict_frame(raw, source="bench"))
    print(f"\nall {len(frame):,} rows (s, best of 3)")
    print(f"  floor: booster.inplace_predict on encoded rows  {t_floor:.3f}")
    print(f"  naive: pipeline.predict_proba on the frame      {t_naive:.3f}")
    print(f"  engine: Predictor.predict_frame on the strings  {t_engine:.3f}")
    print(f"  engine / floor = {t_engine / t_floor:.2f}x (target <= 1.5)")

    fast = predictor.fast.predict_proba(frame)
    slow = pipeline.predict_proba(frame)[:, 1]
    print(f"\nmax |fast - pipeline| over {len(frame):,} rows: {np.max(np.abs(fast - slow)):.2e} (target <= 1e-6)")
    services.prediction_log(settings=settings).close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
