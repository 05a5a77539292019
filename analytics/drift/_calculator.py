"""The drift calculator: counts both sides in DuckDB and runs the methods on the counts.

Sides (:class:`~analytics.drift._binning.Side`):

- the store: the reference data of a version (``reference_<stem>``), or an earlier window of the
  log, against a window of the log (filtered by version and segment);
- files: two Parquet or CSV files (the ``vigil drift`` gate of a CI pipeline).

The reference is profiled once (kind, range, fine histogram or category counts; cached per version,
whose reference never changes). The current side is counted per period (:data:`WHOLE_WINDOW` for the
whole window, a day or a week for drift over time) by a :class:`Counts` source: straight from the log
(:class:`LogCounts`), or, for one version against its reference, the window's whole UTC days from
the daily rollups (:class:`~analytics.drift._rollup.RollupCounts`) and its partial edge days from the
log, added (:class:`MixedCounts`): the same numbers, reading a day or two of the log at most.
No rows are copied: every query is an aggregate over the relation itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import duckdb
import numpy as np

from analytics import settings, summaries
from analytics.drift import _binning as binning
from analytics.drift import _rollup
from analytics.drift._binning import BinSpec, FineHistogram, Profile, Side
from analytics.drift._methods import (
    CATEGORICAL, METHOD_KEYS, METHOD_OVERRIDES, ColumnComparison, auto_method, get_method, parse_overrides,
)
from analytics.drift._result import RESULT_COLUMNS, DriftResult
from analytics.drift._segment import segment_baseline, window_left_out
from analytics.errors import InvalidInputError
from analytics.logschema import quote
from analytics.memo import Memo
from analytics.store import DbLike, run
from analytics.window import Window, split_interval
from analytics.registry import champion_version, get_model, get_version
from analytics.store import data_version, predictions_view, store_path, transaction, write
from analytics.timebounds import WHOLE_WINDOW, period_sql

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class DriftConfig:
    """How to compare: which method (``auto`` or a key), per-column overrides and thresholds.

    ``thresholds`` maps a method key to its threshold; a method not named uses its declared setting.
    """

    method: str = "auto"
    overrides: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method != "auto":
            get_method(self.method)
        for key in self.overrides.values():
            get_method(key)

    def threshold(self, key: str) -> float:
        """The threshold of method ``key``."""
        return float(self.thresholds.get(key, get_method(key).threshold.default))


def config_for_model(con: duckdb.DuckDBPyConnection, model: str | None, method: str = "auto") -> DriftConfig:
    """The model's thresholds and per-column overrides from :mod:`analytics.settings`."""
    thresholds = {k: float(settings.get(con, get_method(k).threshold.key, model=model)) for k in METHOD_KEYS}
    overrides = parse_overrides(settings.get(con, METHOD_OVERRIDES.key, model=model))
    return DriftConfig(method=method, overrides=overrides, thresholds=thresholds)


def _choose(column: str, kind: str, n_reference: int, config: DriftConfig) -> tuple[str, str]:
    """The method for a column, and a note when a requested method did not fit its kind."""
    wanted = config.overrides.get(column) or (config.method if config.method != "auto" else None)
    if wanted is None:
        return auto_method(kind, n_reference), ""
    if kind in get_method(wanted).kinds:
        return wanted, ""
    chosen = auto_method(kind, n_reference)
    return chosen, f"{wanted} needs a numerical column; used {chosen}"


class Counts(Protocol):
    """Where the current side's counts per period come from (the log, the daily rollups, a file, or a mix)."""

    def rows(self) -> dict[object, int]:
        """Rows per period."""

    def numeric(self, column: str, lo: float, hi: float) -> dict[object, FineHistogram]:
        """The fine histogram of a numerical column per period."""

    def categories(self, column: str, numeric: bool) -> dict[object, dict[str, int]]:
        """Category counts of a categorical column per period."""


