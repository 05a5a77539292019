"""The summaries computed by Spark (``vigil summarise --engine spark``: drift rollups, serving, KPI, fairness and
performance rows) equal the DuckDB engine's, and so do the drift, KPI, serving, fairness and performance figures
every page reads from them.

One local Spark session (``local[2]``) for the module and one Spark summarise of every summary (the
costly part: seconds on an idle machine, tens under load), on copies of the demo store built once per
run. Spark reads the log and the outcomes as a user's own Parquet datasets; the same Ibis queries run by
DuckDB over the store's segments and its exported outcomes (the CLI's default engine) are checked
against the same reference. Skips, saying why, where Java or pyspark is missing.
"""

from __future__ import annotations

import importlib.util
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from cells_support import edge_scores, engine_bins, sql_bins

from analytics import business, drift, fairness, performance, store, summaries
from analytics.cli import main
from analytics.errors import InvalidInputError
from analytics.registry import get_model
from analytics.scaleout import EngineUnavailableError, java_missing, open_engine, summarise
from analytics.scaleout import differences, summary_rows
from analytics.store import outcomes_view, predictions_view
from analytics.window import Window

MODEL = "credit-default"
_WHY_NOT = java_missing() or (None if importlib.util.find_spec("pyspark") else
                              "pyspark is not installed (pip install 'vigil[spark]')")
pytestmark = [pytest.mark.xdist_group("spark"),
              pytest.mark.skipif(_WHY_NOT is not None, reason=f"Spark cannot run here: {_WHY_NOT}")]
#: The summaries both engines build (the demo store also keeps DuckDB-only ones: the kept samples of
#: explanations and multivariate drift).
SUMMARIES = ("drift", "serving", "kpi", "fairness", "performance")


@pytest.fixture(scope="module")
def spark():
    """The module's one Spark session (local[2], no UI).

    Its JVM compiles with the client compiler only and collects with one thread: a few seconds of Spark
    work do not repay the server compiler's warm-up, which cost the parity tests 85 instead of 48 CPU-s of
    the JVM (measured on 2 cores; ``vigil summarise`` itself keeps Java's defaults for long runs)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JDK_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        engine = open_engine("spark")
    yield engine
    engine.close()


def _copy_without_summaries(demo_store, tmp_path_factory, name: str):
    db = store.copy_store(demo_store.db, tmp_path_factory.mktemp(name) / "store")

    def forget(con):
        for summary in SUMMARIES:
            summaries.forget(con, summary, MODEL)
    store.write(forget, db)
    return db


@pytest.fixture(scope="module")
def stores(demo_store, tmp_path_factory, spark):
    """Two copies of the demo store: summaries by DuckDB (what an ingest writes), and by Spark reading the log
    and the outcomes as a user's own Parquet datasets (``--logs``, one partition per UTC day; ``--outcomes``)."""
    duck = _copy_without_summaries(demo_store, tmp_path_factory, "duck")
    by_spark = _copy_without_summaries(demo_store, tmp_path_factory, "spark")
    built = summaries.refresh_store(duck, MODEL, names=SUMMARIES).of(MODEL)
    folder = tmp_path_factory.mktemp("dataset")
    dataset, outcomes = folder / "logs", folder / "outcomes.parquet"

    def export(con):
        stem = get_model(con, MODEL).stem
        con.execute(f"COPY (SELECT *, CAST(predicted_at AS DATE) AS log_day FROM {predictions_view(stem)}) "
                    f"TO '{dataset}' (FORMAT parquet, PARTITION_BY (log_day))")
        con.execute(f"COPY (SELECT * FROM {outcomes_view(stem)}) TO '{outcomes}' (FORMAT parquet)")
    store.read(export, duck)
    report = summarise(by_spark, MODEL, engine=spark, logs=str(dataset), outcomes=str(outcomes))
    return duck, by_spark, built, report, dataset


def test_spark_writes_the_duckdb_engines_summary_rows_and_ledger(stores):
    duck, by_spark, built, report, _ = stores
    assert set(built) == set(SUMMARIES) and all(days > 0 for days in built.values())
    assert report.days == built and report.engine == "spark"
    a, b = summary_rows(duck, MODEL), summary_rows(by_spark, MODEL)
    assert {table: len(rows) for table, rows in a.items() if table in report.rows} == report.rows
    assert all(len(rows) > 100 for rows in a.values())  # every table has rows to compare
    assert a["drift_rollup"]["bin"].notna().any() and a["drift_rollup"]["category"].notna().any()
    assert differences(a, b) == {table: "identical" for table in a}  # sums within 1e-9 relative, the rest exactly
    # A second run finds nothing left to summarise.
    assert not any(summarise(by_spark, MODEL, engine="duckdb").days.values())


def test_drift_figures_read_from_sparks_rollups_are_the_duckdb_ones(stores, demo_store):
    duck, by_spark, *_ = stores
    start = demo_store.end - timedelta(days=30)
    window = Window(start=start, end=demo_store.end)
    a = drift.drift_summary(duck, MODEL, window=window)
    b = drift.drift_summary(by_spark, MODEL, window=window)
    assert (a.n_reference_rows, a.n_current_rows) == (b.n_reference_rows, b.n_current_rows)
    assert a.n_current_rows > 0 and not b.unsummarised_days
    exact = ["column", "kind", "method", "n_reference", "n_current", "missing_current", "drifted"]
    pd.testing.assert_frame_equal(a.table[exact], b.table[exact])
    np.testing.assert_allclose(a.table["statistic"].to_numpy(float), b.table["statistic"].to_numpy(float),
                               rtol=1e-9, atol=1e-12)
    daily_a = drift.drift_over_time(duck, MODEL, window=window, freq="day")
    daily_b = drift.drift_over_time(by_spark, MODEL, window=window, freq="day")
    pd.testing.assert_frame_equal(daily_a.table, daily_b.table, rtol=1e-9)


