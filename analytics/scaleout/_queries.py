"""The summary queries, written once as Ibis expressions and run by DuckDB or by Spark.

Each function takes an Ibis table over a model's prediction log (whatever backend holds it) and
returns an expression whose rows are the rows the DuckDB engine writes
(:mod:`analytics.drift._rollup`'s ``drift_rollup``), so the same text computes them on one machine
or on a cluster, and the partial results of disjoint sets of segments add up:

- :func:`day_rows`: the rows of a version per UTC day (``column_name = '*'``);
- :func:`fine_histograms`: every numerical column's fine histogram per UTC day: count, sum, minimum
  and maximum per bin. The bin is settled by comparisons with the column's exact edges
  (:class:`analytics.drift.RollupColumn`), so it does not depend on how an engine rounds ``asinh``
  (Spark's differs from DuckDB's libm in the last bits);
- :func:`category_counts`: every categorical column's count per category and UTC day.

Each of the two reads the log once for all its columns: the columns are unpivoted into
``(day, slot, value)`` rows, joined with small tables of each column's bins (values travel as
DOUBLEs, never as SQL text), and aggregated once. :func:`rollup_query` unions the three, so Spark
runs one job whatever the number of columns (its fixed cost per job, seconds on a busy machine,
dominated when each column was a job of its own).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import ibis.expr.types as ir
from ibis import _

from analytics.drift import RollupColumn

#: The rows-per-day pseudo column of a rollup.
ROWS = "*"
#: The largest finite DOUBLE: a value is finite when it lies within plus or minus this (NaN compares above it
#: in both engines). Written in scientific notation, it is a DOUBLE literal in both SQL dialects.
_LARGEST = 1.7976931348623157e308
#: The rollup's columns and types (what every part of :func:`rollup_query` is cast to).
_ROLLUP_TYPES = {"day": "date", "column_name": "string", "bin": "int32", "category": "string", "n": "int64",
                 "total": "float64", "vmin": "float64", "vmax": "float64"}


def rows_of_days(log: ir.Table, days: list[date]) -> ir.Table:
    """The log's rows of ``days`` (UTC dates): time bounds first (row-group pruning), then the exact days
    when they are not one unbroken run (as :func:`analytics.summaries.days_filter`)."""
    low = datetime.combine(min(days), datetime.min.time())
    high = datetime.combine(max(days), datetime.min.time()) + timedelta(days=1)
    rows = log.filter(log.predicted_at >= low, log.predicted_at < high)
    if len(set(days)) != (high - low).days:
        rows = rows.filter(day_of(rows).isin(sorted(set(days))))
    return rows


def _version_rows(log: ir.Table, version: str, days: list[date]) -> ir.Table:
    """The version's rows of ``days`` (UTC dates)."""
    rows = rows_of_days(log, days)
    return rows.filter(rows.model_version == version)


def day_of(log: ir.Table) -> ir.DateValue:
    """The UTC day of a prediction (the log's ``predicted_at`` is a UTC timestamp)."""
    return log.predicted_at.cast("date")


def _finite(value: ir.FloatingValue) -> ir.BooleanValue:
    return value.between(-_LARGEST, _LARGEST)


def _slot(i: int) -> str:
    """The unpivoted name of the ``i``-th column (the log's own names may clash with ``day``)."""
    return f"c{i}"


def day_rows(log: ir.Table, version: str, days: list[date]) -> ir.Table:
    """Rows of ``version`` per UTC day of ``days``: columns ``day, column_name, n``."""
    rows = _version_rows(log, version, days)
    return rows.group_by(day=day_of(rows)).aggregate(n=_.count()).mutate(column_name=ibis.literal(ROWS))


def strings(values) -> pd.Series:
    """``values`` as Python strings (object dtype), for a small table an engine joins (:func:`ibis.memtable`).

    Parameters
    ----------
    values : iterable of str
        The strings.

    Returns
    -------
    pandas.Series
        Of object dtype: pyspark's Arrow transfer of a small table refuses pandas' Arrow strings.
    """
    return pd.Series(list(values), dtype=object)


def _bin_tables(columns: tuple[RollupColumn, ...]) -> tuple[ir.Table, ir.Table]:
    """Two small tables: each column's axis and range (``slot, column_name, scale, origin, per_unit, lo, hi``)
    and its bins' edges (``slot, k, lower, upper``).

    They travel as DOUBLE values, never as SQL text: a decimal literal is parsed to the nearest double
    by DuckDB, but Spark types a list of them as DECIMAL(23, 16) and rounds their digits.
    """
    axes = pd.DataFrame({"slot": strings(_slot(i) for i in range(len(columns))),
                         "column_name": strings(c.name for c in columns),
                         **{f: [float(getattr(c, f)) for c in columns] for f in ("scale", "origin", "per_unit", "lo", "hi")}})
    edges = pd.concat([pd.DataFrame({"slot": strings([_slot(i)] * (len(c.edges) - 1)), "k": np.arange(len(c.edges) - 1, dtype=np.int32),
                                     "lower": np.asarray(c.edges[:-1], dtype=float),
                                     "upper": np.asarray(c.edges[1:], dtype=float)})
                       for i, c in enumerate(columns)], ignore_index=True)
    return ibis.memtable(axes), ibis.memtable(edges)