@dataclass(frozen=True)
class LogCounts:
    """Counts computed from a side's rows: one aggregate query per column, or one for the ``batch``.

    ``batch``: numerical columns with their bins whose fine histograms are computed
    together, in one query, when the first of them is asked for (a few hours of rows: the per-query cost
    dominates); any other is computed on its own.
    """

    con: duckdb.DuckDBPyConnection
    side: Side
    batch: tuple[BinSpec, ...] = ()
    _batched: dict[BinSpec, dict[object, FineHistogram]] = field(
        default_factory=dict, repr=False, compare=False)

    def rows(self) -> dict[object, int]:
        return binning.row_counts(self.con, self.side)

    def numeric(self, column: str, lo: float, hi: float) -> dict[object, FineHistogram]:
        spec = BinSpec(column, lo, hi)
        if spec not in self.batch:
            return binning.fine_histograms(self.con, self.side, column, lo, hi)
        if not self._batched:
            self._batched.update(zip(self.batch, binning.fine_histograms_of(self.con, self.side, self.batch)))
        return self._batched[spec]

    def categories(self, column: str, numeric: bool) -> dict[object, dict[str, int]]:
        return binning.category_counts(self.con, self.side, column, numeric)


@dataclass(frozen=True)
class MixedCounts:
    """The sum of the counts of disjoint sets of rows (whole days from the rollups, partial days from the log)."""

    parts: tuple[Counts, ...]

    def rows(self) -> dict[object, int]:
        out: dict[object, int] = {}
        for part in self.parts:
            for p, n in part.rows().items():
                out[p] = out.get(p, 0) + n
        return out

    def numeric(self, column: str, lo: float, hi: float) -> dict[object, FineHistogram]:
        by_period: dict[object, list[FineHistogram]] = {}
        for part in self.parts:
            for p, hist in part.numeric(column, lo, hi).items():
                by_period.setdefault(p, []).append(hist)
        return {p: hists[0] if len(hists) == 1 else FineHistogram.merged(hists) for p, hists in by_period.items()}

    def categories(self, column: str, numeric: bool) -> dict[object, dict[str, int]]:
        out: dict[object, dict[str, int]] = {}
        for part in self.parts:
            for p, counts in part.categories(column, numeric).items():
                merged = out.setdefault(p, {})
                for c, n in counts.items():
                    merged[c] = merged.get(c, 0) + n
        return out


_PROFILES: Memo[dict[str, Profile]] = Memo(64)


def reference_profiles(con: duckdb.DuckDBPyConnection, reference: Side, columns: list[tuple[str, bool, str]],
                       cache_key: tuple | None = None) -> dict[str, Profile]:
    """Profiles of ``columns`` on the reference side; cached under ``cache_key`` (a version's reference)."""
    wanted = [(c, numeric) for c, numeric, _ in columns]
    if cache_key is None:
        return binning.profile_reference(con, reference, wanted)
    return _PROFILES.get((*cache_key, tuple(wanted)), lambda: binning.profile_reference(con, reference, wanted))


def _categorical_labels(prof: Profile, current: dict[object, dict[str, int]]):
    """Labels (reference categories, then unseen ones by count, the rest pooled as ``(other)``),
    the reference counts on them, and each period's counts on them.

    A source may pool categories itself: their rows counted under the key None (files do, in DuckDB).
    """
    known = set(prof.categories)
    unseen_totals: dict[str, int] = {}
    for counts in current.values():
        for c, n in counts.items():
            if c not in known and c is not None:
                unseen_totals[c] = unseen_totals.get(c, 0) + n
    room = max(binning.MAX_CATEGORIES - len(known), 0)
    unseen = sorted(unseen_totals, key=lambda c: (-unseen_totals[c], c))
    labels = list(prof.categories) + unseen[:room]
    ref_other = prof.n - sum(prof.counts)
    pooled = ref_other > 0 or len(unseen) > room or any(counts.get(None) for counts in current.values())
    if pooled:
        labels.append(binning.OTHER)
    ref_counts = np.array(list(prof.counts) + [0] * (len(labels) - len(prof.counts)), dtype=np.int64)
    if pooled:
        ref_counts[-1] = ref_other
    index = {c: i for i, c in enumerate(labels)}
    out = {}
    for period, counts in current.items():
        arr = np.zeros(len(labels), dtype=np.int64)
        for c, n in counts.items():
            arr[index.get(c, len(labels) - 1)] += n
        out[period] = arr
    return tuple(labels), ref_counts, out


@dataclass(frozen=True)
class ComputedDrift:
    """What :func:`compute` returns.

    Attributes
    ----------
    rows : tuple of dict
        One row per column and period (:data:`RESULT_COLUMNS`), as :attr:`DriftResult.rows`.
    histograms : dict of str to pandas.DataFrame
        Per column, the reference and current counts on its bins, when asked and there is one period.
    n_current : int
        The current side's rows.
    """

    rows: tuple[dict[str, Any], ...]
    histograms: dict[str, pd.DataFrame]
    n_current: int


