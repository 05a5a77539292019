"""``vigil ingest`` of a file, a folder or a glob, each file once; ``--watch`` on a real folder in a
subprocess, stopped and started again (issue 14, section 4)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from analytics import store
from analytics.cli import main
from analytics.ingest import ingest_files

from test_settings_cli import _rows, churn, churn_template  # noqa: F401 - fixtures


def _loaded(db) -> int:
    return store.read(lambda con: con.execute("SELECT count(*) FROM predictions_churn").fetchone()[0], db)


def test_a_folder_and_a_glob_each_file_once_with_one_summary(churn, tmp_path, capsys):
    landing = tmp_path / "landing"
    landing.mkdir()
    _rows(20).to_parquet(landing / "a.parquet")
    _rows(15, start=20).to_csv(landing / "b.csv", index=False)
    (landing / "notes.txt").write_text("not a log")
    capsys.readouterr()
    assert main(["--db", str(churn), "ingest", "churn", str(landing)]) == 0
    out = capsys.readouterr().out
    assert "2 files of predictions for churn: 2 committed, 0 rejected, 0 already taken; rows loaded 35" in out
    assert "summaries of churn brought up to date" in out
    _rows(5, start=35).to_parquet(landing / "c.parquet")
    assert main(["--db", str(churn), "ingest", "churn", str(landing / "*.parquet"), "--no-refresh"]) == 0
    out = capsys.readouterr().out
    assert "1 committed, 0 rejected, 1 already taken; rows loaded 5" in out and "not refreshed" in out
    assert _loaded(churn) == 40
    (landing / "copy.parquet").write_bytes((landing / "a.parquet").read_bytes())  # same content, new name
    again = ingest_files("churn", landing, db=churn)
    assert again.reports == [] and len(again.skipped) == 4
    assert sorted(p.name for p in landing.iterdir()) == ["a.parquet", "b.csv", "c.parquet", "copy.parquet",
                                                         "notes.txt"]  # nothing moved or deleted


def test_nothing_matching_and_an_unknown_model_are_explained(churn, tmp_path, capsys):
    assert main(["--db", str(churn), "ingest", "churn", str(tmp_path / "none-*.parquet")]) == 1
    assert "no .parquet or .csv file matches" in capsys.readouterr().err
    assert main(["--db", str(churn), "ingest", "chrun", str(tmp_path)]) == 1
    assert "register one with 'vigil models register SPEC.toml'" in capsys.readouterr().err


def _start_watch(db: Path, folder: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen([sys.executable, "-m", "analytics.cli", "--db", str(db), "ingest", "churn", str(folder),
                             "--watch", "--interval", "0.2", "--no-refresh"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=_ctrl_c_as_in_a_terminal)


def _ctrl_c_as_in_a_terminal() -> None:
    """Give the watcher Ctrl-C's default handling: xdist workers ignore SIGINT, and children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(predicate, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    return out


def test_watch_takes_new_files_as_they_arrive_and_a_restart_takes_only_new_ones(churn, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    _rows(10).to_parquet(landing / "001.parquet")
    watcher = _start_watch(churn, landing)
    try:
        _wait_for(lambda: _loaded(churn) == 10)  # committed: the watcher is idle again
        _rows(10, start=10).to_parquet(landing / "002.parquet")
        _wait_for(lambda: _loaded(churn) == 20)
    finally:
        out = _stop(watcher)
    assert "watching" in out and out.count("COMMITTED") == 2 and out.rstrip().endswith("stopped watching"), out
    assert watcher.returncode == 0
    _rows(10, start=20).to_parquet(landing / "003.parquet")
    watcher = _start_watch(churn, landing)
    try:
        _wait_for(lambda: _loaded(churn) == 30)
        time.sleep(1.0)  # a few more polls: nothing is taken twice
    finally:
        out = _stop(watcher)
    assert out.count("COMMITTED") == 1 and "003.parquet" in out, out
    assert _loaded(churn) == 30 and len(list(landing.iterdir())) == 3


def _files(db) -> int:
    return store.read(lambda con: con.execute("SELECT count(*) FROM ingested_files").fetchone()[0], db)
