"""Scores on and beside every edge of the performance cells' score bins, binned by an engine and by the store's SQL.

Shared by tests/scaleout/test_performance_cells.py (DuckDB) and tests/scaleout/test_spark_parity.py (Spark, in
its one session): an edge is ``j / bins`` rounded to the nearest double, a score equal to it falls in the bin
below, the next double above it in the bin above.
"""

from __future__ import annotations

import duckdb
import ibis
import numpy as np
import pandas as pd

from analytics.performance import BINS, SEGMENT_BINS
from analytics.performance._cells import bin_sql
from analytics.scaleout import Engine
from analytics.scaleout._performance_queries import score_bin

#: The bin counts the kept cells use.
GRIDS = (BINS, SEGMENT_BINS)


def edge_scores() -> np.ndarray:
    """Every edge of the finest grid (the coarser grid's are among them), the doubles either side of it within
    [0, 1], and a few random scores."""
    edges = np.arange(BINS + 1) / BINS
    near = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf),
                           np.random.default_rng(3).uniform(0, 1, 2_000)])
    return near[(near >= 0) & (near <= 1)]


def engine_bins(engine: Engine, scores: np.ndarray) -> dict[int, np.ndarray]:
    """Each grid's bins of ``scores`` by :func:`analytics.scaleout._performance_queries.score_bin` on ``engine``."""
    table = ibis.memtable(pd.DataFrame({"i": np.arange(len(scores)), "score": scores}))
    frame = engine.frame(table.select("i", **{f"b{b}": score_bin(table.score, b) for b in GRIDS}).order_by("i"))
    return {b: frame[f"b{b}"].to_numpy(np.int64) for b in GRIDS}


def sql_bins(scores: np.ndarray) -> dict[int, np.ndarray]:
    """Each grid's bins of ``scores`` by the store's SQL (:func:`analytics.performance._cells.bin_sql`)."""
    con = duckdb.connect()
    con.register("s", pd.DataFrame({"i": np.arange(len(scores)), "score": scores}))
    columns = ", ".join(f"{bin_sql('score', b)} AS b{b}" for b in GRIDS)
    frame = con.execute(f"SELECT {columns} FROM s ORDER BY i").df()
    return {b: frame[f"b{b}"].to_numpy(np.int64) for b in GRIDS}