def compute(con: duckdb.DuckDBPyConnection, columns: list[tuple[str, bool, str]], config: DriftConfig,
            reference: Side, current: Counts, *, cache_key: tuple | None = None,
            histograms: bool = True, profiles: dict[str, Profile] | None = None) -> ComputedDrift:
    """Drift of ``columns`` (name, numeric type, role) between the reference and the current counts, per period.

    ``profiles``: the reference's profiles when the caller has them (else :func:`reference_profiles`).
    ``histograms``: also return each column's bins when there is one period.
    """
    profiles = profiles if profiles is not None else reference_profiles(con, reference, columns, cache_key)
    sizes = current.rows()
    periods = sorted(sizes, key=lambda p: (p is None, p))
    rows: list[dict[str, Any]] = []
    hists: dict[str, pd.DataFrame] = {}
    for column, numeric, role in columns:
        prof = profiles[column]
        method_key, note = _choose(column, prof.kind, prof.n, config)
        method = get_method(method_key)
        threshold = config.threshold(method_key)
        if prof.kind == CATEGORICAL:
            labels, ref_arr, cur_by_period = _categorical_labels(prof, current.categories(column, numeric))
            fine: dict[object, FineHistogram] = {}
        else:
            fine = current.numeric(column, prof.lo, prof.hi)
            labels, ref_arr = prof.bin_labels(), prof.coarse(prof.histogram)
            cur_by_period = {p: prof.coarse(h) for p, h in fine.items()}
        seen = len(prof.categories)
        for period in periods:
            cur_arr = cur_by_period.get(period, np.zeros(len(labels), dtype=np.int64))
            n_cur = int(cur_arr.sum())
            comparison = _comparison(prof, ref_arr, cur_arr, labels, fine.get(period), method_key)
            statistic, p_value = method.compute(comparison)
            unseen = [labels[i] for i in range(seen, len(labels)) if cur_arr[i] > 0 and labels[i] != binning.OTHER] \
                if prof.kind == CATEGORICAL else []
            notes = [note] if note else []
            if prof.n == 0:
                notes.append("no reference values (all missing)")
            if n_cur == 0:
                notes.append("no current values (all missing or no rows)")
            if unseen:
                notes.append(f"{len(unseen)} {'category' if len(unseen) == 1 else 'categories'} not in the reference")
            rows.append({
                "column": column, "kind": prof.kind, "method": method_key, "statistic": statistic,
                "p_value": p_value if method.uses_p_value else math.nan, "threshold": threshold,
                "drifted": method.drifted(statistic, p_value, threshold), "n_reference": prof.n, "n_current": n_cur,
                "period": period, "role": role, "missing_reference": prof.missing,
                "missing_current": sizes[period] - n_cur, "unseen_categories": ", ".join(unseen),
                "note": "; ".join(notes), "tolerance": method.tolerance(comparison) if math.isfinite(statistic) else 0.0,
            })
            if histograms and len(periods) == 1:
                hists[column] = _histogram_frame(labels, ref_arr, cur_arr)
    return ComputedDrift(tuple(rows), hists, sum(sizes.values()))


def _histogram_frame(labels: tuple[str, ...], ref: np.ndarray, cur: np.ndarray) -> pd.DataFrame:
    """A column's bins with the reference and current counts and shares (:attr:`DriftResult.histograms`)."""
    import pandas as pd

    return pd.DataFrame({"bin": list(labels), "reference_count": ref, "current_count": cur,
                         "reference_share": ref / ref.sum() if ref.sum() else np.nan,
                         "current_share": cur / cur.sum() if cur.sum() else np.nan})


def _comparison(prof: Profile, ref: np.ndarray, cur: np.ndarray, labels: tuple[str, ...], fine: FineHistogram | None,
             method_key: str) -> ColumnComparison:
    """The :class:`~analytics.drift._methods.ColumnComparison` of one column and period (distances only when needed)."""
    fine = fine if fine is not None else FineHistogram()
    d, d_tol = binning.ks_distance(prof.histogram, fine) if method_key == "ks" else (math.nan, 0.0)
    w1, w1_tol = binning.wasserstein_w1(prof.histogram, fine) if method_key == "wasserstein" else (math.nan, 0.0)
    return ColumnComparison(kind=prof.kind, n_reference=prof.n, n_current=int(cur.sum()), ref_counts=ref, cur_counts=cur,
                            labels=labels, ks_d=d, w1=w1, ref_std=prof.std, ks_tolerance=d_tol, w1_tolerance=w1_tol)


