"""The summaries engine: readers never write, a day not summarised is read from the log and named, a refresh fills it."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import numpy as np
import pandas as pd

from analytics import business, drift, fairness, registry, settings, store, summaries
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


def test_a_refresh_builds_many_days_in_parts_of_the_rows_it_may_hold_with_the_same_rows(toy):
    # the toy model, registered from its spec; 4,000 rows over three UTC days, about 1,440 a whole day
    reference = toy.predictions(200)[["AGE", "income", "region", "is_member", "gender", "score", "decision"]]
    reference["label"] = np.arange(200) % 2
    store.write(lambda con: registry.load_reference(con, ADMIN, toy.name, "v1", reference), toy.db)
    rows = toy.predictions(4000)
    assert ingest(toy.name, rows, db=toy.db, actor=ADMIN).status == "committed"
    assert ingest(toy.name, toy.outcomes(rows), kind="outcomes", db=toy.db, actor=ADMIN).status == "committed"
    tables = [t.name for d in summaries.declarations() for t in d.tables]

    def rebuilt(part_rows: int) -> tuple[dict, dict[str, pd.DataFrame]]:
        def work(con):
            settings.set_value(con, ADMIN, summaries.BUILD_PART_ROWS.key, part_rows)
            for decl in summaries.declarations():
                summaries.forget(con, decl.name, toy.name)
            return summaries.refresh(con, toy.name, scope="v1")
        done = store.write(work, toy.db)
        kept = store.read(lambda con: {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").df() for t in tables}, toy.db)
        return done, kept

    whole, in_one = rebuilt(10_000)
    parted, in_parts = rebuilt(1_000)  # each day a build of its own
    days = sorted({ts.date() for ts in rows["predicted_at"]})
    assert whole == parted and whole["drift"] == whole["performance"] == len(days) == 4
    assert all(len(in_one[t]) for t in ("drift_rollup", "serving_hourly", "fairness_cells", "performance_cells",
                                         "multivariate_sample"))
    for table in tables:
        pd.testing.assert_frame_equal(in_parts[table], in_one[table], obj=table)

    builds: list[list[date]] = []

    def recorded(con, model, scope, days_):
        builds.append(days_)
        summaries.declaration("performance").build(con, model, scope, days_)

    def rebuild_performance(con):
        summaries.forget(con, "performance", toy.name)
        return summaries.refresh(con, toy.name, names=("performance",), build=recorded)

    assert store.write(rebuild_performance, toy.db) == {"performance": 4}
    assert builds == [[day] for day in days]


def test_build_parts_cut_days_in_order_into_runs_of_at_most_the_rows_given():
    day = [date(2026, 1, 1) + timedelta(days=i) for i in range(5)]
    rows = {day[0]: 400.0, day[1]: 700.0, day[2]: 100.0, day[3]: 2_000.0}  # day[4] holds none
    assert summaries.build_parts([day[3], day[0], day[2], day[1], day[4]], rows, 1_000) == [
        [day[0]], [day[1], day[2]], [day[3]], [day[4]]]
    assert summaries.build_parts(day, rows, 10_000) == [day]
    assert summaries.build_parts([], rows, 1_000) == []
