"""The summary queries, written once as Ibis expressions and run by DuckDB or by Spark.

Each function takes an Ibis table over a model's prediction log (whatever backend holds it) and
returns an expression whose rows are the rows the DuckDB engine writes
(:mod:`analytics.drift._rollup`'s ``drift_rollup``), so the same text computes them on one machine
or on a cluster, and the partial results of disjoint sets of segments add up:

- :func:`day_rows`: the rows of a version per UTC day (``column_name = '*'``);
- :func:`fine_histogram`: a numerical column's fine histogram per UTC day: count, sum, minimum and
  maximum per bin. The bin is settled by comparisons with the column's exact edges
  (:class:`analytics.drift.RollupColumn`), so it does not depend on how an engine rounds ``asinh``
  (Spark's differs from DuckDB's libm in the last bits);
- :func:`category_counts`: a categorical column's count per category and UTC day.

Like the DuckDB engine, the histogram first counts the rows of each distinct value (a hash
aggregate on the raw column), then bins the distinct values.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import ibis.expr.types as ir
from ibis import _

from analytics.drift import RollupColumn

#: The rows-per-day pseudo column of a rollup.
ROWS = "*"


def _version_rows(log: ir.Table, version: str) -> ir.Table:
    return log.filter(log.model_version == version)


def _day(log: ir.Table) -> ir.DateValue:
    """The UTC day of a prediction (the log's ``predicted_at`` is a UTC timestamp)."""
    return log.predicted_at.cast("date")


def day_rows(log: ir.Table, version: str) -> ir.Table:
    """Rows of ``version`` per UTC day: columns ``day, column_name, n``."""
    rows = _version_rows(log, version)
    return rows.group_by(day=_day(rows)).aggregate(n=_.count()).mutate(column_name=ibis.literal(ROWS))


#: The largest finite DOUBLE: a value is finite when it lies within plus or minus this (NaN compares above it
#: in both engines). Written in scientific notation, it is a DOUBLE literal in both SQL dialects.
_LARGEST = 1.7976931348623157e308


def _finite(value: ir.FloatingValue) -> ir.BooleanValue:
    return value.between(-_LARGEST, _LARGEST)


def _bin_edges(column: RollupColumn) -> ir.Table:
    """The column's bins as a small table (``k``, its ``lower`` and ``upper`` edges, and ``lo``, ``hi``).

    The edges travel as DOUBLE values, never as SQL text: a decimal literal is parsed to the nearest
    double by DuckDB, but Spark types an array of them as DECIMAL(23, 16) and rounds their digits.
    """
    edges = column.edges
    bins = len(edges) - 1
    return ibis.memtable(pd.DataFrame({
        "k": np.arange(bins, dtype=np.int32), "lower": np.asarray(edges[:-1], dtype=float),
        "upper": np.asarray(edges[1:], dtype=float), "lo": float(column.lo), "hi": float(column.hi)}))


def _estimated_bin(value: ir.FloatingValue, column: RollupColumn) -> ir.IntegerValue:
    """The fine bin on the asinh axis, right to within one bin in any engine (clipped to the inner bins)."""
    bins = len(column.edges) - 1
    x = value / column.scale
    asinh = x.sign() * (x.abs() + (x * x + 1).sqrt()).ln()  # symmetric: no cancellation below zero
    return ((asinh - column.origin) * column.per_unit).clip(lower=0.0, upper=float(bins - 1)).floor().cast("int32")


def fine_histogram(log: ir.Table, version: str, column: RollupColumn) -> ir.Table:
    """A numerical column's fine histogram per UTC day: columns ``day, column_name, bin, n, total, vmin, vmax``.

    Each distinct value's bin is estimated on the asinh axis, then settled by comparing the value with
    the literal edges of the estimated bin (joined from :func:`_bin_edges`): -1 below ``lo``, the
    number of inner bins above ``hi``.
    """
    rows = _version_rows(log, version)
    counted = rows.group_by(day=_day(rows), v=rows[column.name].cast("float64")).aggregate(n=_.count())
    counted = counted.filter(_finite(counted.v))
    counted = counted.mutate(k=_estimated_bin(counted.v, column))
    edges = _bin_edges(column)
    joined = counted.join(edges, counted.k == edges.k).select(
        counted.day, counted.v, counted.n, counted.k, edges.lower, edges.upper, edges.lo, edges.hi)
    v = joined.v
    settled = joined.k - (v < joined.lower).cast("int32") + (v >= joined.upper).cast("int32")
    binned = joined.mutate(bin=ibis.cases((v < joined.lo, -1), (v > joined.hi, len(column.edges) - 1),
                                          else_=settled).cast("int32"))
    return (binned.group_by("day", "bin")
            .aggregate(n=_.n.sum(), total=(_.v * _.n).sum(), vmin=_.v.min(), vmax=_.v.max())
            .mutate(column_name=ibis.literal(column.name)))


def category_counts(log: ir.Table, version: str, column: RollupColumn) -> ir.Table:
    """A categorical column's rows per category and UTC day: columns ``day, column_name, category, n``
    (missing values excluded: NULL, and NaN or infinities of a numeric column)."""
    rows = _version_rows(log, version)
    counted = rows.group_by(day=_day(rows), v=rows[column.name]).aggregate(n=_.count())
    present = _finite(counted.v.cast("float64")) if column.numeric else counted.v.notnull()
    counted = counted.filter(present)
    return (counted.group_by("day", category=counted.v.cast("string")).aggregate(n=_.n.sum())
            .mutate(column_name=ibis.literal(column.name)))


def rollup_query(log: ir.Table, version: str, columns: tuple[RollupColumn, ...]) -> ir.Table:
    """Every row of one version's rollup in one query (one job on Spark): the rows per day, then every column,
    on the columns ``day, column_name, bin, category, n, total, vmin, vmax``."""
    parts = [day_rows(log, version), *(category_counts(log, version, c) if c.categorical
                                       else fine_histogram(log, version, c) for c in columns)]
    return ibis.union(*(_as_rollup_rows(part) for part in parts))


def _as_rollup_rows(part: ir.Table) -> ir.Table:
    """A part of the rollup on the rollup's columns (the ones it lacks NULL)."""
    types = {"day": "date", "column_name": "string", "bin": "int32", "category": "string", "n": "int64",
             "total": "float64", "vmin": "float64", "vmax": "float64"}
    return part.select(**{name: part[name].cast(kind) if name in part.columns else ibis.null(kind)
                          for name, kind in types.items()})
