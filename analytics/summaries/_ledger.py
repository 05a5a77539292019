"""The ledger of the summaries: which log segments each stored day was built from, and which days are stale.

The prediction log is a set of immutable Parquet segments (``log_segments``). A UTC day's summary
rows are valid for as long as the set of segments whose time range overlaps the day is the one they
were built from (recorded in ``summary_ledger.segments``), the summary's key is the same (its
definition: a binning, a value matrix), and, for a summary of outcomes, no outcome ingest committed
after ``summary_ledger.outcomes_through`` labels a prediction of the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb

from analytics.store import outcome_table, predictions_view
from analytics.window import SqlFilter

#: Per UTC day of a model's log (parameter: the model), the segments overlapping it, as ``ingest:part,...``.
DAY_SEGMENTS = """
    SELECT CAST(d.day AS DATE) AS day,
           string_agg(CAST(s.ingest_id AS VARCHAR) || ':' || CAST(s.part AS VARCHAR), ',' ORDER BY s.ingest_id, s.part)
               AS segments
    FROM log_segments s,
         LATERAL (SELECT unnest(generate_series(date_trunc('day', s.min_predicted_at),
                                                date_trunc('day', s.max_predicted_at), INTERVAL 1 DAY)) AS day) d
    WHERE s.model_name = ? AND s.rows > 0 AND s.min_predicted_at IS NOT NULL
    GROUP BY ALL
"""


#: Per UTC day of a model's log (parameter: the model), about how many rows it holds: each segment's rows
#: spread evenly over the days its time range touches.
DAY_ROWS = """
    SELECT CAST(d.day AS DATE) AS day, sum(s.rows / d.span) AS rows
    FROM log_segments s,
         LATERAL (SELECT unnest(generate_series(date_trunc('day', s.min_predicted_at),
                                                date_trunc('day', s.max_predicted_at), INTERVAL 1 DAY)) AS day,
                         date_diff('day', date_trunc('day', s.min_predicted_at),
                                   date_trunc('day', s.max_predicted_at)) + 1 AS span) d
    WHERE s.model_name = ? AND s.rows > 0 AND s.min_predicted_at IS NOT NULL
    GROUP BY ALL
"""


def day_rows(con: duckdb.DuckDBPyConnection, model: str) -> dict[date, float]:
    """About how many rows of the model's log each UTC day holds (:data:`DAY_ROWS`; a day not named holds none)."""
    return dict(con.execute(DAY_ROWS, [model]).fetchall())


def has_segments(con: duckdb.DuckDBPyConnection, model: str) -> bool:
    """Whether the model's log is kept in segments (only then are summaries kept)."""
    return bool(con.execute("SELECT count(*) FROM log_segments WHERE model_name = ?", [model]).fetchone()[0])


def outcomes_through(con: duckdb.DuckDBPyConnection, model: str) -> int:
    """The model's last committed outcome ingest (0 when none)."""
    return int(con.execute("SELECT coalesce(max(ingest_id), 0) FROM ingests WHERE model_name = ? "
                           "AND kind = 'outcomes' AND status = 'committed'", [model]).fetchone()[0])


def segment_changes(con: duckdb.DuckDBPyConnection, summary: str, model: str, scope: str,
                    key: str) -> tuple[list[date], list[date]]:
    """Days whose segments or key changed (or that are new), and ledger days no segment covers any more."""
    rows = con.execute(
        f"""
        WITH now_ AS ({DAY_SEGMENTS}),
             kept AS (SELECT day, segments, key FROM summary_ledger WHERE summary = ? AND model_name = ? AND scope = ?)
        SELECT coalesce(now_.day, kept.day) AS day, now_.day IS NULL AS orphan
        FROM now_ FULL OUTER JOIN kept ON now_.day = kept.day
        WHERE now_.segments IS DISTINCT FROM kept.segments OR kept.key IS DISTINCT FROM ?
        ORDER BY 1
        """, [model, summary, model, scope, key]).fetchall()
    return [r[0] for r in rows if not r[1]], [r[0] for r in rows if r[1]]


