"""What DuckDB computes for drift: fine histograms of numerical columns and category counts.

Every side of a comparison (the reference data of a version, an earlier window of the log, a
window, a file) is summarised by the same two aggregates, grouped by a period (one constant for a
drift summary, a day or a week for drift over time):

- a numerical column: its **fine histogram** on :data:`FINE_BINS` bins between the reference's
  minimum ``lo`` and maximum ``hi``, plus one open bin below ``lo`` (index -1) and one above ``hi``
  (index ``FINE_BINS``); each bin keeps its count, sum, minimum and maximum. The bins are of equal
  width on the axis ``t = asinh(v / s)``, ``s`` being 1e-4 of the largest magnitude in the
  reference: linear near zero, logarithmic in the tails, so a heavy-tailed amount (most clients
  pay little, a few a million) is resolved to about 1 % of its value everywhere. A value ``v``
  falls in bin ``min(FINE_BINS - 1, floor((t - t(lo)) * FINE_BINS / (t(hi) - t(lo))))`` (``hi``
  itself in the last inner bin), computed in DOUBLE arithmetic with libm's asinh, which
  :func:`bin_numpy` reproduces bit for bit;
- a categorical column: the count of each category (``CAST(value AS VARCHAR)``).

Both first count the rows of each distinct value (:func:`counted_values_sql`), a hash aggregate on
the raw column, then bin or cast the distinct values: the same numbers as binning every row, and
several times faster where a column has few distinct values (ages, limits, rounded amounts).

Missing values (NULL, NaN and infinities) are counted as missing, never binned. Histograms are
additive, so the daily rollups (:mod:`analytics.drift._rollup`) are summed into any window's whole
days (its partial edge days added from the log) and give the same numbers as a direct query.

From two fine histograms on the same bins (:func:`ks_distance`, :func:`wasserstein_w1`):

- **KS D** is read off the two cumulative distributions at every bin boundary. It is exact when no
  bin holds two distinct values (integers, amounts rounded to a step wider than the bin width);
  otherwise the true D lies in ``[D, D + tolerance]``, the tolerance bounding how far the CDFs can
  move apart inside a bin holding distinct values (:func:`ks_distance`).
- **W1** is the Wasserstein distance (:func:`weighted_w1`, what :func:`scipy.stats.wasserstein_distance`
  computes) between the two sides with each bin's rows
  placed at the bin's mean. It is exact when no bin holds distinct values; otherwise it is within
  ``tolerance = sum over such bins of (max - min) * (reference share + current share)`` of the exact
  W1 (moving a bin's mass to its mean moves it at most ``max - min``), counting only bins where the
  two CDFs may cross (elsewhere the area between them depends only on the bin's sums, which are
  kept; this makes the tails outside the reference's range exact).

PSI, Jensen-Shannon and chi-square of a numerical column use **coarse bins**: the reference's
deciles snapped to fine-bin boundaries (boundary ``k`` for decile ``q`` is the first at which at
least ``q`` of the reference lies below it; duplicates dropped), so coarse counts are sums of fine
ones and every statistic on them is exact for those bins.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import duckdb
import numpy as np

from analytics.drift._methods import AUTO_NUMERIC_UNIQUE, CATEGORICAL, NUMERICAL
from analytics.logschema import quote_any
from analytics.timebounds import WHOLE_WINDOW

#: Equal-width bins between the reference's minimum and maximum (plus one open bin on each side).
FINE_BINS = 1_000
LOW_TAIL, HIGH_TAIL = -1, FINE_BINS
#: Categories kept per column (the most frequent in the reference, then unseen ones by count);
#: the rest are pooled as "(other)" so that a free-text column cannot blow up a table.
MAX_CATEGORIES = 50
OTHER = "(other)"


def double(x: float) -> str:
    """A SQL DOUBLE literal that parses to exactly ``x`` (shortest round-trip repr)."""
    return f"CAST('{float(x)!r}' AS DOUBLE)"


def asinh_scale(lo: float, hi: float) -> float:
    """The scale ``s`` of the bins' ``asinh(v / s)`` axis: 1e-4 of the largest magnitude in the reference."""
    return max(abs(lo), abs(hi)) * 1e-4 or 1.0