def _unpivoted(log: ir.Table, version: str, days: list[date], values: dict[str, ir.Value],
               value_name: str) -> ir.Table:
    """``(day, slot, <value_name>)``: one row per log row of ``days`` and column (``values``: slot -> expression)."""
    rows = _version_rows(log, version, days)
    wide = rows.select(day=day_of(rows), **{slot: expr(rows) for slot, expr in values.items()})
    return wide.pivot_longer(list(values), names_to="slot", values_to=value_name)


def fine_histograms(log: ir.Table, version: str, days: list[date], columns: tuple[RollupColumn, ...]) -> ir.Table:
    """The numerical columns' fine histograms per UTC day: columns ``day, column_name, bin, n, total, vmin, vmax``.

    Each finite value's bin is estimated on its column's asinh axis (right to within one bin in any
    engine), then settled by comparing the value with the exact edges of the estimated bin: -1 below
    ``lo``, the number of inner bins above ``hi``.
    """
    bins = len(columns[0].edges) - 1
    values = {_slot(i): (lambda rows, name=c.name: rows[name].cast("float64")) for i, c in enumerate(columns)}
    long = _unpivoted(log, version, days, values, "v")
    long = long.filter(_finite(long.v))
    axes, edges = _bin_tables(columns)
    placed = long.join(axes, "slot")
    x = placed.v / placed.scale
    asinh = x.sign() * (x.abs() + (x * x + 1).sqrt()).ln()  # symmetric: no cancellation below zero
    position = (asinh - placed.origin) * placed.per_unit
    placed = placed.mutate(k=ibis.greatest(0.0, ibis.least(float(bins - 1), position)).floor().cast("int32"))
    settled = placed.join(edges, ["slot", "k"])
    v = settled.v
    inner = settled.k - (v < settled.lower).cast("int32") + (v >= settled.upper).cast("int32")
    binned = settled.mutate(bin=ibis.cases((v < settled.lo, -1), (v > settled.hi, bins), else_=inner).cast("int32"))
    return (binned.group_by("day", "column_name", "bin")
            .aggregate(n=_.count(), total=_.v.sum(), vmin=_.v.min(), vmax=_.v.max()))


def category_counts(log: ir.Table, version: str, days: list[date], columns: tuple[RollupColumn, ...]) -> ir.Table:
    """The categorical columns' rows per category and UTC day: columns ``day, column_name, category, n``
    (missing values excluded: NULL, and NaN or infinities of a numeric column)."""
    def category(column: RollupColumn):
        def of(rows: ir.Table) -> ir.StringValue:
            raw = rows[column.name]
            if column.numeric:
                return ibis.ifelse(_finite(raw.cast("float64")), raw.cast("string"), ibis.null("string"))
            return raw.cast("string")
        return of

    long = _unpivoted(log, version, days, {_slot(i): category(c) for i, c in enumerate(columns)}, "category")
    long = long.filter(long.category.notnull())
    names = ibis.memtable(pd.DataFrame({"slot": strings(_slot(i) for i in range(len(columns))),
                                        "column_name": strings(c.name for c in columns)}))
    return long.join(names, "slot").group_by("day", "column_name", "category").aggregate(n=_.count())


def rollup_query(log: ir.Table, version: str, days: list[date], columns: tuple[RollupColumn, ...]) -> ir.Table:
    """Every row of one version's rollup of ``days`` in one query (one job on Spark), on the columns
    ``day, column_name, bin, category, n, total, vmin, vmax``: the rows per day, the numerical columns'
    histograms and the categorical columns' counts."""
    numerical = tuple(c for c in columns if not c.categorical)
    categorical = tuple(c for c in columns if c.categorical)
    parts = [day_rows(log, version, days)]
    if numerical:
        parts.append(fine_histograms(log, version, days, numerical))
    if categorical:
        parts.append(category_counts(log, version, days, categorical))
    return ibis.union(*(_as_rollup_rows(part) for part in parts))


def _as_rollup_rows(part: ir.Table) -> ir.Table:
    """A part of the rollup on the rollup's columns (the ones it lacks NULL)."""
    return part.select(**{name: part[name].cast(kind) if name in part.columns else ibis.null(kind)
                          for name, kind in _ROLLUP_TYPES.items()})