# --------------------------------------------------------------------------------------------------
# The sides


def _columns(info, columns: list[str] | None) -> list[tuple[str, bool, str]]:
    declared = [(c.name, c.dtype in ("double", "integer"), c.role) for c in info.schema.columns]
    declared.append(("score", True, "score"))
    if columns:
        known = {c[0]: c for c in declared}
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise InvalidInputError(f"columns not declared by {info.name}: {', '.join(unknown)}")
        return [known[c] for c in columns]
    return declared


def _label(window: Window) -> str:
    """``'v2, 2026-05-01 00:00 to now UTC, region = north'``: the version, the span and the segment."""
    a = f"{window.start:%Y-%m-%d %H:%M}" if window.start else "the first prediction"
    b = f"{window.end:%Y-%m-%d %H:%M}" if window.end else "now"
    segment = f", {window.segment} = {window.segment_value}" if window.segment else ""
    return f"{window.version}, {a} to {b} UTC{segment}"


@dataclass(frozen=True)
class StoreSides:
    """What a store comparison reads: the columns, both sides, the profile cache key and the labels."""

    info: Any
    version: str
    columns: list[tuple[str, bool, str]]
    reference: Side
    current: Side
    cache_key: tuple | None
    reference_label: str
    current_label: str
    left_out: dict[str, str] = field(default_factory=dict)


def store_sides(con: duckdb.DuckDBPyConnection, model: str, *, window: Window, baseline: Window | None = None,
                columns: list[str] | None = None, period: str | None = None) -> StoreSides:
    """The two sides of a store comparison: ``window``'s rows (its version, default the champion) against the
    version's reference data, or against ``baseline``, an earlier window of the log (same version and
    segment as ``window``; its own are not read). ``period``: ``None`` for the whole window, ``"day"`` or ``"week"``."""
    info = get_model(con, model)
    version = window.version or champion_version(con, model)
    if version is None:
        raise InvalidInputError(f"{model} has no champion version; choose a version")
    get_version(con, model, version)
    window = replace(window, version=version)
    con.execute("SET enable_progress_bar = false")  # never print into the CLI's JSON
    spec = _columns(info, columns)
    if baseline is None:
        chosen = segment_baseline(con, info, window)
        reference, ref_label, left_out = chosen.reference, chosen.label, chosen.left_out
        if not con.execute(f"SELECT count(*) {reference.source}", list(reference.params)).fetchone()[0]:
            raise InvalidInputError(f"{model}:{version} has no reference data; compare against an earlier window")
        cache_key = (con_path(con), model, version, *((window.segment, window.segment_value) if chosen.filtered else ()))
    else:
        earlier = window.between(baseline.start, baseline.end)
        reference = _log_side(info, earlier, period_sql(None, 'predicted_at'))
        ref_label, cache_key = _label(earlier), None
        left_out = window_left_out(window)
    spec = [c for c in spec if c[0] not in left_out]
    current = _log_side(info, window, period_sql(period, 'predicted_at'))
    return StoreSides(info, version, spec, reference, current, cache_key, ref_label, _label(window), left_out)


def _log_side(info, window: Window, period: str) -> Side:
    """The rows of the log in ``window``, grouped by ``period`` (SQL)."""
    view = predictions_view(info.stem)
    where = window.where(info.schema, alias=view)
    return Side(view, where.sql, tuple(where.params), period)