def bin_axis(lo: float, hi: float, bins: int = FINE_BINS) -> tuple[float, float, float]:
    """``(s, asinh(lo / s), bins / (asinh(hi / s) - asinh(lo / s)))`` with libm's asinh, as DuckDB computes it."""
    scale = asinh_scale(lo, hi)
    t_lo, t_hi = math.asinh(lo / scale), math.asinh(hi / scale)
    return scale, t_lo, bins / (t_hi - t_lo)


def bin_sql(value: str, lo: float, hi: float, bins: int = FINE_BINS) -> str:
    """SQL for the fine bin of the DOUBLE expression ``value`` (see the module docstring)."""
    scale, t_lo, k = bin_axis(lo, hi, bins)
    return (f"CASE WHEN {value} < {double(lo)} THEN {LOW_TAIL} WHEN {value} > {double(hi)} THEN {bins} "
            f"ELSE least({bins - 1}, floor((asinh({value} / {double(scale)}) - {double(t_lo)}) * {double(k)}))"
            f"::INTEGER END")


def bin_numpy(values: np.ndarray, lo: float, hi: float, bins: int = FINE_BINS) -> np.ndarray:
    """The fine bins of ``values`` as :func:`bin_sql` computes them (libm's asinh; for tests and checks)."""
    values = np.asarray(values, dtype=float)
    scale, t_lo, k = bin_axis(lo, hi, bins)
    t = np.frompyfunc(math.asinh, 1, 1)(values / scale).astype(float)
    with np.errstate(invalid="ignore"):
        inner = np.minimum(bins - 1, np.floor((t - t_lo) * k))
    return np.where(values < lo, LOW_TAIL, np.where(values > hi, bins, inner)).astype(np.int64)


def _ordered(x: np.ndarray) -> np.ndarray:
    """Doubles as int64 keys in the same order (so that bisection on the keys walks adjacent doubles)."""
    bits = np.asarray(x, dtype=np.float64).view(np.int64)
    return np.where(bits < 0, np.int64(-(2**63)) - bits, bits)


