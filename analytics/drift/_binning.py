"""What DuckDB computes for drift: reference profiles, fixed-edge histograms, category counts, exact ECDFs.

Two relations are compared: the reference (a temp table without periods) and the current rows (a
temp table whose ``_period`` column names the window each row belongs to: one constant for a drift
summary, a day or a week for drift over time). Every function returns summaries per period
(hundreds of numbers), never rows.

Binning (PSI, Jensen-Shannon and chi-square on a numerical column, and the histograms the page
draws): the reference's deciles (``quantile_cont``, numpy's "linear" method) with duplicates
removed, used as inner edges; bin ``i`` holds values ``v`` with ``edges[i-1] <= v < edges[i]``
(``numpy.searchsorted(edges, v, side="right")``), the outer bins are open. The edges are computed
once per reference and kept in :data:`_PROFILE_CACHE` (the reference of a version is written
once and never changes).

Exact ECDF distances (KS and Wasserstein W1): both samples are counted per distinct value, the
counts of the union are accumulated in value order with a window function, and
``D = max |F_ref - F_cur|`` and ``W1 = sum |F_ref - F_cur| * (next value - value)`` are read off,
which is what :func:`scipy.stats.ks_2samp` and :func:`scipy.stats.wasserstein_distance` compute.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import duckdb
import numpy as np

from analytics.drift._methods import AUTO_NUMERIC_UNIQUE, CATEGORICAL, NUMERICAL
from analytics.logschema import quote

REF, CUR = "_vigil_drift_ref", "_vigil_drift_cur"
QUANTILES = tuple(round(0.1 * i, 1) for i in range(1, 10))
#: Categories kept per column (the most frequent in the reference, then unseen ones by count);
#: the rest are pooled as "(other)" so that a free-text column cannot blow up a table.
MAX_CATEGORIES = 50
OTHER = "(other)"


@dataclass(frozen=True)
class Profile:
    """The reference side of one column: kind, size, spread, bin edges or categories and their counts."""

    column: str
    kind: str
    numeric: bool
    n: int
    missing: int
    std: float
    n_unique: int
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()

    def bin_labels(self) -> tuple[str, ...]:
        """Readable labels of the bins (``'< 1.5'``, ``'[1.5, 3)'``, ``'>= 3'``) or the categories."""
        if self.kind == CATEGORICAL:
            return self.categories
        if not self.edges:
            return ("all values",)
        e = [f"{x:,.6g}" for x in self.edges]
        return (f"< {e[0]}", *(f"[{a}, {b})" for a, b in zip(e, e[1:])), f">= {e[-1]}")


_PROFILE_CACHE: OrderedDict[tuple, Profile] = OrderedDict()
_CACHE_SIZE = 512


def profile(con: duckdb.DuckDBPyConnection, column: str, *, numeric: bool, cache_key: tuple | None = None) -> Profile:
    """Profile ``column`` of the reference temp table; cached under ``cache_key`` when given."""
    key = (*cache_key, column, numeric) if cache_key is not None else None
    if key is not None and key in _PROFILE_CACHE:
        _PROFILE_CACHE.move_to_end(key)
        return _PROFILE_CACHE[key]
    q = quote(column)
    if numeric:
        n, missing, std, n_unique, quantiles = con.execute(
            f"SELECT count({q}), count(*) - count({q}), stddev_pop({q}::DOUBLE), count(DISTINCT {q}), "
            f"quantile_cont({q}::DOUBLE, {list(QUANTILES)}) FROM {REF}").fetchone()
    else:
        n, missing, n_unique = con.execute(
            f"SELECT count({q}), count(*) - count({q}), count(DISTINCT {q}) FROM {REF}").fetchone()
        std, quantiles = math.nan, None
    kind = NUMERICAL if numeric and n_unique > AUTO_NUMERIC_UNIQUE else CATEGORICAL
    if kind == NUMERICAL:
        edges = tuple(sorted({float(x) for x in quantiles or []}))
        result = Profile(column, kind, numeric, n, missing, float(std if std is not None else math.nan), n_unique,
                         edges=edges)
        result = Profile(**{**result.__dict__, "counts": tuple(_bin_counts(con, REF, column, edges, None)[None])})
    else:
        rows = con.execute(
            f"SELECT CAST({q} AS VARCHAR) c, count(*) n FROM {REF} WHERE {q} IS NOT NULL GROUP BY 1 "
            "ORDER BY n DESC, c").fetchall()
        kept = rows[:MAX_CATEGORIES]
        categories = tuple(r[0] for r in kept)
        counts = tuple(int(r[1]) for r in kept)
        result = Profile(column, kind, numeric, n, missing, float(std) if std is not None else math.nan, n_unique,
                         categories=categories, counts=counts)
    if key is not None:
        _PROFILE_CACHE[key] = result
        while len(_PROFILE_CACHE) > _CACHE_SIZE:
            _PROFILE_CACHE.popitem(last=False)
    return result


def _bin_index(column: str, edges: tuple[float, ...]) -> str:
    """SQL for the bin of a value: how many inner edges are <= it (``searchsorted(..., side='right')``)."""
    q = quote(column)
    if not edges:
        return "0"
    return " + ".join(f"({q}::DOUBLE >= {float(e)!r})::INTEGER" for e in edges)


def _bin_counts(con: duckdb.DuckDBPyConnection, table: str, column: str, edges: tuple[float, ...],
                period: str | None) -> dict[object, np.ndarray]:
    """Counts per bin of ``table``'s non-missing values, per period (``None``: one group)."""
    group = period or "NULL"
    rows = con.execute(
        f"SELECT {group} AS p, {_bin_index(column, edges)} AS b, count(*) FROM {table} "
        f"WHERE {quote(column)} IS NOT NULL GROUP BY ALL").fetchall()
    out: dict[object, np.ndarray] = {}
    for p, b, n in rows:
        out.setdefault(p, np.zeros(len(edges) + 1, dtype=np.int64))[int(b)] += int(n)
    return out