def con_path(con: duckdb.DuckDBPyConnection) -> str:
    """The file of the open store (the profile cache is per store)."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return str(row[0]) if row else ""


def _rollup_profiles(con: duckdb.DuckDBPyConnection, model: str, version: str) -> dict[str, Profile]:
    """The reference profiles of every declared column of ``version``: what its daily rollups are binned on."""
    sides = store_sides(con, model, window=Window(version=version))
    return reference_profiles(con, sides.reference, _columns(sides.info, None), sides.cache_key)


def _rollup_key(con: duckdb.DuckDBPyConnection, model: str, version: str) -> str:
    return _rollup.bins_key(_rollup_profiles(con, model, version))


def _build_rollups(con: duckdb.DuckDBPyConnection, model: str, version: str, days: list[date]) -> None:
    view = predictions_view(get_model(con, model).stem)
    frame = _rollup.summarise_days(con, model, version, view, days, _rollup_profiles(con, model, version))
    _rollup.insert(con, frame)


def _rolled_versions(con: duckdb.DuckDBPyConnection, model: str) -> tuple[str, ...]:
    """The versions kept rolled up by default: the champion (others are read from the log, or refreshed by name)."""
    champion = champion_version(con, model)
    return (champion,) if champion else ()


#: The daily drift rollups, declared to the summaries engine: scoped by version, keyed by the bins.
DRIFT_ROLLUPS = summaries.register(summaries.Declaration(
    name=_rollup.DRIFT, tables=(summaries.SummaryTable("drift_rollup", scope_column="model_version"),),
    build=_build_rollups, key=_rollup_key, scopes=_rolled_versions))


def refresh_rollups(db: DbLike, model: str, *, version: str | None = None) -> int:
    """Rebuild the days of the daily rollups of a version (default the champion) that are stale or new.

    Runs the summaries engine's refresh (:mod:`analytics.summaries`) for this summary in one write
    transaction (in the caller's, given a connection). Returns the number of days rolled up (0 when
    the rollups were current).
    """
    def refresh(con: duckdb.DuckDBPyConnection) -> int:
        return summaries.refresh(con, model, names=(DRIFT_ROLLUPS.name,), scope=version).get(DRIFT_ROLLUPS.name, 0)

    if isinstance(db, duckdb.DuckDBPyConnection):
        with transaction(db):
            return refresh(db)
    return write(refresh, db)


def rollup_columns(con: duckdb.DuckDBPyConnection, model: str, version: str) -> tuple[_rollup.RollupColumn, ...]:
    """What another engine (Spark, :mod:`analytics.scaleout`) needs to roll up ``version``'s columns exactly as
    the store does: each column's kind, reference range and exact fine-bin edges (reads only)."""
    return _rollup.rollup_columns(_rollup_profiles(con, model, version))


def checked_baseline(window: Window, baseline: Window | None) -> Window | None:
    """``baseline``, an earlier span of ``window``'s own rows, once it names the same version and segment.

    Parameters
    ----------
    window : Window
        The rows compared.
    baseline : Window, optional
        The rows compared with instead of the reference data: ``window``'s version and segment over
        another span (``window.between(start, end)``, ``window.previous(now)``); a side may be open.

    Returns
    -------
    Window or None
        ``baseline`` (None: compare with the reference data).

    Raises
    ------
    InvalidInputError
        ``baseline`` names another version or segment than ``window`` (the baseline's rows are the
        window's version and segment; another would not be read).
    """
    if baseline is None:
        return None
    mine, theirs = ((w.version, w.segment, w.segment_value) for w in (window, baseline))
    if mine != theirs:
        def said(version, segment, value):
            return (f"version {version or 'the champion'}, "
                    + (f"segment {segment} = {value}" if segment else "every segment"))
        raise InvalidInputError(f"the baseline ({said(*theirs)}) is not the window's ({said(*mine)}): a baseline is "
                                "the window's own rows over another span; make it with window.between(start, end) "
                                "or window.previous(now)")
    return baseline


def _use_rollups(baseline: Window | None, window: Window) -> bool:
    """The rollups answer comparisons with the reference data without a segment filter."""
    return baseline is None and window.segment is None


@dataclass(frozen=True)
class StoreDrift:
    """A store comparison's outcome: the table, histograms, rows on each side, and the days read from the log
    because they were not summarised yet."""

    rows: tuple[dict[str, Any], ...]
    histograms: dict[str, pd.DataFrame]
    n_reference: int
    n_current: int
    unsummarised_days: tuple[date, ...] = ()


def _day_runs(days: tuple[date, ...]) -> list[tuple[datetime, datetime]]:
    """Consecutive UTC days as ``[start, end)`` windows."""
    runs: list[tuple[datetime, datetime]] = []
    for d in sorted(days):
        start = datetime.combine(d, datetime.min.time())
        if runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], start + timedelta(days=1))
        else:
            runs.append((start, start + timedelta(days=1)))
    return runs


_EDGES = "_vigil_drift_edges"