@dataclass(frozen=True)
class LedgerDay:
    """One stored day of a summary as the ledger records it: the segments and key its rows were built from, and when.

    Two equal records stand for the same rows: a day's rows are rebuilt (with a new ``built_at``) whenever its
    segments or key change, so a reader keeping sums of stored days in memory keys them on these.
    """

    day: date
    segments: str
    key: str
    built_at: datetime


def ledger_days(con: duckdb.DuckDBPyConnection, summary: str, model: str, *, scope: str = "", start: date,
                end: date) -> tuple[LedgerDay, ...]:
    """The ledger's records of a summary's stored days in ``[start, end)`` (UTC dates), by day.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open connection (reads only).
    summary : str
        The summary's name (``drift``, ``serving``...).
    model : str
        The model.
    scope : str
        The scope (a version, or ``""``).
    start, end : date
        The first day and the day after the last.

    Returns
    -------
    tuple of LedgerDay
        One per stored day of the span (days never summarised are absent), sorted by day.
    """
    rows = con.execute("SELECT day, segments, key, built_at FROM summary_ledger WHERE summary = ? AND model_name = ? "
                       "AND scope = ? AND day >= ? AND day < ? ORDER BY day", [summary, model, scope, start, end]
                       ).fetchall()
    return tuple(LedgerDay(*row) for row in rows)


def labelled_days(con: duckdb.DuckDBPyConnection, model: str, after: int) -> set[date]:
    """UTC days of the predictions labelled by the model's outcome ingests committed after ingest ``after``."""
    stem = con.execute("SELECT table_stem FROM models WHERE model_name = ?", [model]).fetchone()[0]
    rows = con.execute(
        f"""
        SELECT DISTINCT CAST(p.predicted_at AS DATE) FROM {predictions_view(stem)} p
        WHERE p.prediction_id IN (
            SELECT o.prediction_id FROM {outcome_table(stem)} o
            WHERE o.ingest_id > ? AND o.ingest_id IN (
                SELECT ingest_id FROM ingests WHERE model_name = ? AND kind = 'outcomes' AND status = 'committed'))
        """, [after, model]).fetchall()
    return {r[0] for r in rows}


def unsummarised_note(days: tuple[date, ...]) -> str:
    """A sentence for a reader when whole days of its window were read from the log (empty when none were).

    Parameters
    ----------
    days : tuple of date
        The window's whole UTC days read from the log because no fresh summary held them, in order.

    Returns
    -------
    str
        How many days, their span, and that the next refresh summarises them; ``""`` for no day.
    """
    if not days:
        return ""
    span = f"{days[0]:%Y-%m-%d}" + (f" to {days[-1]:%Y-%m-%d}" if len(days) > 1 else "")
    return (f"{len(days)} day(s) of this window ({span}, UTC) are not summarised yet and were read from the log: "
            "the same numbers, slower. The next ingest or `vigil refresh` summarises them.")


def days_filter(days: list[date], alias: str = "p") -> SqlFilter:
    """The condition on the log (aliased ``alias``) for the rows of ``days``.

    Parameters
    ----------
    days : list of date
        UTC days, at least one.
    alias : str
        The alias of the prediction view in the query.

    Returns
    -------
    SqlFilter
        Time bounds first, for row-group pruning on the segments (its first parameter is the first
        day's midnight), then the exact list of days when they are not one unbroken run.
    """
    low = datetime.combine(min(days), datetime.min.time())
    high = datetime.combine(max(days), datetime.min.time()) + timedelta(days=1)
    sql, params = f"{alias}.predicted_at >= ? AND {alias}.predicted_at < ?", [low, high]
    if len(set(days)) != (high - low).days:
        sql += f" AND CAST({alias}.predicted_at AS DATE) IN (SELECT unnest(CAST(? AS DATE[])))"
        params.append(list(days))
    return SqlFilter(sql, params)
