"""The daily drift rollups answer exactly what the log answers, stay current after an ingest, and rebuild when stale."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics import clock, drift, store
from analytics.demo import _credit as credit
from analytics.drift import _calculator, _rollup
from analytics.ingest import ingest
from analytics.window import Window, ceil_hour, floor_hour
from analytics.roles import Actor

MODEL = "credit-default"
ADMIN = Actor("cli:tests", "system")


@pytest.fixture(scope="module")
def copy(demo_store, tmp_path_factory):
    """A private copy of the demo store (these tests write rollups and ingest)."""
    db = store.copy_store(demo_store.db, tmp_path_factory.mktemp("rollup") / "store")
    store.write(lambda con: con.execute("DELETE FROM drift_rollup; DELETE FROM summary_ledger WHERE summary = 'drift'"), db)
    return db, demo_store.end - timedelta(days=credit.DAYS)


def _direct(db, model, start, end, period=None, columns=None):
    """The same comparison computed from the log (the rollups bypassed)."""

    def work(con):
        config = _calculator.config_for_model(con, model)
        sides = _calculator.store_sides(con, model, window=Window(start=start, end=end, version=None), period=period,
                                        columns=columns)
        done = _calculator.store_drift(con, sides, config, histograms=True)
        return drift.DriftResult(done.rows).table, done.histograms, done.n_reference, done.n_current

    return store.read(work, db)


def _rolled(db):
    return store.read(lambda con: con.execute("SELECT count(*) FROM summary_ledger WHERE summary = 'drift'").fetchone()[0],
                      db)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    exact = ["column", "kind", "method", "n_reference", "n_current", "missing_current", "drifted", "unseen_categories"]
    pd.testing.assert_frame_equal(a[exact].reset_index(drop=True), b[exact].reset_index(drop=True))
    np.testing.assert_allclose(a["statistic"].to_numpy(float), b["statistic"].to_numpy(float), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a["tolerance"].to_numpy(float), b["tolerance"].to_numpy(float), rtol=1e-6, atol=1e-12)


def _same_as_the_log(db, result, start, end) -> None:
    """A drift summary equals the same comparison computed from the log: sizes, table and histograms."""
    table, hists, n_ref, n_cur = _direct(db, MODEL, start, end)
    assert (result.n_reference_rows, result.n_current_rows) == (n_ref, n_cur)
    _same(result.table, table)
    for column, frame in hists.items():
        pd.testing.assert_frame_equal(result.histograms[column], frame)


def _over_time_same_as_the_log(db, start, end, freq, columns):
    """Drift over time equals the same computed from the log; returns it."""
    over = drift.drift_over_time(db, MODEL, window=Window(start=start, end=end), freq=freq, columns=columns)
    direct = _direct(db, MODEL, start, end, period=freq, columns=list(columns))[0]
    _same(over.table, direct.sort_values(["column", "period"], ignore_index=True))
    return over


def test_rollups_answer_what_the_log_answers(copy):
    db, start = copy
    a, b = start + timedelta(days=60), start + timedelta(days=90)
    assert _rolled(db) == 0
    unrolled = drift.drift_summary(db, MODEL, window=Window(start=a, end=b))
    assert _rolled(db) == 0  # a reader never writes: the days not summarised are read from the log, and named
    assert len(unrolled.unsummarised_days) == 30
    with clock.pinned(b - timedelta(hours=6)):  # a window reaching now holds today in part: read, but not named
        reaching_now = drift.drift_summary(db, MODEL, window=Window(start=a, end=b))
    assert reaching_now.unsummarised_days == unrolled.unsummarised_days[:-1]
    _same(reaching_now.table, unrolled.table)
    _same_as_the_log(db, unrolled, a, b)
    assert drift.refresh_rollups(db, MODEL) > 0 and _rolled(db) > 0  # as the ingest (or vigil refresh) does
    result = drift.drift_summary(db, MODEL, window=Window(start=a, end=b))
    assert result.unsummarised_days == ()
    _same_as_the_log(db, result, a, b)
    # and per day, one day pinned to scipy: AGE has one value per fine bin, so W1 is exact
    over = _over_time_same_as_the_log(db, a, b, "day", ("AGE", "score", "channel"))
    day = a + timedelta(days=5)
    store.release(db)  # a read-only connection cannot share this process's lingering instance
    con = duckdb.connect(str(db), read_only=True)
    store.bind_store_folder(con)
    try:
        ref = con.execute("SELECT AGE FROM reference_credit_default WHERE model_version = 'v1'").df()["AGE"]
        cur = con.execute("SELECT AGE FROM predictions_credit_default WHERE model_version = 'v1' AND predicted_at >= ? "
                          "AND predicted_at < ?", [day, day + timedelta(days=1)]).df()["AGE"]
    finally:
        con.close()
    got = over.table.query("column == 'AGE'").set_index("period").loc[pd.Timestamp(day), "statistic"]
    assert got == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-9)


def test_a_new_ingest_is_rolled_up_once_and_counted(copy):
    db, start = copy
    drift.refresh_rollups(db, MODEL)
    assert drift.refresh_rollups(db, MODEL) == 0  # nothing new: nothing to do
    before = _rolled(db)
    # a new day of traffic: yesterday's v1 rows sent again under new ids, one day later
    store.release(db)  # a read-only connection cannot share this process's lingering instance
    con = duckdb.connect(str(db), read_only=True)
    store.bind_store_folder(con)
    try:
        last = con.execute("SELECT max(predicted_at) FROM predictions_credit_default").fetchone()[0]
        day = last.replace(hour=0, minute=0, second=0, microsecond=0)
        rows = con.execute("SELECT * FROM predictions_credit_default WHERE predicted_at >= ? AND model_version = 'v1'",
                           [day]).df()
    finally:
        con.close()
    rows["prediction_id"] = "new-" + rows["prediction_id"]
    rows["predicted_at"] = rows["predicted_at"] + pd.Timedelta(days=1)
    rows["AGE"] = rows["AGE"] + 20  # and much older clients
    ingest(MODEL, rows, actor=ADMIN, db=db)
    window = Window(day + timedelta(days=1), day + timedelta(days=2))
    assert drift.drift_summary(db, MODEL, window=window).unsummarised_days == ((day + timedelta(days=1)).date(),)
    assert drift.refresh_rollups(db, MODEL) == 1
    result = drift.drift_summary(db, MODEL, window=window)
    assert _rolled(db) == before + 1  # only the new segment's day was read
    assert result.n_current_rows == len(rows) and "AGE" in result.drifted_columns
    _same(result.table, _direct(db, MODEL, window.start, window.end)[0])


def test_stale_rollups_are_rebuilt(copy):
    db, start = copy
    drift.refresh_rollups(db, MODEL)
    rows = store.read(lambda con: con.execute("SELECT count(*), sum(n) FROM drift_rollup").fetchone(), db)
    store.write(lambda con: con.execute("UPDATE summary_ledger SET key = 'an-older-binning' WHERE summary = 'drift'"), db)
    assert drift.refresh_rollups(db, MODEL) > 0
    assert store.read(lambda con: con.execute("SELECT count(*), sum(n) FROM drift_rollup").fetchone(), db) == rows
    keys = store.read(lambda con: con.execute("SELECT DISTINCT key FROM summary_ledger WHERE summary = 'drift'").fetchall(),
                      db)
    assert keys != [("an-older-binning",)] and len(keys) == 1


def test_partial_days_at_the_edges_are_read_from_the_log_and_added(copy, monkeypatch):
    db, start = copy
    drift.refresh_rollups(db, MODEL)  # as an ingest does: readers never write (and xdist may run this test first)
    a = floor_hour(start + timedelta(days=60), "day") + timedelta(hours=7, minutes=30)
    b = floor_hour(start + timedelta(days=75), "day") + timedelta(hours=13)
    read = []
    load = _rollup.RollupCounts._load
    monkeypatch.setattr(_rollup.RollupCounts, "_load", lambda self: read.append((self.start, self.end)) or load(self))
    result = drift.drift_summary(db, MODEL, window=Window(start=a, end=b))
    assert set(read) == {(ceil_hour(a, "day"), floor_hour(b, "day"))}  # the whole days, from the rollups
    _same_as_the_log(db, result, a, b)
    _over_time_same_as_the_log(db, a, b, "week", ("AGE", "BILL_AMT1", "channel"))
    read.clear()  # a window inside one day has no whole day: the log answers it alone
    inside = drift.drift_summary(db, MODEL, window=Window(start=a, end=a + timedelta(hours=3)))
    assert read == [] and inside.n_current_rows == _direct(db, MODEL, a, a + timedelta(hours=3))[3] > 0


def test_a_baseline_window_or_a_segment_is_read_from_the_log():
    window = Window(datetime(2026, 5, 2), datetime(2026, 5, 9))
    assert _calculator._use_rollups(None, window)
    assert not _calculator._use_rollups(Window(datetime(2026, 5, 1), datetime(2026, 5, 2)), window)
    assert not _calculator._use_rollups(None, Window(segment="region", segment_value="north"))


def test_a_version_without_rows_in_the_segments_rolls_up_nothing(toy):
    """A version with a reference but no traffic yet (a just-approved challenger): its rollup is empty, not an error.

    Before the fix, summarising the log segments for it concatenated no frames and raised ValueError.
    """
    from analytics import registry

    reference = toy.predictions(200)[["AGE", "income", "region", "is_member", "gender", "score", "decision"]]
    reference["label"] = np.arange(200) % 2

    def work(con):
        registry.register_version(con, ADMIN, toy.name, "v3", threshold=0.5, owner="tests")
        registry.load_reference(con, ADMIN, toy.name, "v3", reference)

    store.write(work, toy.db)
    assert ingest(toy.name, toy.predictions(300), db=toy.db, actor=ADMIN).status == "committed"
    assert drift.refresh_rollups(toy.db, toy.name, version="v3") == 1
    assert store.read(lambda con: con.execute("SELECT count(*) FROM drift_rollup WHERE model_version = 'v3'")
                      .fetchone()[0], toy.db) == 0
    assert drift.refresh_rollups(toy.db, toy.name, version="v3") == 0  # marked rolled: not summarised again


def test_whole_weeks_are_kept_in_memory_until_an_ingest_changes_one_of_their_days(copy):
    """Drift over time per week keeps each whole week's sums in the process (the partial edge weeks are summed on
    every call); an ingest into a day of a kept week makes that day unsummarised (read from the log), and once
    the refresh rebuilds it the week is summed again, while the other week stays kept. Every answer is the log's."""
    db, start = copy
    drift.refresh_rollups(db, MODEL)  # as an ingest does
    monday = floor_hour(start + timedelta(days=100), "day")
    monday -= timedelta(days=monday.weekday())
    a, b = monday + timedelta(days=3, hours=5), monday + timedelta(days=24, hours=7)  # partial, 2 whole weeks, partial
    columns = ("AGE", "BILL_AMT1", "channel")
    here = str(Path(db).resolve())

    def kept_weeks():
        return sorted(key[3] for key in _rollup._WEEKS.keys() if key[0] == here)

    _rollup._WEEKS.clear()
    whole = [(monday + timedelta(days=7)).date(), (monday + timedelta(days=14)).date()]
    first = _over_time_same_as_the_log(db, a, b, "week", columns)
    assert kept_weeks() == whole and first.table["period"].nunique() == 4
    again = drift.drift_over_time(db, MODEL, window=Window(start=a, end=b), freq="week", columns=columns)
    assert kept_weeks() == whole  # read from memory, not summed again
    pd.testing.assert_frame_equal(again.table, first.table)
    # new traffic on a day of the second whole week: that day's v1 rows sent again under new ids, 20 years older
    day = monday + timedelta(days=16)
    store.release(db)  # a read-only connection cannot share this process's lingering instance
    con = duckdb.connect(str(db), read_only=True)
    store.bind_store_folder(con)
    try:
        rows = con.execute("SELECT * FROM predictions_credit_default WHERE predicted_at >= ? AND predicted_at < ? "
                           "AND model_version = 'v1'", [day, day + timedelta(days=1)]).df()
    finally:
        con.close()
    rows["prediction_id"] = "later-" + rows["prediction_id"]
    rows["AGE"] = rows["AGE"] + 20
    ingest(MODEL, rows, actor=ADMIN, db=db)
    unsummarised = _over_time_same_as_the_log(db, a, b, "week", columns)
    assert unsummarised.unsummarised_days == (day.date(),)
    assert drift.refresh_rollups(db, MODEL) == 1
    refreshed = _over_time_same_as_the_log(db, a, b, "week", columns)
    assert refreshed.unsummarised_days == () and kept_weeks() == [whole[0], whole[1], whole[1]]  # summed again

    def age(result):
        return result.table.query("column == 'AGE'").set_index("period")["statistic"]

    assert age(refreshed)[pd.Timestamp(whole[0])] == age(first)[pd.Timestamp(whole[0])]
    assert age(refreshed)[pd.Timestamp(whole[1])] > age(first)[pd.Timestamp(whole[1])]
    # the changed week pinned to scipy (AGE has one value per fine bin: W1 is exact)
    store.release(db)
    con = duckdb.connect(str(db), read_only=True)
    store.bind_store_folder(con)
    try:
        ref = con.execute("SELECT AGE FROM reference_credit_default WHERE model_version = 'v1'").df()["AGE"]
        cur = con.execute("SELECT AGE FROM predictions_credit_default WHERE model_version = 'v1' AND predicted_at >= ? "
                          "AND predicted_at < ?", [monday + timedelta(days=14), monday + timedelta(days=21)]).df()["AGE"]
    finally:
        con.close()
    assert age(refreshed)[pd.Timestamp(whole[1])] == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref),
                                                                   rel=1e-9)


