"""Score cells: the prediction log joined with its outcomes, counted per UTC day on fine score bins.

A *cell* is one combination of (UTC day, version, segment value, label, decision, score bin) with its
rows ``n`` and three sums: of the scores (``score_sum``), of the squared errors ``(score - label)^2``
(``sq_error_sum``) and of the log losses ``-(y ln(s) + (1 - y) ln(1 - s))`` with ``s`` clipped to
``[eps, 1 - eps]`` (``log_loss_sum``); ``label`` is NULL for a prediction whose outcome has not
arrived. ``decision`` is ``score >= threshold`` of the row's version (fixed when the version is
registered). Cells are kept once for all rows (``segment = ''``) and once per declared segment column
(``segment`` its name, ``segment_value`` the value as text).

**Score bins.** Equal-width bins on [0, 1], upper edge included as
:func:`sklearn.calibration.calibration_curve` assigns them: of ``B`` bins, bin ``j`` holds the scores in
``(e_j, e_{j+1}]`` (bin 0 from 0), where ``e_j`` is the double nearest to ``j / B``. The cells of all
rows have :data:`BINS` bins, those of a segment value :data:`SEGMENT_BINS` (a segment value has fewer
rows, and the kept cells stay a small fraction of the log: at 10 M rows with two segment columns of 3
and 5 values, about 1.4 M cells). Both grids share their edges (``j / 200 = 10 j / 2000``), so a
calibration curve of ``n_bins`` dividing the grid is a sum of whole bins.

Every realised metric except ROC AUC is a sum over cells and equals scikit-learn's on the same rows
(confusion counts exactly, Brier score and log loss up to the order of summation). ROC AUC is read
off the histogram, a positive and a negative in the same bin counting one half as a tie does; it
differs from the exact value by at most half the share of positive-negative pairs that share a bin
(:class:`HistogramAuc`, returned as ``roc_auc_bound``): about ``w / 2`` times the mean density of the
scores of one class at those of the other, for bins of width ``w`` (``5e-4`` for scores spread over
[0, 1] on 2,000 bins; more where the scores crowd together).

The cells of whole UTC days are kept in ``performance_cells``, a summary declared to the summaries
engine (:data:`PERFORMANCE_CELLS`, outcomes arrive late); a reader takes the fresh days from it and
the partial days at a window's edges, and the days not summarised yet, from the log with the same
SQL (:func:`window_cells`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb
import numpy as np

from analytics import summaries
from analytics.logschema import LogSchema, quote
from analytics.registry import ModelInfo, get_model
from analytics.store import outcomes_view, predictions_view
from analytics.window import SqlFilter, Window, split_interval

#: Equal-width score bins on [0, 1] of the kept cells of all rows.
BINS = 2_000
#: Equal-width score bins on [0, 1] of the kept cells of one segment value (a divisor of :data:`BINS`).
SEGMENT_BINS = 200
EPS = float(np.finfo(np.float64).eps)
#: Columns of a cell, after its keys (model, day, version, segment, segment value).
CELL_COLUMNS = ("label", "decision", "bin", "n", "score_sum", "sq_error_sum", "log_loss_sum")
TABLE = "performance_cells"


def bin_sql(score: str, bins: int = BINS) -> str:
    """SQL of a score's bin: the number of inner edges ``e_j = j / bins`` (nearest doubles) below it.

    ``ceil(score * bins) - 1`` is that number up to rounding; one step each way is checked against the
    edges themselves, so a score equal to an edge falls in the bin below it, as in scikit-learn.
    """
    b = int(bins)
    clamped = f"least(greatest({score}, 0.0), 1.0)"
    guess = f"(CAST(ceil({clamped} * {b}) AS BIGINT) - 1)"
    return (f"least({b - 1}, greatest(0, {guess} - ({score} <= CAST({guess} AS DOUBLE) / {b})::INTEGER "
            f"+ ({score} > CAST({guess} + 1 AS DOUBLE) / {b})::INTEGER))")


def _segment_sets(segments: tuple[str, ...]) -> tuple[str, str, str, str]:
    """Grouping sets for all rows (``bin``) and per segment column (``sbin``), and the SQL of a cell's
    segment, its value and its bin."""
    keys = "day, version, label, decision"
    sets = [f"({keys}, bin)"] + [f"({keys}, sbin, seg{i})" for i in range(len(segments))]
    if not segments:
        return ", ".join(sets), "''", "''", "bin"
    name = "CASE " + " ".join(f"WHEN grouping(seg{i}) = 0 THEN '{s}'" for i, s in enumerate(segments)) + " ELSE '' END"
    value = "CASE " + " ".join(f"WHEN grouping(seg{i}) = 0 THEN seg{i}" for i in range(len(segments))) + " ELSE '' END"
    return ", ".join(sets), name, value, "CASE WHEN grouping(bin) = 0 THEN bin ELSE sbin END"


def log_cells_sql(info: ModelInfo, model_where: str, segments: tuple[str, ...], *, bins: int = BINS,
                  segment_bins: int = SEGMENT_BINS, observed_from: bool = False) -> str:
    """The cells of the log rows matching ``model_where`` (on the prediction view ``p``).

    Parameters, in order: those of ``model_where``; the model (for its versions' thresholds); with
    ``observed_from``, the earliest time an outcome can have been observed (an outcome is never observed
    before its prediction, so older ones cannot match). ``segments`` adds the cells per value of those
    segment columns, on ``segment_bins`` bins (a divisor of ``bins``).

    The outcomes joined are also those whose prediction id lies between the least and the greatest id
    of the rows: the same matches, and the outcome table's row groups outside that range are skipped
    (a few hours of predictions no longer probe every outcome since the window's start).
    """
    cols = "".join(f", CAST(p.{quote(s)} AS VARCHAR) AS seg{i}" for i, s in enumerate(segments))
    sets, name, value, bin_ = _segment_sets(segments)
    observed = "observed_at >= ? AND " if observed_from else ""
    clipped = f"greatest(least(score, {1 - EPS!r}), {EPS!r})"
    return f"""
        WITH p AS MATERIALIZED (
            SELECT p.prediction_id, CAST(p.predicted_at AS DATE) AS day, p.model_version AS version,
                   p.score{cols}
            FROM {predictions_view(info.stem)} p WHERE {model_where}),
        cells AS (
            SELECT p.*, CAST(o.label AS TINYINT) AS label, CAST(p.score >= v.threshold AS TINYINT) AS decision,
                   {bin_sql('p.score', bins)} AS bin
            FROM p
            JOIN (SELECT version, threshold FROM model_versions WHERE model_name = ?) v ON v.version = p.version
            LEFT JOIN (SELECT prediction_id, label FROM {outcomes_view(info.stem)}
                       WHERE {observed}prediction_id BETWEEN (SELECT min(prediction_id) FROM p)
                                                         AND (SELECT max(prediction_id) FROM p)) o
                   ON o.prediction_id = p.prediction_id)
        SELECT day, version, {name} AS segment, {value} AS segment_value, label, decision, {bin_} AS bin,
               count(*) AS n, sum(score) AS score_sum, sum((score - label) ^ 2) AS sq_error_sum,
               -sum(label * ln({clipped}) + (1 - label) * ln(1 - {clipped})) AS log_loss_sum
        FROM (SELECT *, bin // {int(bins) // int(segment_bins)} AS sbin FROM cells)
        GROUP BY GROUPING SETS ({sets})"""


def auc_sql(source: str, keys: str = "") -> str:
    """Per ``keys`` (comma-separated columns) of the cells in ``source`` (columns ``label``, ``bin``, ``n``):
    ``positives``, ``negatives``, ``auc_pairs`` (positive-negative pairs ranked right, pairs in one bin
    counted one half) and ``tied_pairs`` (pairs in one bin); see :class:`HistogramAuc`."""
    k = f"{keys}, " if keys else ""
    over = f"PARTITION BY {keys} " if keys else ""
    return f"""
        SELECT {k}sum(pos) AS positives, sum(neg) AS negatives, sum(pos * (neg_below + neg / 2.0)) AS auc_pairs,
               sum(pos * neg) AS tied_pairs
        FROM (SELECT {k}pos, neg,
                     coalesce(sum(neg) OVER ({over}ORDER BY bin ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                         AS neg_below
              FROM (SELECT {k}bin, coalesce(sum(n) FILTER (WHERE label = 1), 0)::DOUBLE AS pos,
                           coalesce(sum(n) FILTER (WHERE label = 0), 0)::DOUBLE AS neg
                    FROM {source} WHERE label IS NOT NULL GROUP BY ALL))
        {"GROUP BY " + keys if keys else ""}"""


@dataclass(frozen=True)
class HistogramAuc:
    """ROC AUC read off score histograms, and the most it can differ from the exact value on the same rows.

    ``auc = auc_pairs / (P N)``: each positive-negative pair ranked right counts 1, a pair in one bin
    counts one half (as a tie does in :func:`sklearn.metrics.roc_auc_score`). The exact AUC orders the
    pairs inside a bin too, so it lies within ``bound = tied_pairs / (2 P N)`` of it. NaN without both
    classes. Scalars or arrays, elementwise.
    """

    auc: Any
    bound: Any

    @classmethod
    def of(cls, positives: Any, negatives: Any, auc_pairs: Any, tied_pairs: Any) -> HistogramAuc:
        """From the sums of :func:`auc_sql` (NULL sums, as of no labelled row, count as 0)."""
        pairs = np.nan_to_num(np.asarray(positives, float)) * np.nan_to_num(np.asarray(negatives, float))
        with np.errstate(divide="ignore", invalid="ignore"):
            pairs = np.where(pairs > 0, pairs, np.nan)
            return cls(np.asarray(auc_pairs, float) / pairs, np.asarray(tied_pairs, float) / (2 * pairs))


def cell_segments(schema: LogSchema) -> tuple[str, ...]:
    """The segment columns whose values the kept cells are counted per, in the schema's order.

    Parameters
    ----------
    schema : LogSchema
        The model's log schema.

    Returns
    -------
    tuple of str
        Its segment columns' names.
    """
    return tuple(c.name for c in schema.segments)


def _key(con: duckdb.DuckDBPyConnection, model: str, scope: str) -> str | None:
    """What the kept cells depend on besides the log: the bins and the segment columns."""
    row = con.execute("SELECT log_schema FROM models WHERE model_name = ?", [model]).fetchone()
    if row is None:
        return None
    spec = {"bins": [BINS, SEGMENT_BINS], "segments": list(cell_segments(LogSchema.from_json(row[0]))), "cells": 1}
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]


def _build(con: duckdb.DuckDBPyConnection, model: str, scope: str, days: list[date]) -> None:
    """Insert the cells of ``days`` computed from the log (the engine dropped the old ones)."""
    info = get_model(con, model)
    on_days = summaries.days_filter(days)
    con.execute(f"INSERT INTO {TABLE} (model_name, day, version, segment, segment_value, {', '.join(CELL_COLUMNS)}) "
                f"SELECT ?, * FROM ({log_cells_sql(info, on_days.sql, cell_segments(info.schema), observed_from=True)})",
                [model, *on_days.params, model, on_days.params[0]])


#: The cells kept per UTC day in the store, declared to the summaries engine (outcomes arrive late).
PERFORMANCE_CELLS = summaries.register(summaries.Declaration(
    name="performance", tables=(summaries.SummaryTable(TABLE),), build=_build, key=_key, outcomes=True))


@dataclass(frozen=True)
class WindowCells:
    """A window's cells as one SQL relation, and which of its whole days were read from the log.

    Attributes
    ----------
    sql : str
        A query of the cells (``day``, ``version``, ``segment_value`` and :data:`CELL_COLUMNS`, for the
        cells of the segment asked for), with one ``?`` per entry of ``params``.
    params : list
        Its parameters.
    bins : int
        The score bins of its ``bin`` column.
    unsummarised_days : tuple of date
        Whole UTC days of the window read from the log because the summary did not hold them (fresh)
        yet; the partial days at the window's edges are always read from the log, and are not named
        (nor is today, the partial day at the end of a window that reaches now).
    """

    sql: str
    params: list = field(default_factory=list)
    bins: int = BINS
    unsummarised_days: tuple[date, ...] = ()


def kept_bins(segment: str | None) -> int:
    """The score bins kept for all rows (no ``segment``) or for the values of a segment column."""
    return SEGMENT_BINS if segment else BINS


def _pick(segment: str, value: str | None) -> tuple[str, list]:
    sql, params = "segment = ?", [segment]
    if value is not None:
        sql += " AND segment_value = ?"
        params.append(value)
    return sql, params


@dataclass(frozen=True)
class _Sources:
    """Where the rows of a window are read: the kept cells of ``summarised`` days, and the log for ``log``.

    ``log`` holds each part read from the log: a window (the partial day at an edge, or the span from the
    first unsummarised day on) and, for the unsummarised days, the filter to those days. ``unsummarised``
    names the whole days among them (:attr:`analytics.summaries.Coverage.unsummarised_before_today`: today,
    the partial day at the end of a window that reaches now, is read with them but is not a whole day).
    """

    summarised: tuple[date, ...]
    log: tuple[tuple[Window, SqlFilter], ...]
    unsummarised: tuple[date, ...] = ()


def _sources(con: duckdb.DuckDBPyConnection, info: ModelInfo, window: Window, *, usable: bool = True) -> _Sources:
    """The kept days and log parts of ``window`` (the log alone unless the kept cells are ``usable``)."""
    days, edges = split_interval(window.start, window.end, unit="day")
    if not usable or days is None or not summaries.has_segments(con, info.name):
        return _Sources((), ((window, SqlFilter("TRUE")),))
    first, stop = (d.date() if d is not None else None for d in days)
    cover = summaries.coverage(con, PERFORMANCE_CELLS.name, info.name, start=first, end=stop)
    log = [(window.between(a, b), SqlFilter("TRUE")) for a, b in edges]
    if cover.unsummarised:
        low = datetime.combine(min(cover.unsummarised), datetime.min.time())
        log.append((window.between(low, None), summaries.days_filter(list(cover.unsummarised))))
    if not cover.summarised and not log:
        log.append((window, SqlFilter("TRUE")))
    return _Sources(tuple(sorted(cover.summarised)), tuple(log), cover.unsummarised_before_today)


def _kept_sql(info: ModelInfo, window: Window, days: tuple[date, ...], columns: str, segment: str,
              value: str | None) -> tuple[str, list]:
    """``SELECT columns`` of the kept cells of ``days`` of ``window``'s version (all when it names none),
    of ``segment`` (``''``: all rows) and, given, its ``value``."""
    pick, pick_params = _pick(segment, value)
    version = " AND version = ?" if window.version else ""
    return (f"SELECT {columns} FROM {TABLE} WHERE model_name = ? AND list_contains(?, day) AND {pick}{version}",
            [info.name, list(days), *pick_params, *([window.version] if window.version else [])])


def _log_filter(info: ModelInfo, part: Window, days: SqlFilter) -> SqlFilter:
    """The condition on the prediction view ``p`` for the rows of a log part (:class:`_Sources`)."""
    where = part.where(info.schema)
    return SqlFilter(f"{where.sql} AND {days.sql}", [*where.params, *days.params])


def window_cells(con: duckdb.DuckDBPyConnection, info: ModelInfo, window: Window, *, by: str | None = None,
                 bins: int | None = None) -> WindowCells:
    """The cells of the rows of ``window`` (one version, or every version when it names none).

    Parameters
    ----------
    con, info
        An open store and the model.
    window : Window
        The rows: its time span, version and segment value.
    by : str, optional
        A segment column: the cells per value of it (``segment_value``); default all rows (``''``).
    bins : int, optional
        Score bins; default those kept (:data:`BINS` for all rows, :data:`SEGMENT_BINS` with a
        segment); any other number is counted from the log.

    Returns
    -------
    WindowCells
        Whole UTC days of the window whose kept cells are fresh come from ``performance_cells``; the
        partial days at its edges and the other days from the log (and are named). A segment filter
        with ``by`` another segment column, or other ``bins``, is read from the log alone.
    """
    segment = by or window.segment or ""
    kept = kept_bins(segment)
    bins = bins or kept
    value = window.segment_value if window.segment and segment == window.segment else None

    def from_log(part: Window, days: SqlFilter) -> tuple[str, list]:
        rows = _log_filter(info, part, days)
        sql = log_cells_sql(info, rows.sql, (by,) if by else (), bins=bins, segment_bins=bins,
                            observed_from=part.start is not None)
        params = [*rows.params, info.name, *([part.start] if part.start is not None else [])]
        return (f"SELECT day, version, segment_value, {', '.join(CELL_COLUMNS)} FROM ({sql}) "
                f"WHERE segment = ?", [*params, by or ""])

    usable = bins == kept and (window.segment is None or by is None or by == window.segment)
    sources = _sources(con, info, window, usable=usable)
    parts: list[tuple[str, list]] = []
    if sources.summarised:
        parts.append(_kept_sql(info, window, sources.summarised,
                               f"day, version, segment_value, {', '.join(CELL_COLUMNS)}", segment, value))
    parts.extend(from_log(part, days) for part, days in sources.log)
    sql = " UNION ALL ".join(f"({p})" for p, _ in parts)
    return WindowCells(sql, [v for _, params in parts for v in params], bins, sources.unsummarised)


def window_count(con: duckdb.DuckDBPyConnection, info: ModelInfo, window: Window) -> int:
    """The number of predictions of ``window`` (its time span, version and segment value).

    The same rows as :func:`window_cells`, counted without reading their cells from the log: the sum
    of the kept cells' ``n`` for the whole UTC days they hold fresh, and a plain count of the log's
    rows (no score bins, no outcomes joined) for the partial days at the window's edges and the days
    not summarised yet, in one query.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open store.
    info : ModelInfo
        The model.
    window : Window
        The rows counted.

    Returns
    -------
    int
        The count (0 when the window holds no prediction).
    """
    sources = _sources(con, info, window)
    parts: list[tuple[str, list]] = []
    if sources.summarised:
        parts.append(_kept_sql(info, window, sources.summarised, "sum(n) AS n", window.segment or "",
                               window.segment_value if window.segment else None))
    for part, days in sources.log:
        rows = _log_filter(info, part, days)
        parts.append((f"SELECT count(*) AS n FROM {predictions_view(info.stem)} p WHERE {rows.sql}", rows.params))
    sql = "SELECT coalesce(sum(n), 0) FROM (" + " UNION ALL ".join(f"({p})" for p, _ in parts) + ")"
    return int(con.execute(sql, [v for _, params in parts for v in params]).fetchone()[0])