@dataclass(frozen=True)
class KeptCounts:
    """Counts computed once and kept (:data:`_EDGE_COUNTS`): the rows per period, each numerical column's fine
    histograms per period by its bins, each categorical column's counts per period."""

    row_counts: dict[object, int]
    histograms: dict[BinSpec, dict[object, FineHistogram]]
    category_counts: dict[tuple[str, bool], dict[object, dict[str, int]]]

    def rows(self) -> dict[object, int]:
        return self.row_counts

    def numeric(self, column: str, lo: float, hi: float) -> dict[object, FineHistogram]:
        return self.histograms[BinSpec(column, lo, hi)]

    def categories(self, column: str, numeric: bool) -> dict[object, dict[str, int]]:
        return self.category_counts[(column, numeric)]


#: The counts of a window's partial edge days, kept in this process: a preset window starts on the hour, so
#: its partial first day is the same rows on every visit for an hour (0.4 CPU-s of the Performance page's
#: concept drift at 100 M rows). Keyed by the store, its data version (an ingest, a retention or a new
#: reference changes it), the version, the edges, the period and the columns' bins.
_EDGE_COUNTS: Memo[KeptCounts] = Memo(16)


def _edge_counts(con: duckdb.DuckDBPyConnection, sides: StoreSides, edges: list[tuple[datetime, datetime]],
                 batch: tuple[BinSpec, ...], categorical: tuple[tuple[str, bool], ...]) -> KeptCounts:
    """The counts of the current side's rows in the partial days at a window's edges (:func:`_edge_rows`): the
    fine histograms of ``batch`` and the category counts of ``categorical``, from the log, kept per process."""
    key = (str(store_path(con)), data_version(con), sides.info.name, sides.version, tuple(edges),
           sides.current.period, batch, categorical)

    def count() -> KeptCounts:
        counts = LogCounts(con, _edge_rows(con, sides, edges), batch)
        return KeptCounts(counts.rows(), {spec: counts.numeric(spec.column, spec.lo, spec.hi) for spec in batch},
                          {(column, numeric): counts.categories(column, numeric) for column, numeric in categorical})

    return _EDGE_COUNTS.get(key, count)


def _edge_rows(con: duckdb.DuckDBPyConnection, sides: StoreSides, edges: list[tuple[datetime, datetime]]) -> Side:
    """The current side's rows in the partial days at a window's edges (at most two partial days of one
    version), copied into a temp table with the compared columns, as a side grouped like the current one."""
    view = predictions_view(sides.info.stem)
    rows = [Window(a, b, sides.version).where(sides.info.schema, alias=view) for a, b in edges]
    columns = ", ".join(quote(c) for c in dict.fromkeys(["predicted_at", *(c for c, _, _ in sides.columns)]))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_EDGES} AS SELECT {columns} FROM {view} WHERE "
                + " OR ".join(f"({r.sql})" for r in rows), [p for r in rows for p in r.params])
    return Side(_EDGES, period=sides.current.period)


def store_drift(con: duckdb.DuckDBPyConnection, sides: StoreSides, config: DriftConfig, *, histograms: bool,
                rollups: bool = False, window: Window = Window(), period: str | None = None) -> StoreDrift:
    """Run a store comparison (reads only).

    With ``rollups``, the whole UTC days of ``window`` (the time span of ``sides.current``) that the
    daily rollups summarise are read from them; the partial days at its edges, and the days not
    summarised yet, from the log (and named in :attr:`StoreDrift.unsummarised_days`); else the whole
    window is read from the log.
    """
    current: Counts = LogCounts(con, sides.current)
    days, edges = split_interval(window.start, window.end, unit="day")
    unsummarised: tuple[date, ...] = ()
    named: tuple[date, ...] = ()  # the whole days among them (not today, which a window reaching now holds in part)
    if rollups and days is not None:
        everything = _columns(sides.info, None)
        profiles = reference_profiles(con, sides.reference, everything, sides.cache_key)
        cover = summaries.coverage(con, DRIFT_ROLLUPS.name, sides.info.name, scope=sides.version,
                                   key=_rollup.bins_key(profiles), start=days[0].date() if days[0] else None,
                                   end=days[1].date() if days[1] else None)
        unsummarised, named = cover.unsummarised, cover.unsummarised_before_today
        if cover.summarised:
            whole = _rollup.RollupCounts(con, sides.info.name, sides.version, *days, period,
                                         tuple(c for c, _, _ in sides.columns), days=tuple(cover.summarised))
            # the partial days at the edges copied once (every column's aggregate then reads them, not the log's
            # row groups again); one side per run of days not summarised: a time range each, which DuckDB
            # prunes to the segments' row groups that hold it
            log_sides = [_log_side(sides.info, Window(a, b, sides.version), sides.current.period)
                         for a, b in _day_runs(unsummarised)]
            batch = tuple(BinSpec(c, profiles[c].lo, profiles[c].hi) for c, _, _ in sides.columns
                          if profiles[c].kind != CATEGORICAL)
            categorical = tuple((c, numeric) for c, numeric, _ in sides.columns if profiles[c].kind == CATEGORICAL)
            edge = (_edge_counts(con, sides, edges, batch, categorical),) if edges else ()
            current = MixedCounts((whole, *edge, *(LogCounts(con, side, batch) for side in log_sides)))
    try:
        done = compute(con, sides.columns, config, sides.reference, current, cache_key=sides.cache_key,
                       histograms=histograms)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_EDGES}")
    n_ref = binning.row_counts(con, sides.reference).get(WHOLE_WINDOW, 0)
    return StoreDrift(done.rows, done.histograms, n_ref, done.n_current, named)


