"""The command line: ``python -m engine COMMAND``; every command takes ``--json`` for one JSON object.

Exit status: 0 success (promoted or duplicate for ingest), 2 the input was refused, 1 any other error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from engine.errors import EngineError, InputError

EXIT_OK, EXIT_ERROR, EXIT_REFUSED = 0, 1, 2


def _emit(args: argparse.Namespace, payload: dict[str, Any], lines: Sequence[str]) -> None:
    if args.json:
        print(json.dumps(payload, default=str))
    else:
        for line in lines:
            print(line)


def _cmd_ingest(args: argparse.Namespace) -> int:
    from engine import services

    result = services.ingest_path(Path(args.path), source=args.source)
    lines = [f"batch {result.batch_id}: {result.status} - {result.message}"]
    for f in result.failures[:50]:
        lines.append(f"  row {f.row if f.row is not None else '-'} | {f.column or '-'} | {f.value!r} | {f.check}")
    if len(result.failures) > 50:
        lines.append(f"  ... {len(result.failures) - 50} more (use --json for all)")
    _emit(args, result.to_dict(), lines)
    return EXIT_OK if result.ok else EXIT_REFUSED


def _cmd_load_species(args: argparse.Namespace) -> int:
    from engine import services

    result = services.load_species(Path(args.path))
    _emit(args, result.to_dict(), [result.message, f"  methods: {result.methods}"])
    return EXIT_OK


def _cmd_train(args: argparse.Namespace) -> int:
    from engine import services

    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    progress = None if args.json else (lambda family, message: print(f"[{family}] {message}", flush=True))
    result = services.train_models(families=families, random_state=args.seed, notes=args.notes, progress=progress)
    lines = []
    for v in result.to_dict()["versions"]:
        m = v["metrics"]
        lines.append(f"version {v['version']} {v['family']}: species-held-out accuracy {m['species']['accuracy']:.3f} "
                     f"(random split {m['random']['accuracy']:.3f}); at the safety threshold false-edible "
                     f"{m['safety']['false_edible_rate']:.2%}, coverage {m['safety']['coverage']:.1%}")
    _emit(args, result.to_dict(), lines)
    return EXIT_OK


def _cmd_models(args: argparse.Namespace) -> int:
    from engine import services

    rows = [v.summary() for v in services.list_versions()]
    lines = [f"v{r['version']:<4} {r['family']:<4} {r['stage']:<11} species acc {r['species_accuracy']:.3f}  "
             f"false-edible {r['species_false_edible_rate']:.2%}  coverage {r['coverage']:.1%}" for r in rows]
    _emit(args, {"status": "ok", "versions": rows}, lines or ["no versions yet: python -m engine train"])
    return EXIT_OK


def _cmd_promote(args: argparse.Namespace) -> int:
    from engine import services

    done = services.promote_version(args.version, to_stage=args.stage, reason=args.reason)
    _emit(args, {"status": "ok", "transitions": [t.__dict__ for t in done]},
          [f"version {t.version}: {t.from_stage} -> {t.to_stage}" for t in done])
    return EXIT_OK


def _cmd_rollback(args: argparse.Namespace) -> int:
    from engine import services

    done = services.rollback_production(reason=args.reason)
    _emit(args, {"status": "ok", "transitions": [t.__dict__ for t in done]},
          [f"version {t.version}: {t.from_stage} -> {t.to_stage}" for t in done])
    return EXIT_OK


def _cmd_predict(args: argparse.Namespace) -> int:
    from engine import services

    path = Path(args.path)
    if not path.is_file():
        raise InputError(f"No such file: {path}. Give a CSV file with the feature columns.")
    scored, failures = services.predict_csv(path.read_bytes(), path.name, version=args.version, source="cli")
    services.prediction_log().flush()
    if args.output:
        scored.to_csv(args.output, index=False)
    rows = [{"row": i + 1, "decision": r["decision"], "p_poisonous": None if pd.isna(r["p_poisonous"]) else
             float(r["p_poisonous"]), "version": int(r["version"]), "error": r["error"]}
            for i, r in enumerate(scored[["decision", "p_poisonous", "version", "error"]].to_dict("records"))]
    counts = scored["decision"].value_counts().to_dict()
    payload = {"status": "scored" if not failures else "partly_scored", "predictions": rows,
               "failures": [f.to_dict() for f in failures], "counts": counts}
    lines = [f"{len(scored) - len({f.row for f in failures})} of {len(scored)} rows scored: {counts}"]
    lines += [f"  row {f.row}: {f.column} {f.check} (got {f.value!r})" for f in failures[:50]]
    if args.output:
        lines.append(f"written to {args.output}")
    elif not args.json:
        lines += [f"  row {r['row']}: {r['decision']} (P(poisonous) {r['p_poisonous']})" for r in rows[:20]]
    _emit(args, payload, lines)
    return EXIT_OK if not failures else EXIT_REFUSED


def _cmd_ingest_inbox(args: argparse.Namespace) -> int:
    from engine import services

    results = services.ingest_inbox()
    lines = [f"{r.file_name}: batch {r.batch_id} {r.status} - {r.message}" for r in results] or ["inbox is empty"]
    _emit(args, {"status": "ok", "batches": [r.to_dict() for r in results]}, lines)
    return EXIT_OK if all(r.ok for r in results) else EXIT_REFUSED


COMMANDS: dict[str, tuple[str, Callable[[argparse.Namespace], int]]] = {
    "ingest": ("ingest a CSV file: validate, stage and promote it to mushroom_data", _cmd_ingest),
    "ingest-inbox": ("ingest every CSV file waiting in the watched folder (INBOX_DIR)", _cmd_ingest_inbox),
    "load-species": ("load primary_data.csv as the species reference and attribute rows to species",
                     _cmd_load_species),
    "train": ("train and register versions with random and species-held-out evaluation", _cmd_train),
    "models": ("list registered model versions", _cmd_models),
    "promote": ("move a version to a stage (production passes the gate)", _cmd_promote),
    "rollback": ("put the previous production version back", _cmd_rollback),
    "predict": ("classify every row of a CSV file with the production (or given) version", _cmd_predict),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Mushroom classification engine")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, _) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        if name == "ingest":
            p.add_argument("path", help="CSV file (';' or ',' separated, UTF-8)")
            p.add_argument("--source", default="cli", help="where the file came from (recorded in lineage)")
        if name == "train":
            p.add_argument("--families", default="lr,dt,xgb", help="comma-separated: lr, dt, xgb")
            p.add_argument("--seed", type=int, default=42)
            p.add_argument("--notes", default="")
        if name == "promote":
            p.add_argument("version", type=int)
            p.add_argument("--stage", default="production", choices=["staging", "production", "archived"])
            p.add_argument("--reason", required=True)
        if name == "predict":
            p.add_argument("path", help="CSV file with the 20 feature columns (a class column is ignored)")
            p.add_argument("--version", type=int, default=None, help="model version (default: production)")
            p.add_argument("--output", help="write the scored rows to this CSV file")
        if name == "rollback":
            p.add_argument("--reason", required=True)
        if name == "load-species":
            p.add_argument("path", help="primary_data.csv of the UCI secondary mushroom data set")
        extend = EXTRA_ARGUMENTS.get(name)
        if extend is not None:
            extend(p)
    return parser


#: Other modules add their commands' arguments here (name -> function adding arguments).
EXTRA_ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _, handler = COMMANDS[args.command]
    try:
        return handler(args)
    except EngineError as exc:
        payload = {"status": "error", "error": exc.code, "message": exc.message}
        if args.json:
            print(json.dumps(payload))
        else:
            print(f"error: {exc.message}", file=sys.stderr)
        refused = ("input_error", "file_rejected", "no_data", "no_species", "gate_refused", "bad_transition",
                   "unknown_family", "missing_columns", "no_production", "bad_row")
        return EXIT_REFUSED if exc.code in refused else EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
