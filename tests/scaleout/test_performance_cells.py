"""The performance cells computed by the summaries' Ibis query (``vigil summarise``) are the rows the store's own
build writes (``analytics.performance._cells._build``), on the DuckDB engine: on the law-school model declared
from its spec and onboarded with the command line, and on the toy model with scores on the bins' edges, a
segment with missing values and predictions without outcomes. Spark's are checked against DuckDB's in
tests/scaleout/test_spark_parity.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from cells_support import GRIDS, edge_scores, engine_bins, sql_bins
from shared_build import law_support

from analytics import performance, registry, store, summaries
from analytics.ingest import ingest
from analytics.roles import Actor
from analytics.scaleout import differences, open_engine, summarise, summary_rows

ADMIN = Actor("cli:tests", "system")
_law = law_support("law_support_scaleout")
law_files = _law.law_files  # the fixture: the example's files, written once per test run


def _cells(db, model: str) -> dict[str, pd.DataFrame]:
    """The performance cells of ``model`` and their ledger rows, as :func:`analytics.scaleout.differences` compares them."""
    rows = summary_rows(db, model)
    ledger = rows["summary_ledger"]
    return {"performance_cells": rows["performance_cells"],
            "summary_ledger": ledger[ledger["summary"] == performance.PERFORMANCE_CELLS.name]}


def _rebuilt_by_the_engine(db, model: str, version: str | None = None):
    """The cells the store's build wrote, then the same after the performance summary is forgotten and computed
    again by ``vigil summarise``'s queries on DuckDB; and that run's report."""
    built = _cells(db, model)
    store.write(lambda con: summaries.forget(con, performance.PERFORMANCE_CELLS.name, model), db)
    report = summarise(db, model, engine="duckdb", version=version)
    return built, _cells(db, model), report


def test_score_bins_on_every_edge_are_the_stores():
    """An edge is the double nearest to ``j / bins``; a score on it falls in the bin below (scikit-learn's rule)."""
    scores = edge_scores()
    by_engine, by_sql = engine_bins(open_engine("duckdb"), scores), sql_bins(scores)
    for bins in GRIDS:
        expected = np.clip(np.searchsorted(np.arange(bins + 1) / bins, scores, side="left") - 1, 0, bins - 1)
        np.testing.assert_array_equal(by_sql[bins], expected)
        np.testing.assert_array_equal(by_engine[bins], expected)


def test_the_law_school_models_cells_are_the_builds(law_files, tmp_path_factory):
    db, _ = _law.law_store_copy(tmp_path_factory, law_files)
    built, rebuilt, report = _rebuilt_by_the_engine(db, _law.MODEL)
    cells = built["performance_cells"]
    assert cells["label"].notna().any() and cells["label"].isna().any()  # outcomes for the older days only
    assert set(cells["segment"]) == {""}  # the spec declares no segment column
    assert report.days[performance.PERFORMANCE_CELLS.name] > 0
    assert not any(days for name, days in report.days.items() if name != performance.PERFORMANCE_CELLS.name)
    assert report.rows == {"performance_cells": len(cells)}
    assert differences(built, rebuilt) == {table: "identical" for table in built}


def test_cells_on_the_edges_with_segments_and_missing_values_are_the_builds(toy):
    reference = toy.predictions(200)[["AGE", "income", "region", "is_member", "gender", "score", "decision"]]
    reference["label"] = np.arange(200) % 2  # vigil summarise also computes v1's drift rollups, which need it
    store.write(lambda con: registry.load_reference(con, ADMIN, toy.name, "v1", reference), toy.db)
    rows = toy.predictions(3000)  # 50 hours, versions v1 (threshold 0.5) and v2 (0.4)
    scores = edge_scores()
    rows["score"] = scores[np.random.default_rng(5).permutation(len(scores))[:len(rows)]]
    rows.loc[rows.index % 7 == 0, "region"] = None
    assert ingest(toy.name, rows, db=toy.db, actor=ADMIN).status == "committed"
    labelled = rows[rows.index % 3 != 0]
    assert ingest(toy.name, toy.outcomes(labelled), kind="outcomes", db=toy.db, actor=ADMIN).status == "committed"
    summaries.refresh_store(toy.db, toy.name, names=(performance.PERFORMANCE_CELLS.name,))  # what an ingest's refresh builds
    built, rebuilt, report = _rebuilt_by_the_engine(toy.db, toy.name, "v1")  # the toy has no champion
    cells = built["performance_cells"]
    assert set(cells["segment"]) == {"", "region"} and cells["segment_value"].isna().any()
    assert cells["label"].isna().any() and set(cells["decision"]) == {0, 1}
    assert report.rows["performance_cells"] == len(cells) > 1000
    assert differences(built, rebuilt) == {table: "identical" for table in built}