def drift_summary(db: DbLike, model: str, *, window: Window, baseline: Window | None = None,
                  columns: tuple[str, ...] | None = None, method: str = "auto",
                  use_rollups: bool = True) -> DriftResult:
    """Drift of every declared column and the score in ``window`` against the reference.

    Parameters
    ----------
    db : path or connection
        The store.
    model : str
        A registered model.
    window : Window
        The rows compared (:class:`analytics.window.Window`): ``[start, end)``, the version whose rows
        and reference are compared (default the champion), and optionally one segment's rows.
    baseline : Window, optional
        Compare against these rows of the log instead of the version's reference data: ``window``'s
        version and segment over another span (:func:`checked_baseline`), e.g. ``window.previous(now)``.
    columns : tuple of str, optional
        Only these columns (default: every declared column and ``score``).
    method : str, default "auto"
        A method key for every column, or ``auto`` (per-column overrides from the settings still apply).
    use_rollups : bool, default True
        Read whole days from the daily rollups where they can answer (False: everything from the log).

    Returns
    -------
    DriftResult
        One row per column; ``tolerance`` bounds the distance of a binned statistic (KS, Wasserstein)
        to its exact value.

    Notes
    -----
    A comparison with the reference data, without a segment filter, reads the window's whole UTC
    days from the daily rollups where they are fresh and the partial days at its edges, and the days
    not summarised yet (:attr:`DriftResult.unsummarised_days`), from the log; any other comparison is
    computed from the log. Both give the same numbers. Nothing is written (the rollups are refreshed
    after an ingest and by ``vigil refresh``, :func:`refresh_rollups`).
    """
    result = store_comparison(db, model, window=window, baseline=baseline, columns=columns, method=method,
                              use_rollups=use_rollups)
    return replace(result, rows=()) if result.n_current_rows == 0 else result


def store_comparison(db: DbLike, model: str, *, window: Window, baseline: Window | None,
                     columns: tuple[str, ...] | None, method: str, use_rollups: bool, period: str | None = None
                     ) -> DriftResult:
    """What :func:`drift_summary` (``period`` None) and drift over time (``"day"``, ``"week"``) run, in one read
    of the store: whole days from the rollups where they are fresh, the rest from the log (histograms for a
    whole window only). ``baseline``: an earlier time span compared with instead of the reference data
    (``window``'s version and segment apply to it; :func:`checked_baseline` checks it here, for both callers)."""
    baseline = checked_baseline(window, baseline)
    rollups = use_rollups and _use_rollups(baseline, window)

    def work(con: duckdb.DuckDBPyConnection) -> DriftResult:
        config = config_for_model(con, model, method)
        sides = store_sides(con, model, window=window, baseline=baseline, columns=list(columns) if columns else None,
                            period=period)
        done = store_drift(con, sides, config, histograms=period is None, rollups=rollups, window=window,
                           period=period)
        return DriftResult(done.rows, done.histograms, sides.reference_label, sides.current_label, done.n_reference,
                           done.n_current, sides.left_out, done.unsummarised_days)

    return run(db, work)
