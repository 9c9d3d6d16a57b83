"""The command line: --json output, exit statuses, and the real module entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import cli
from engine.config import get_settings
from tests.conftest import REPO


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MUSHROOM_DATA_DIR", str(tmp_path / "data"))
    for key in ("STAGING_DATABASE_URL", "PRODUCTION_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = cli.main([*argv, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, "--json prints exactly one line"
    return code, json.loads(out[0])


def test_ingest_json_and_exit_statuses(data_dir: Path, capsys: pytest.CaptureFixture[str], secondary_path: Path,
                                       uci_1987_path: Path, tmp_path: Path) -> None:
    code, out = _run(capsys, "ingest", str(secondary_path), "--source", "nightly")
    assert code == 0
    assert {"batch_id", "status", "rows_read", "rows_promoted", "failures", "message"} <= set(out)
    assert (out["status"], out["rows_read"], out["rows_promoted"], out["failures"]) == ("promoted", 61069, 61069, [])
    code, out = _run(capsys, "ingest", str(secondary_path))
    assert (code, out["status"]) == (0, "duplicate")
    code, out = _run(capsys, "ingest", str(uci_1987_path))
    assert (code, out["status"]) == (2, "rejected")
    assert any(f["column"] == "odor" and f["row"] is None for f in out["failures"])  # type: ignore[union-attr]
    bad = tmp_path / "bad.csv"
    lines = secondary_path.read_text(encoding="utf-8").splitlines()[:6]
    lines[3] = lines[3].replace(";x;", ";z;", 1)
    bad.write_text("\n".join(lines), encoding="utf-8")
    code, out = _run(capsys, "ingest", str(bad))
    assert code == 2
    assert [(f["row"], f["column"], f["value"]) for f in out["failures"]] == [(3, "cap_shape", "z")]  # type: ignore[union-attr]
    code, out = _run(capsys, "ingest", str(tmp_path / "nope.csv"))
    assert (code, out["status"], out["error"]) == (2, "error", "input_error")


def test_other_errors_exit_1(data_dir: Path, capsys: pytest.CaptureFixture[str], secondary_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVALID_ROW_POLICY", "ignore")
    get_settings.cache_clear()
    code, out = _run(capsys, "ingest", str(secondary_path))
    assert (code, out["error"]) == (1, "config_error")
    assert "INVALID_ROW_POLICY" in str(out["message"])


def test_python_dash_m_engine_runs_load_species(tmp_path: Path, primary_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    env["MUSHROOM_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run([sys.executable, "-m", "engine", "load-species", str(primary_path), "--json"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["species"], out["families"]) == (173, 23)


def test_inbox_files_are_ingested_and_filed_away(data_dir: Path, capsys: pytest.CaptureFixture[str],
                                                 secondary_path: Path, uci_1987_path: Path) -> None:
    import os
    import shutil
    import time

    inbox = data_dir / "inbox"
    inbox.mkdir(parents=True)
    lines = secondary_path.read_text(encoding="utf-8").splitlines()[:301]
    (inbox / "good.csv").write_text("\n".join(lines), encoding="utf-8")
    shutil.copy(uci_1987_path, inbox / "old.csv")
    (inbox / "notes.txt").write_text("not a csv")
    past = time.time() - 60
    for name in ("good.csv", "old.csv"):
        os.utime(inbox / name, (past, past))
    code, out = _run(capsys, "ingest-inbox")
    assert code == 2  # one file was refused
    statuses = {b["file_name"]: b["status"] for b in out["batches"]}  # type: ignore[union-attr]
    assert statuses == {"good.csv": "promoted", "old.csv": "rejected"}
    assert [p.name.endswith("-good.csv") for p in (inbox / "processed").iterdir()] == [True]
    assert [p.name.endswith("-old.csv") for p in (inbox / "rejected").iterdir()] == [True]
    assert (inbox / "notes.txt").exists()
    (inbox / "fresh.csv").write_text("\n".join(lines), encoding="utf-8")  # still being copied: waits
    code, out = _run(capsys, "ingest-inbox")
    assert (code, out["batches"]) == (0, [])
