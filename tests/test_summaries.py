"""The summaries engine: readers never write, a day not summarised is read from the log and named, a refresh fills it."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import numpy as np
import pandas as pd

from analytics import business, drift, fairness, registry, store, summaries
from analytics.cli import main
from analytics.ingest import ingest
from analytics.roles import Actor
from analytics.window import Window

ADMIN = Actor("cli:tests", "system")


def _state(db) -> dict[str, str]:
    """Every file of the store's folder (the DuckDB file, a write-ahead log) with its content hash."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in db.parent.iterdir() if p.is_file()}


def test_readers_never_write_and_name_the_days_they_read_from_the_log(toy, capsys):
    reference = toy.predictions(200)[["AGE", "income", "region", "is_member", "gender", "score", "decision"]]
    reference["label"] = np.arange(200) % 2
    store.write(lambda con: registry.load_reference(con, ADMIN, toy.name, "v1", reference), toy.db)
    rows = toy.predictions(3000)  # 50 hours
    assert ingest(toy.name, rows, db=toy.db, actor=ADMIN).status == "committed"
    assert ingest(toy.name, toy.outcomes(rows), kind="outcomes", db=toy.db, actor=ADMIN).status == "committed"
    start = rows["predicted_at"].min().normalize().to_pydatetime()  # the toy log's first day (UTC)
    days = tuple((start + timedelta(days=i)).date() for i in range(3))
    window = Window(start=start, end=start + timedelta(days=3), version="v1")

    before = _state(toy.db)
    from_log = drift.drift_summary(toy.db, toy.name, window=window)
    latency = business.latency(toy.db, toy.name)
    cost = business.cost(toy.db, toy.name, now=window.end)
    fair = fairness.assess(toy.db, toy.name, window=Window(version="v1"), n_boot=0)
    assert _state(toy.db) == before  # nothing written, not even the ledger
    assert from_log.unsummarised_days == days
    assert store.read(lambda con: summaries.coverage(con, "serving", toy.name).unsummarised, toy.db) == days

    assert drift.refresh_rollups(toy.db, toy.name, version="v1") == 3
    assert main(["--db", str(toy.db), "refresh"]) == 0  # as the ingest does after its commit
    out = capsys.readouterr().out  # no KPI definition: no KPI summary; no champion: drift only by version
    assert "summaries of toy-model brought up to date:" in out and "serving 3 days" in out and "fairness 3 days" in out
    assert store.read(lambda con: summaries.coverage(con, "serving", toy.name).complete, toy.db)
    rolled = drift.drift_summary(toy.db, toy.name, window=window)
    assert rolled.unsummarised_days == () and rolled.n_current_rows == from_log.n_current_rows == 1500
    pd.testing.assert_frame_equal(rolled.table, from_log.table, rtol=1e-9, check_exact=False)
    pd.testing.assert_frame_equal(business.latency(toy.db, toy.name).by_version, latency.by_version)
    assert business.cost(toy.db, toy.name, now=window.end).summary["cost_usd"] == cost.summary["cost_usd"]
    fairness_cells = store.read(lambda con: con.execute("SELECT sum(n) FROM fairness_cells").fetchone()[0], toy.db)
    # on a connection of its own: not the process's cache of the log's cells, the cells kept in the store
    stored = store.read(lambda con: fairness.assess(con, toy.name, window=Window(version="v1"), n_boot=0), toy.db)
    assert fairness_cells == 3000 and (stored.rows, stored.labelled) == (fair.rows, fair.labelled) == (1500, 1500)
    pd.testing.assert_frame_equal(stored.verdicts(), fair.verdicts())