def _unordered(keys: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_ordered`."""
    keys = np.asarray(keys, dtype=np.int64)
    return np.where(keys < 0, np.int64(-(2**63)) - keys, keys).view(np.float64)


def _apart(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``high - low > 1`` for int64 keys, without overflowing."""
    half = high // 2 - low // 2
    return (half > 1) | (2 * np.minimum(half, 1) + (high % 2 - low % 2) > 1)


def exact_edges(lo: float, hi: float, bins: int = FINE_BINS) -> np.ndarray:
    """The literal left edges of the inner fine bins: ``edges[k]`` is the least double in ``[lo, hi]``
    that :func:`bin_sql` puts in bin ``k`` or above (``edges[0] = lo``; ``bins + 1`` values, the last
    one, like any bin no value reaches, the double just above ``hi``).

    Binning on these edges (the number of edges at or below a value, minus one, for a value in
    ``[lo, hi]``) gives every value the bin DuckDB's libm formula gives it, with nothing but
    comparisons: an engine whose ``asinh`` rounds differently (Spark's) bins on the edges and gets the
    same histograms bit for bit. Found by bisection over adjacent doubles with :func:`bin_numpy`.
    """
    wanted = np.arange(1, bins)
    low = np.full(len(wanted), _ordered(np.array([lo]))[0])
    high = np.full(len(wanted), _ordered(np.array([hi]))[0] + 1)
    while np.any(_apart(low, high)):
        # invariant: bin(low) < k <= bin(high) (high past hi counts as bin 'bins')
        mid = low // 2 + high // 2 + (low % 2 + high % 2) // 2
        at_mid = bin_numpy(_unordered(mid), lo, hi, bins)
        above = at_mid >= wanted
        high = np.where(above, mid, high)
        low = np.where(above, low, mid)
    past = np.nextafter(float(hi), math.inf)
    inner = np.where(high > _ordered(np.array([hi]))[0], past, _unordered(high))
    return np.concatenate([[float(lo)], inner, [past]])


def boundary_values(lo: float, hi: float, boundaries, bins: int = FINE_BINS) -> np.ndarray:
    """The values of fine-bin boundaries ``k`` (0 is ``lo``, ``bins`` is ``hi``)."""
    scale, t_lo, k = bin_axis(lo, hi, bins)
    return scale * np.sinh(t_lo + np.asarray(boundaries, dtype=float) / k)


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a relation, a filter and how rows are grouped into periods.

    ``relation`` and ``period`` are SQL with literals only; ``where`` may hold ``?`` parameters,
    given in ``params``.
    """

    relation: str
    where: str = "TRUE"
    params: tuple = ()
    period: str = f"'{WHOLE_WINDOW}'"

    @property
    def source(self) -> str:
        """``FROM relation WHERE ...``: the side's rows."""
        return f"FROM {self.relation} WHERE {self.where}"

    def select(self, expressions: str) -> str:
        """``SELECT <period> AS p, <expressions> FROM relation WHERE ...`` grouped by every non-aggregate."""
        return f"SELECT {self.period} AS p, {expressions} {self.source} GROUP BY ALL"


@dataclass(frozen=True)
class FineHistogram:
    """A numerical column's fine histogram: sorted bin indices with count, sum, min and max per bin."""

    bins: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    total: np.ndarray = field(default_factory=lambda: np.zeros(0))
    vmin: np.ndarray = field(default_factory=lambda: np.zeros(0))
    vmax: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def count(self) -> int:
        """Values in the histogram (missing values excluded)."""
        return int(self.n.sum())

    @property
    def means(self) -> np.ndarray:
        """Each bin's mean; the exact value when the bin holds one distinct value."""
        return np.where(self.vmin == self.vmax, self.vmin, self.total / np.maximum(self.n, 1))

    @classmethod
    def merged(cls, hists) -> FineHistogram:
        """The sum of several histograms on the same bins (of disjoint sets of rows)."""
        parts = [np.column_stack([h.bins, h.n, h.total, h.vmin, h.vmax]) for h in hists if len(h.bins)]
        return cls.from_rows(np.concatenate(parts)) if parts else cls()

    @classmethod
    def from_rows(cls, rows) -> FineHistogram:
        """Build from ``(bin, n, total, min, max)`` rows, merging rows of the same bin."""
        if not len(rows):
            return cls()
        a = np.asarray(rows, dtype=float).reshape(-1, 5)
        bins, inverse = np.unique(a[:, 0].astype(np.int64), return_inverse=True)
        n = np.bincount(inverse, weights=a[:, 1], minlength=len(bins)).astype(np.int64)
        total = np.bincount(inverse, weights=a[:, 2], minlength=len(bins))
        vmin = np.full(len(bins), np.inf)
        vmax = np.full(len(bins), -np.inf)
        np.minimum.at(vmin, inverse, a[:, 3])
        np.maximum.at(vmax, inverse, a[:, 4])
        return cls(bins, n, total, vmin, vmax)


def counted_values_sql(period: str, column: str, source: str, *, as_double: bool = True) -> str:
    """SQL counting the rows of each distinct value of ``column`` (as DOUBLE, or as it is) per period:
    columns ``p, v, n``.

    ``source`` is the ``FROM ... WHERE ...`` of the rows. A hash aggregate on the raw column, with
    no expression evaluated per row: binning the distinct values afterwards gives the same histogram
    as binning every row, several times faster on a column with few distinct values, and no slower
    on one whose values are all distinct.
    """
    value = f"{quote_any(column)}::DOUBLE" if as_double else quote_any(column)
    return f"SELECT {period} AS p, {value} AS v, count(*) AS n {source} GROUP BY ALL"


def binned_sql(counted: str, lo: float, hi: float) -> str:
    """SQL binning counted values (a query with columns ``p, v, n``) on the fine bins of ``[lo, hi]``:
    columns ``p, bin, n, total, vmin, vmax`` (missing values dropped)."""
    return (f"SELECT p, {bin_sql('v', lo, hi)} AS bin, sum(n)::BIGINT AS n, sum(v * n) AS total, min(v) AS vmin, "
            f"max(v) AS vmax FROM ({counted}) WHERE isfinite(v) GROUP BY ALL")


def histogram_sql(period: str, column: str, source: str, lo: float, hi: float) -> str:
    """SQL for the fine histogram of ``column`` per period (:func:`counted_values_sql`, then :func:`binned_sql`)."""
    return binned_sql(counted_values_sql(period, column, source), lo, hi)


def categories_sql(period: str, column: str, numeric: bool, source: str) -> str:
    """SQL for the count of each category (``CAST(value AS VARCHAR)``) of ``column`` per period:
    columns ``p, category, n`` (missing values excluded; counted per distinct value, then cast)."""
    values = counted_values_sql(period, column, source, as_double=False)
    present = "isfinite(v::DOUBLE)" if numeric else "v IS NOT NULL"
    return (f"SELECT p, CAST(v AS VARCHAR) AS category, sum(n)::BIGINT AS n FROM ({values}) WHERE {present} "
            "GROUP BY ALL")


@dataclass(frozen=True)
class BinSpec:
    """A numerical column and the ``[lo, hi]`` of its fine bins (the reference's range)."""

    column: str
    lo: float
    hi: float


def fine_histograms(con: duckdb.DuckDBPyConnection, side: Side, column: str, lo: float,
                    hi: float) -> dict[object, FineHistogram]:
    """The fine histogram of ``column`` on ``side`` per period, on the bins of ``[lo, hi]``."""
    return fine_histograms_of(con, side, (BinSpec(column, lo, hi),))[0]


def fine_histograms_of(con: duckdb.DuckDBPyConnection, side: Side,
                       specs: tuple[BinSpec, ...]) -> list[dict[object, FineHistogram]]:
    """The fine histograms of several columns on ``side`` per period, in one query.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open connection.
    side : Side
        The rows.
    specs : tuple of BinSpec
        Each column with the ``lo`` and ``hi`` of its bins.

    Returns
    -------
    list of dict
        Per entry of ``specs``, in order, its histogram per period (as :func:`fine_histograms`). One
        query (the columns' aggregates in a ``UNION ALL``) instead of one per column: on a few hours
        of rows, each query's planning and start cost more than its aggregate.
    """
    if not specs:
        return []
    sql = " UNION ALL ".join(f"SELECT {i} AS c, * FROM ({histogram_sql(side.period, s.column, side.source, s.lo, s.hi)})"
                             for i, s in enumerate(specs))
    grouped: list[list] = [[] for _ in specs]
    for c, *rest in con.execute(sql, list(side.params) * len(specs)).fetchall():
        grouped[c].append(rest)
    return [_by_period(rows) for rows in grouped]


def _by_period(rows) -> dict[object, FineHistogram]:
    grouped: dict[object, list] = {}
    for p, *rest in rows:
        grouped.setdefault(p, []).append(rest)
    return {p: FineHistogram.from_rows(part) for p, part in grouped.items()}


def category_counts(con: duckdb.DuckDBPyConnection, side: Side, column: str,
                    numeric: bool = False) -> dict[object, dict[str, int]]:
    """Counts of each category of ``column`` on ``side`` per period (missing values excluded)."""
    out: dict[object, dict[str, int]] = {}
    sql = categories_sql(side.period, column, numeric, side.source)
    for p, c, n in con.execute(sql, list(side.params)).fetchall():
        out.setdefault(p, {})[c] = int(n)
    return out


def row_counts(con: duckdb.DuckDBPyConnection, side: Side) -> dict[object, int]:
    """Rows of ``side`` per period (missing values included)."""
    return {p: int(n) for p, n in con.execute(side.select("count(*)"), list(side.params)).fetchall()}


# --------------------------------------------------------------------------------------------------
# The reference profile


@dataclass(frozen=True)
class Profile:
    """The reference side of one column: kind, size, spread, and its fine histogram or category counts."""

    column: str
    kind: str
    numeric: bool
    n: int
    missing: int
    std: float
    lo: float = math.nan
    hi: float = math.nan
    histogram: FineHistogram = field(default_factory=FineHistogram)
    edges: tuple[int, ...] = ()
    categories: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()
    integral: bool = False

    def edge_values(self) -> tuple[float, ...]:
        """The coarse bins' inner edges as values (:func:`boundary_values`)."""
        return tuple(float(v) for v in boundary_values(self.lo, self.hi, self.edges))

    def bin_labels(self) -> tuple[str, ...]:
        """Readable labels of the coarse bins (``'< 1.5'``, ``'[1.5, 3)'``, ``'>= 3'``; for a reference of whole
        numbers the whole numbers each bin holds, ``'<= 29'``, ``'30 to 34'``, ``'>= 35'``) or the categories."""
        if self.kind == CATEGORICAL:
            return self.categories
        if not self.edges:
            return ("all values",)
        if self.integral:
            starts = [self._first_integer_at(k) for k in self.edges]
            if all(a < b for a, b in zip(starts, starts[1:])):
                spans = (f"{a:,}" if a == b - 1 else f"{a:,} to {b - 1:,}" for a, b in zip(starts, starts[1:]))
                return (f"<= {starts[0] - 1:,}", *spans, f">= {starts[-1]:,}")
        e = [f"{x:,.6g}" for x in self.edge_values()]
        return (f"< {e[0]}", *(f"[{a}, {b})" for a, b in zip(e, e[1:])), f">= {e[-1]}")

    def _first_integer_at(self, boundary: int) -> int:
        """The smallest integer in fine bin ``boundary`` or above, as :func:`bin_sql` bins it."""
        near = math.floor(float(boundary_values(self.lo, self.hi, [boundary])[0]))
        candidates = np.arange(near - 1, near + 3, dtype=float)
        return int(candidates[np.argmax(bin_numpy(candidates, self.lo, self.hi) >= boundary)])

    def coarse(self, hist: FineHistogram) -> np.ndarray:
        """Counts of a fine histogram on the coarse bins."""
        index = np.searchsorted(np.asarray(self.edges, dtype=np.int64), hist.bins, side="right")
        return np.bincount(index, weights=hist.n, minlength=len(self.edges) + 1).astype(np.int64)

    @property
    def key(self) -> tuple:
        """What the fine bins depend on (a rollup built on other bins is stale)."""
        return (self.column, self.kind, self.lo, self.hi, FINE_BINS)


def coarse_edges(hist: FineHistogram) -> tuple[int, ...]:
    """Fine boundaries nearest the reference's deciles (see the module docstring)."""
    if hist.count == 0:
        return ()
    below = np.cumsum(hist.n) * 10                   # 10 x the values in bins <= bins[i], i.e. below bins[i] + 1
    edges = {int(hist.bins[np.searchsorted(below, j * hist.count)]) + 1 for j in range(1, 10)}
    return tuple(sorted(k for k in edges if 0 < k <= FINE_BINS))


def profile_reference(con: duckdb.DuckDBPyConnection, side: Side,
                      columns: list[tuple[str, bool]]) -> dict[str, Profile]:
    """Profile every ``(column, numeric)`` of the reference side (whose period is the summary constant).

    A numeric column with more than :data:`AUTO_NUMERIC_UNIQUE` distinct finite values is numerical
    (its fine histogram on its own range); any other column is categorical. One pass per numeric
    column counts its rows per distinct value (:func:`counted_values_sql`); its size, range, spread
    and number of distinct values are read off those counts, and its fine histogram bins them
    (:func:`profile_numeric`).
    """
    rows = row_counts(con, side).get(WHOLE_WINDOW, 0)
    out: dict[str, Profile] = {}
    for c, is_numeric in columns:
        numerical = profile_numeric(con, side, c, rows) if is_numeric else None
        if numerical is not None:
            out[c] = numerical
            continue
        counts = category_counts(con, side, c, is_numeric).get(WHOLE_WINDOW, {})
        kept = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CATEGORIES]
        present = sum(counts.values())
        out[c] = Profile(c, CATEGORICAL, is_numeric, present, rows - present, math.nan,
                         categories=tuple(k for k, _ in kept), counts=tuple(v for _, v in kept))
    return out


_TEMP_NAMES = itertools.count()


def profile_numeric(con: duckdb.DuckDBPyConnection, side: Side, column: str, rows: int) -> Profile | None:
    """The numerical profile of a numeric column; None if it has at most :data:`AUTO_NUMERIC_UNIQUE`
    distinct finite values (it is then categorical).

    The counts per distinct value stay in DuckDB (a temporary table of the connection): size, range,
    two-pass standard deviation (compensated sums) and the fine histogram are read off them, so a
    column of millions of distinct values is never fetched into Python.
    """
    table = f"_vigil_counted_{next(_TEMP_NAMES)}"
    counted = counted_values_sql(side.period, column, side.source)
    con.execute(f"CREATE TEMP TABLE {table} AS SELECT v, n FROM ({counted}) WHERE isfinite(v)", list(side.params))
    try:
        distinct, count, lo, hi, std, integral = con.execute(
            f"WITH m AS (SELECT fsum(n * v) / sum(n) AS mean FROM {table}) "
            f"SELECT count(*), sum(n)::BIGINT, min(v), max(v), sqrt(fsum(n * (v - mean) * (v - mean)) / sum(n)), "
            f"bool_and(v = floor(v)) FROM {table}, m").fetchone()
        if distinct <= AUTO_NUMERIC_UNIQUE:
            return None
        hist = _by_period(con.execute(binned_sql(f"SELECT '{WHOLE_WINDOW}' AS p, v, n FROM {table}", lo, hi))
                          .fetchall()).get(WHOLE_WINDOW, FineHistogram())
        return Profile(column, NUMERICAL, True, int(count), rows - int(count), float(std), float(lo), float(hi), hist,
                       coarse_edges(hist), integral=bool(integral))
    finally:
        con.execute(f"DROP TABLE IF EXISTS {table}")


# --------------------------------------------------------------------------------------------------
# Statistics from two fine histograms


def _aligned(ref: FineHistogram, cur: FineHistogram):
    """Both histograms on the union of their bins: shares, means, and the combined min and max per bin."""
    # np.union1d's sorted distinct bins, written out: np.unique imports numpy.ma (8 ms of the file gate's start)
    bins = np.sort(np.concatenate((ref.bins, cur.bins)))
    bins = bins[np.r_[True, bins[1:] != bins[:-1]]] if len(bins) else bins
    out = []
    for h in (ref, cur):
        idx = np.searchsorted(bins, h.bins)
        n = np.zeros(len(bins))
        n[idx] = h.n
        lo = np.full(len(bins), np.inf)
        hi = np.full(len(bins), -np.inf)
        lo[idx], hi[idx] = h.vmin, h.vmax
        out.append((n / max(h.count, 1), lo, hi))
    (p, lo1, hi1), (q, lo2, hi2) = out
    return bins, p, q, np.minimum(lo1, lo2), np.maximum(hi1, hi2)


def weighted_w1(u: np.ndarray, v: np.ndarray, u_weights: np.ndarray, v_weights: np.ndarray) -> float:
    """W1 between two weighted samples: the area between their CDFs (scipy's ``_cdf_distance`` with p = 1)."""
    u, v = np.asarray(u, float), np.asarray(v, float)
    u_order, v_order = np.argsort(u), np.argsort(v)
    values = np.sort(np.concatenate([u, v]), kind="mergesort")
    u_cum = np.concatenate([[0.0], np.cumsum(np.asarray(u_weights, float)[u_order])])
    v_cum = np.concatenate([[0.0], np.cumsum(np.asarray(v_weights, float)[v_order])])
    u_cdf = u_cum[u[u_order].searchsorted(values[:-1], "right")] / u_cum[-1]
    v_cdf = v_cum[v[v_order].searchsorted(values[:-1], "right")] / v_cum[-1]
    return float(np.sum(np.abs(u_cdf - v_cdf) * np.diff(values)))


def ks_distance(ref: FineHistogram, cur: FineHistogram) -> tuple[float, float]:
    """KS ``D`` at the fine-bin boundaries, and its tolerance (the true D is in ``[D, D + tolerance]``).

    Inside a bin holding distinct values the reference CDF moves within ``[C1, C1 + p]`` and the
    current one within ``[C2, C2 + q]`` (cumulative shares before the bin, shares in it), so
    ``|F1 - F2| <= max(|C1 + p - C2|, |C1 - C2 - q|)`` there.
    """
    if ref.count == 0 or cur.count == 0:
        return math.nan, 0.0
    _, p, q, lo, hi = _aligned(ref, cur)
    c1, c2 = np.cumsum(p) - p, np.cumsum(q) - q
    d = float(max(np.max(np.abs(c1 + p - c2 - q)), 0.0))
    spread = lo < hi
    upper = np.maximum(np.abs(c1 + p - c2), np.abs(c1 - c2 - q))[spread]
    return d, float(max(0.0, upper.max() - d)) if spread.any() else 0.0


def wasserstein_w1(ref: FineHistogram, cur: FineHistogram) -> tuple[float, float]:
    """W1 with each bin's rows at its mean, and the bound on its distance to the exact W1.

    A bin contributes to the bound only if it holds distinct values and the CDFs may cross inside
    it: where ``C1 - C2 >= q`` or ``C2 - C1 >= p`` (cumulative shares before the bin, shares in it)
    the sign of ``F1 - F2`` is fixed across the bin, so the area between the CDFs there depends only
    on the bin's sums, which are kept (this covers a tail bin on whose side the reference has no rows).
    """
    if ref.count == 0 or cur.count == 0:
        return math.nan, 0.0
    w1 = weighted_w1(ref.means, cur.means, ref.n, cur.n)
    _, p, q, lo, hi = _aligned(ref, cur)
    c1, c2 = np.cumsum(p) - p, np.cumsum(q) - q
    may_cross = (lo < hi) & (c1 - c2 < q) & (c2 - c1 < p)
    return w1, float(np.sum(np.where(may_cross, (hi - lo) * (p + q), 0.0)))
