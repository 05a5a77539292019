"""The drift rollups computed by Spark (``vigil summarise --engine spark``) equal the DuckDB engine's, and so
do the drift figures every page reads from them.

One local Spark session (``local[2]``) for the module and one Spark summarise (the costly part: a few
seconds on an idle machine, tens under load), on copies of the demo store built once per run. Spark
reads the log as a user's own partitioned dataset; the same Ibis queries run by DuckDB over the store's
segments (the CLI's default engine) are checked against the same reference. Skips, saying why, where
Java or pyspark is missing.
"""

from __future__ import annotations

import importlib.util
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from analytics import drift, store
from analytics.cli import main
from analytics.errors import InvalidInputError
from analytics.registry import get_model
from analytics.scaleout import EngineUnavailableError, java_missing, open_engine, summarise
from analytics.store import predictions_view
from analytics.window import Window

MODEL = "credit-default"
_WHY_NOT = java_missing() or (None if importlib.util.find_spec("pyspark") else
                              "pyspark is not installed (pip install 'vigil[spark]')")
pytestmark = [pytest.mark.xdist_group("spark"),
              pytest.mark.skipif(_WHY_NOT is not None, reason=f"Spark cannot run here: {_WHY_NOT}")]

_KEY = ["day", "column_name", "bin", "category"]


@pytest.fixture(scope="module")
def spark():
    """The module's one Spark session (local[2], no UI)."""
    engine = open_engine("spark")
    yield engine
    engine.close()


def _copy_without_rollups(demo_store, tmp_path_factory, name: str):
    db = store.copy_store(demo_store.db, tmp_path_factory.mktemp(name) / "store")
    store.write(lambda con: con.execute("DELETE FROM drift_rollup; DELETE FROM summary_ledger WHERE summary = 'drift'"), db)
    return db


@pytest.fixture(scope="module")
def stores(demo_store, tmp_path_factory, spark):
    """Two copies of the demo store: rollups by DuckDB (what an ingest writes), and by Spark reading the log
    as a user's own partitioned Parquet dataset (``--logs``; one partition per UTC day)."""
    duck = _copy_without_rollups(demo_store, tmp_path_factory, "duck")
    by_spark = _copy_without_rollups(demo_store, tmp_path_factory, "spark")
    rolled = drift.refresh_rollups(duck, MODEL)
    dataset = tmp_path_factory.mktemp("dataset") / "logs"
    store.read(lambda con: con.execute(
        f"COPY (SELECT *, CAST(predicted_at AS DATE) AS log_day FROM {predictions_view(get_model(con, MODEL).stem)}) "
        f"TO '{dataset}' (FORMAT parquet, PARTITION_BY (log_day))"), duck)
    report = summarise(by_spark, MODEL, engine=spark, logs=str(dataset))
    return duck, by_spark, rolled, report, dataset


def _rollups(db) -> pd.DataFrame:
    frame = store.read(lambda con: con.execute("SELECT * FROM drift_rollup").df(), db)
    return frame.sort_values(_KEY, na_position="first").reset_index(drop=True)


def _ledger(db) -> pd.DataFrame:
    return store.read(lambda con: con.execute("SELECT summary, model_name, scope, day, segments, key FROM summary_ledger "
                                              "WHERE summary = 'drift' ORDER BY ALL").df(), db)


def _same_rollups(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Identical keys, counts, minima and maxima; sums within 1e-9 relative."""
    exact = ["model_name", "model_version", *_KEY, "n", "vmin", "vmax"]
    pd.testing.assert_frame_equal(a[exact], b[exact], check_dtype=False)
    np.testing.assert_allclose(a["total"].to_numpy(float), b["total"].to_numpy(float), rtol=1e-9, atol=0)


def test_spark_writes_the_duckdb_engines_rollup_rows_and_ledger(stores):
    duck, by_spark, rolled, report, _ = stores
    assert rolled > 0 and report.days == rolled and report.engine == "spark"
    a, b = _rollups(duck), _rollups(by_spark)
    assert len(a) == report.summary_rows > 1000
    assert set(a["column_name"]) > {"*"}  # binned and counted columns, not only the rows
    assert a["bin"].notna().any() and a["category"].notna().any()
    _same_rollups(a, b)
    pd.testing.assert_frame_equal(_ledger(duck), _ledger(by_spark))
    # A second run finds nothing left to summarise.
    assert summarise(by_spark, MODEL, engine="duckdb").days == 0


def test_drift_figures_read_from_sparks_rollups_are_the_duckdb_ones(stores, demo_store):
    duck, by_spark, *_ = stores
    start = demo_store.end - timedelta(days=30)
    window = Window(start=start, end=demo_store.end)
    a = drift.drift_summary(duck, MODEL, window=window)
    b = drift.drift_summary(by_spark, MODEL, window=window)
    assert (a.n_reference_rows, a.n_current_rows) == (b.n_reference_rows, b.n_current_rows)
    assert a.n_current_rows > 0
    exact = ["column", "kind", "method", "n_reference", "n_current", "missing_current", "drifted"]
    pd.testing.assert_frame_equal(a.table[exact], b.table[exact])
    np.testing.assert_allclose(a.table["statistic"].to_numpy(float), b.table["statistic"].to_numpy(float),
                               rtol=1e-9, atol=1e-12)
    daily_a = drift.drift_over_time(duck, MODEL, window=window, freq="day")
    daily_b = drift.drift_over_time(by_spark, MODEL, window=window, freq="day")
    pd.testing.assert_frame_equal(daily_a.table, daily_b.table, rtol=1e-9)


def test_a_dataset_that_is_not_the_stores_log_is_refused(stores, spark):
    _, by_spark, _, _, dataset = stores
    one_day = next(dataset.iterdir())
    with pytest.raises(InvalidInputError, match="holds .* rows but the store's log"):
        summarise(by_spark, MODEL, engine=spark, logs=str(one_day))


def test_the_cli_runs_the_same_queries_on_duckdb_over_the_stores_segments(demo_store, tmp_path_factory, stores,
                                                                         capsys):
    duck, *_ = stores
    db = _copy_without_rollups(demo_store, tmp_path_factory, "cli")
    assert main(["--db", str(db), "summarise", MODEL, "--engine", "duckdb"]) == 0
    assert "days summarised by duckdb" in capsys.readouterr().out
    _same_rollups(_rollups(duck), _rollups(db))
    assert main(["--db", str(db), "summarise", MODEL, "--master", "local[2]"]) != 0
    assert "--master is Spark's" in capsys.readouterr().err


def test_without_java_spark_says_what_to_install(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EngineUnavailableError, match="needs a Java runtime"):
        open_engine("spark")