def test_the_partial_edge_days_counts_are_kept_until_the_data_changes(copy):
    """The counts of a window's partial edge days (read from the log) are kept in the process under the store's
    data version: a second visit reads them from memory, an ingest into an edge day counts them again. Every
    answer is the log's."""
    db, start = copy
    drift.refresh_rollups(db, MODEL)  # as an ingest does
    a = floor_hour(start + timedelta(days=120), "day") + timedelta(hours=9)
    b = floor_hour(start + timedelta(days=130), "day") + timedelta(hours=15)
    here = str(Path(db).resolve())

    def kept():
        return [key for key in _calculator._EDGE_COUNTS.keys() if key[0] == here]

    _calculator._EDGE_COUNTS.clear()
    first = drift.drift_summary(db, MODEL, window=Window(start=a, end=b))
    _same_as_the_log(db, first, a, b)
    assert len(kept()) == 1
    again = drift.drift_summary(db, MODEL, window=Window(start=a, end=b))
    assert len(kept()) == 1  # from memory
    pd.testing.assert_frame_equal(again.table, first.table)
    # new traffic in the first edge day's hours inside the window: its v1 rows sent again, 20 years older
    store.release(db)  # a read-only connection cannot share this process's lingering instance
    con = duckdb.connect(str(db), read_only=True)
    store.bind_store_folder(con)
    try:
        rows = con.execute("SELECT * FROM predictions_credit_default WHERE predicted_at >= ? AND predicted_at < ? "
                           "AND model_version = 'v1'", [a, ceil_hour(a, "day")]).df()
    finally:
        con.close()
    rows["prediction_id"] = "edge-" + rows["prediction_id"]
    rows["AGE"] = rows["AGE"] + 20
    assert len(rows) and ingest(MODEL, rows, actor=ADMIN, db=db).ok
    drift.refresh_rollups(db, MODEL)
    changed = drift.drift_summary(db, MODEL, window=Window(start=a, end=b))
    _same_as_the_log(db, changed, a, b)
    assert changed.n_current_rows == first.n_current_rows + len(rows) and len(kept()) == 2
    assert (changed.table.set_index("column").loc["AGE", "statistic"]
            != first.table.set_index("column").loc["AGE", "statistic"])
