"""The stored summaries computed by another engine: DuckDB here, or Apache Spark when a log outgrows one machine.

The summary queries are written once, as Ibis expressions (drift rollups in
:mod:`analytics.scaleout._queries`, serving and KPI rows in :mod:`~analytics.scaleout._business_queries`,
fairness cells in :mod:`~analytics.scaleout._fairness_queries`, performance cells in
:mod:`~analytics.scaleout._performance_queries`), and run by DuckDB or by PySpark over the
model's Parquet log and outcomes, all in one query (:mod:`~analytics.scaleout._packing`); the partial
summaries are additive, so this process merges them into the store (with the ledger of the segments
they cover, :mod:`~analytics.scaleout._plans`) and every page reads them as it reads the summaries an
ingest writes. See docs/scale-out.md.

Public API
----------
:func:`summarise`, :class:`SummariseReport`
    Compute a model's stored summaries (drift, serving, KPI, fairness, performance) with an engine and merge them
    into the store.
:func:`open_engine`, :class:`Engine`, :class:`SparkOptions`, :data:`ENGINES`, :func:`java_missing`,
:class:`EngineUnavailableError`
    The engines (DuckDB, Spark), how Spark starts, and why Spark cannot start on a machine.
:func:`summary_rows`, :func:`differences`, :data:`SUMS`
    Two stores' summary rows, and whether they are the same (what the parity test and the benchmark compare).
"""

from analytics.scaleout._engines import (ENGINES, LOCAL_MASTER, Engine, EngineUnavailableError, SparkOptions,
                                         java_missing, open_engine)
from analytics.scaleout._parity import SUMS, differences, summary_rows
from analytics.scaleout._summarise import SummariseReport, summarise

__all__ = ["ENGINES", "LOCAL_MASTER", "Engine", "EngineUnavailableError", "SparkOptions", "SummariseReport",
           "java_missing",
           "SUMS", "differences", "open_engine", "summarise", "summary_rows"]