def period_sizes(con: duckdb.DuckDBPyConnection, columns: list[str]) -> dict[object, dict[str, tuple[int, int]]]:
    """Per period and column: (non-missing values, missing values) of the current rows, in one scan."""
    parts = ", ".join(f"count({quote(c)}), count(*) - count({quote(c)})" for c in columns)
    out: dict[object, dict[str, tuple[int, int]]] = {}
    for row in con.execute(f"SELECT _period, {parts} FROM {CUR} GROUP BY ALL").fetchall():
        out[row[0]] = {c: (int(row[1 + 2 * i]), int(row[2 + 2 * i])) for i, c in enumerate(columns)}
    return out


def current_bin_counts(con: duckdb.DuckDBPyConnection, prof: Profile) -> dict[object, np.ndarray]:
    """Counts of the current rows on the reference's bins, per period."""
    return _bin_counts(con, CUR, prof.column, prof.edges, "_period")


def current_category_counts(con: duckdb.DuckDBPyConnection, prof: Profile) -> tuple[dict[object, np.ndarray],
                                                                                     tuple[str, ...], tuple[int, ...]]:
    """Category counts of the current rows per period, on the reference's categories plus unseen ones.

    Returns the counts per period, the labels (reference categories first, then categories unseen
    in the reference by frequency, the rest pooled as ``(other)``) and the reference counts on them.
    """
    q = quote(prof.column)
    rows = con.execute(
        f"SELECT _period, CAST({q} AS VARCHAR), count(*) FROM {CUR} WHERE {q} IS NOT NULL GROUP BY ALL").fetchall()
    known = {c: i for i, c in enumerate(prof.categories)}
    unseen_totals: dict[str, int] = {}
    for _, c, n in rows:
        if c not in known:
            unseen_totals[c] = unseen_totals.get(c, 0) + int(n)
    room = max(MAX_CATEGORIES - len(known), 0)
    unseen = sorted(unseen_totals, key=lambda c: (-unseen_totals[c], c))
    labels = list(prof.categories) + unseen[:room]
    index = {c: i for i, c in enumerate(labels)}
    ref_other = prof.n - sum(prof.counts)
    pooled = ref_other > 0 or len(unseen) > room
    if pooled:
        labels.append(OTHER)
    ref_counts = list(prof.counts) + [0] * (len(labels) - len(prof.counts))
    if pooled:
        ref_counts[-1] = ref_other
    out: dict[object, np.ndarray] = {}
    for p, c, n in rows:
        out.setdefault(p, np.zeros(len(labels), dtype=np.int64))[index.get(c, len(labels) - 1)] += int(n)
    return out, tuple(labels), tuple(ref_counts)


def ecdf_distances(con: duckdb.DuckDBPyConnection, column: str, n_reference: int) -> dict[object, tuple[float, float]]:
    """Exact ``(D, W1)`` between the reference and the current rows of each period (see module docstring)."""
    q = quote(column)
    if n_reference == 0:
        return {}
    sql = f"""
    WITH k AS (SELECT _period, {q}::DOUBLE AS v, count(*) AS c FROM {CUR} WHERE {q} IS NOT NULL GROUP BY ALL),
    n AS (SELECT _period, sum(c) AS n2 FROM k GROUP BY ALL),
    r AS (SELECT {q}::DOUBLE AS v, count(*) AS c FROM {REF} WHERE {q} IS NOT NULL GROUP BY ALL),
    u AS (SELECT _period, v, sum(rc) AS rc, sum(kc) AS kc FROM (
            SELECT n._period, r.v, r.c AS rc, 0 AS kc FROM n CROSS JOIN r
            UNION ALL SELECT _period, v, 0, c FROM k) GROUP BY ALL),
    e AS (SELECT u._period, v,
                 sum(rc) OVER w / {float(n_reference)!r} AS f1,
                 sum(kc) OVER w / n.n2 AS f2,
                 lead(v) OVER w AS nv
          FROM u JOIN n USING (_period)
          WINDOW w AS (PARTITION BY u._period ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
    SELECT _period, max(abs(f1 - f2)), coalesce(sum(abs(f1 - f2) * (nv - v)), 0) FROM e GROUP BY ALL
    """
    return {p: (float(d), float(w)) for p, d, w in con.execute(sql).fetchall()}