def test_kpi_serving_and_fairness_figures_read_from_sparks_rows_are_the_duckdb_ones(stores, demo_store):
    duck, by_spark, *_ = stores
    for db in (duck, by_spark):  # the readers answer from the summaries, not from the log
        cover = store.read(lambda con: [summaries.coverage(con, s, MODEL).complete for s in SUMMARIES[1:]], db)
        assert cover == [True] * len(SUMMARIES[1:])
    end = demo_store.end
    window = Window(start=end - timedelta(days=30), end=end)
    kpis = [business.kpis(db, MODEL, now=end, window=window) for db in (duck, by_spark)]
    assert kpis[0].rows > 0 and (kpis[0].rows, kpis[0].labelled) == (kpis[1].rows, kpis[1].labelled)
    pd.testing.assert_frame_equal(kpis[0].table, kpis[1].table, rtol=1e-9)
    latency = [business.latency(db, MODEL, window=window) for db in (duck, by_spark)]
    pd.testing.assert_frame_equal(latency[0].by_version, latency[1].by_version, check_exact=True)
    pd.testing.assert_frame_equal(latency[0].daily, latency[1].daily, check_exact=True)
    cost = [business.cost(db, MODEL, now=end, window=window) for db in (duck, by_spark)]
    assert cost[0].summary["predictions"] == cost[1].summary["predictions"] > 0
    assert cost[0].summary == pytest.approx(cost[1].summary, rel=1e-9, nan_ok=True)
    pd.testing.assert_frame_equal(cost[0].daily, cost[1].daily, rtol=1e-9)
    fair = [fairness.assess(db, MODEL, window=window, n_boot=50) for db in (duck, by_spark)]
    assert fair[0].rows == fair[1].rows > 0 and fair[0].labelled == fair[1].labelled
    pd.testing.assert_frame_equal(fair[0].verdicts(), fair[1].verdicts(), rtol=1e-9)
    for x, y in zip(fair[0].results, fair[1].results, strict=True):
        pd.testing.assert_frame_equal(x.groups, y.groups, rtol=1e-9)


def test_performance_figures_read_from_sparks_cells_are_the_duckdb_ones(stores, demo_store):
    """What the Performance page reads: the realised metrics of the window, per week and per segment value, the
    calibration curve and CBPE, all from the kept cells (no day read from the log)."""
    duck, by_spark, *_ = stores
    window = Window(start=demo_store.end - timedelta(days=90), end=demo_store.end)
    for freq, by in ((None, None), ("week", None), (None, "region")):
        a, b = (performance.realised_metrics(db, MODEL, window=window, freq=freq, by=by) for db in (duck, by_spark))
        assert a["labelled"].sum() > 0 and not a.attrs[performance.UNSUMMARISED] and not b.attrs[performance.UNSUMMARISED]
        pd.testing.assert_frame_equal(a, b, rtol=1e-9)
    curves = [performance.calibration_curve(db, MODEL, window=window) for db in (duck, by_spark)]
    pd.testing.assert_frame_equal(curves[0], curves[1], rtol=1e-9)
    estimated = [performance.cbpe(db, MODEL, window=window, freq="week") for db in (duck, by_spark)]
    assert not estimated[0].unsummarised_days and not estimated[1].unsummarised_days
    pd.testing.assert_frame_equal(estimated[0].table, estimated[1].table, rtol=1e-9)


def test_sparks_score_bins_on_every_edge_are_the_stores(spark):
    """The performance cells' bins use only IEEE-rounded arithmetic: Spark puts a score on an edge, and the doubles
    beside it, in the bins DuckDB's SQL does."""
    scores = edge_scores()
    expected, binned = sql_bins(scores), engine_bins(spark, scores)
    for bins, values in expected.items():
        np.testing.assert_array_equal(binned[bins], values)


def test_a_dataset_that_is_not_the_stores_log_is_refused(stores, spark):
    _, by_spark, _, _, dataset = stores
    one_day = next(dataset.iterdir())
    with pytest.raises(InvalidInputError, match="holds .* rows but the store's log"):
        summarise(by_spark, MODEL, engine=spark, logs=str(one_day))


def test_the_cli_runs_the_same_queries_on_duckdb_over_the_stores_segments(demo_store, tmp_path_factory, stores,
                                                                         capsys):
    duck, _, _, _, dataset = stores
    db = _copy_without_summaries(demo_store, tmp_path_factory, "cli")
    assert main(["--db", str(db), "summarise", MODEL, "--engine", "duckdb"]) == 0
    assert "computed by duckdb" in capsys.readouterr().out
    a = summary_rows(duck, MODEL)
    assert differences(a, summary_rows(db, MODEL)) == {table: "identical" for table in a}
    assert not list(db.parent.glob(".*summarise*"))  # the outcomes' scratch export is gone
    assert main(["--db", str(db), "summarise", MODEL, "--master", "local[2]"]) != 0
    assert "--master is Spark's" in capsys.readouterr().err
    with pytest.raises(InvalidInputError, match="holds .* rows but the store's outcomes"):
        summarise(db, MODEL, logs=str(dataset), outcomes=str(next(dataset.iterdir())))


def test_without_java_spark_says_what_to_install(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EngineUnavailableError, match="needs a Java runtime"):
        open_engine("spark")
