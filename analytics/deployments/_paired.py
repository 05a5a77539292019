"""What a paired (shadow) comparison needs, read from per-day summaries kept in the store or from the log.

A shadow comparison joins the rows of two versions that carry the same ``request_id`` (the same
request scored by both). Its measures need only a few additive summaries of those pairs
(:class:`PairedSummary`):

- the cells ``(label, decision of the baseline, decision of the candidate) -> pairs``: agreement,
  McNemar, the F1 bootstrap;
- 1,000 fine score bins per side: KS and PSI of the two score distributions;
- the value of each labelled pair under the KPI definition's value matrix as counts of
  ``(value_a, value_b)``: the mean difference, its variance and its bootstrap;
- for DeLong's test, the labelled pairs of lowest ``hash(request_id)`` (at most :data:`DELONG_SAMPLE`).

Joining a 10 M-row log with its 2.5 M shadow rows takes seconds, so the summaries are kept in the
store per pair of UTC days ``(day of the baseline's row, day of the candidate's row)`` for each
champion and shadow that served together (:func:`summarised_pairs`). A window is the sum of its
whole summarised days; pairs with a row outside them (the partial days at the window's edges, days
not summarised yet) are joined from the log; the lowest hashes of a union are the lowest of the
lowest of each part, so the DeLong sample is the one the log gives. Both paths build the same
summary, and every measure is computed from it by the same code: the figures are equal.

Bookkeeping, as for the KPI rollups (:mod:`analytics.business._kpi_store`): ``paired_summary_days``
records per pair of versions and day the log segments covering the day, the KPI definition and the
last outcome ingest it saw. A day whose segments or definition changed, or whose baseline rows were
labelled by a later outcome ingest, is rebuilt by :func:`refresh` (an ingest's refresh, the demo
build, ``vigil deployments refresh``); readers only read, and use the log for any day not current.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import duckdb
import pandas as pd

from analytics import settings, store, summaries
from analytics.business import KpiDefinition, get_definition, has_definition
from analytics.summaries import DAY_SEGMENTS as _DAY_SEGMENTS
from analytics.logschema import quote
from analytics.registry import ModelInfo, get_model
from analytics.store import outcome_table, outcomes_view, predictions_view
from analytics.window import SqlFilter, time_bounds

#: Pairs sampled (the lowest ``hash(request_id)`` of the labelled pairs) for DeLong's test.
DELONG_SAMPLE = 200_000
#: Fine score bins for PSI and KS.
SCORE_BINS = 1_000
#: Changes whenever the stored rows change meaning (then every day is rebuilt).
FORMAT = f"paired-1-{SCORE_BINS}-{DELONG_SAMPLE}"
_PAIRS = "_vigil_pairs"
_KEY = "model_name = ? AND baseline = ? AND candidate = ?"
_TABLES = ("paired_cells", "paired_scores", "paired_values", "paired_sample")


@dataclass(frozen=True)
class PairedSummary:
    """The summaries of the pairs of a window.

    Attributes
    ----------
    cells : tuple of (label or None, baseline decision, candidate decision, pairs)
        Sorted, unlabelled pairs first.
    scores : DataFrame
        ``side`` (0 baseline, 1 candidate), ``bin`` (``floor(score * SCORE_BINS)``), ``n``.
    values : DataFrame
        ``value_a``, ``value_b`` (value of the baseline's and the candidate's decision), ``n``;
        labelled pairs with a value only, sorted.
    sample : DataFrame
        ``h``, ``label``, ``score_a``, ``score_b`` of the labelled pairs of lowest hash, lowest first.
    stored_days : int
        Whole UTC days read from the stored summaries (0: everything from the log).
    """

    cells: tuple[tuple, ...]
    scores: pd.DataFrame
    values: pd.DataFrame
    sample: pd.DataFrame
    stored_days: int = 0

    @property
    def pairs(self) -> int:
        """Pairs in the window."""
        return int(sum(c[3] for c in self.cells))


# --------------------------------------------------------------------------------------------------
# the value of a decision (shared with the unpaired design)


def value_sql(d: KpiDefinition, decision: str, label: str, amount: str) -> str:
    """The value of one decision under the definition's value matrix (NULL without a label)."""
    sel = f"{decision} = {int(d.selected_decision)}"
    bad = f"{label} = {int(d.bad_label)}"
    return (f"CAST(CASE WHEN {label} IS NULL THEN NULL WHEN {sel} AND {bad} THEN {float(d.value_selected_bad)!r} "
            f"WHEN {sel} THEN {float(d.value_selected_good)!r} WHEN {bad} THEN {float(d.value_rejected_bad)!r} "
            f"ELSE {float(d.value_rejected_good)!r} END AS DOUBLE) * {amount}")


def amount_sql(d: KpiDefinition | None, alias: str) -> str:
    """The amount a value is a share of (the definition's amount column, else 1)."""
    return f"CAST({alias}.{quote(d.amount_column)} AS DOUBLE)" if d and d.amount_column else "1.0"


# --------------------------------------------------------------------------------------------------
# time ranges


#: A time range ``[lo, hi)`` of ``predicted_at`` (None: unbounded).
Span = tuple[datetime | None, datetime | None]
_ALL: Span = (None, None)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _runs(days: list[date]) -> list[tuple[datetime, datetime]]:
    """Consecutive days as time ranges."""
    out: list[list[datetime]] = []
    for day in sorted(days):
        if out and out[-1][1] == _midnight(day):
            out[-1][1] = _midnight(day) + timedelta(days=1)
        else:
            out.append([_midnight(day), _midnight(day) + timedelta(days=1)])
    return [(lo, hi) for lo, hi in out]


def _outside(start: datetime | None, end: datetime | None, runs: list[tuple[datetime, datetime]]) -> list[Span]:
    """``[start, end)`` without the given (sorted, disjoint, inside) runs."""
    spans, cursor = [], start
    for lo, hi in runs:
        if cursor is None or cursor < lo:
            spans.append((cursor, lo))
        cursor = hi
    if end is None or cursor is None or cursor < end:
        spans.append((cursor, end))
    return spans


def _length(span: Span) -> timedelta:
    """How long a span is (unbounded: the longest)."""
    return timedelta.max if span[0] is None or span[1] is None else span[1] - span[0]


def _overlaps(span: Span, day: date) -> bool:
    lo, hi = _midnight(day), _midnight(day) + timedelta(days=1)
    return (span[0] is None or span[0] < hi) and (span[1] is None or span[1] > lo)


# --------------------------------------------------------------------------------------------------
# the pairs, joined from the log


def _join_pairs(con: duckdb.DuckDBPyConnection, info: ModelInfo, d: KpiDefinition | None, baseline: str,
                candidate: str, parts: list[tuple[Span, Span]]) -> None:
    """Create the temp table of the pairs whose baseline row lies in the first span and candidate row in the
    second, for each part (the parts must not share a pair). One plain range per side lets DuckDB skip the
    segments' row groups outside it, and join a small side's request ids against the other's."""
    view = predictions_view(info.stem)
    amount_column = f", {quote(d.amount_column)}" if d and d.amount_column else ""
    value_a = value_sql(d, "a.decision", "o.label", amount_sql(d, "a")) if d else "NULL::DOUBLE"
    value_b = value_sql(d, "b.decision", "o.label", amount_sql(d, "a")) if d else "NULL::DOUBLE"
    selects, params = [], []
    for a_span, b_span in parts:
        a_rows, b_rows = time_bounds("p.predicted_at", *a_span), time_bounds("p.predicted_at", *b_span)
        if _length(a_span) < _length(b_span):
            # the baseline's side is the narrower: keep only the candidate rows of its requests (a semi-join
            # DuckDB builds on the narrow side) before the join
            requests = time_bounds("q.predicted_at", *a_span)
            b_rows = SqlFilter(f"{b_rows.sql} AND p.request_id IN (SELECT request_id FROM {view} q WHERE "
                               f"{requests.sql} AND q.model_version = ?)", [*b_rows.params, *requests.params, baseline])
        selects.append(f"""
            SELECT CAST(a.predicted_at AS DATE) AS day_a, CAST(b.predicted_at AS DATE) AS day_b,
                   hash(request_id) AS h, a.score AS score_a, b.score AS score_b, a.decision AS dec_a,
                   b.decision AS dec_b, o.label, {value_a} AS value_a, {value_b} AS value_b
            FROM (SELECT request_id, prediction_id, predicted_at, score, decision{amount_column} FROM {view} p
                  WHERE {a_rows.sql} AND p.model_version = ? AND p.request_id IS NOT NULL) a
            JOIN (SELECT request_id, predicted_at, score, decision FROM {view} p WHERE {b_rows.sql}
                  AND p.model_version = ? AND p.request_id IS NOT NULL) b USING (request_id)
            LEFT JOIN {outcomes_view(info.stem)} o ON o.prediction_id = a.prediction_id""")
        params += [*a_rows.params, baseline, *b_rows.params, candidate]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_PAIRS} AS " + " UNION ALL ".join(selects), params)


def _aggregate(con: duckdb.DuckDBPyConnection, per_day: bool) -> dict[str, pd.DataFrame]:
    """The four summaries of the pairs table, per pair of days (for the store) or for all of it."""
    keys = "day_a, day_b, " if per_day else ""
    bins = lambda col: f"least(floor({col} * {SCORE_BINS}), {SCORE_BINS - 1})::INTEGER"  # noqa: E731
    limit = (f"QUALIFY row_number() OVER (PARTITION BY day_a, day_b ORDER BY h) <= {DELONG_SAMPLE}" if per_day
             else f"ORDER BY h LIMIT {DELONG_SAMPLE}")
    return {
        "paired_cells": con.execute(f"SELECT {keys} CAST(label AS BIGINT) AS label, CAST(dec_a AS BIGINT) AS dec_a, "
                                    f"CAST(dec_b AS BIGINT) AS dec_b, count(*) AS n FROM {_PAIRS} GROUP BY ALL").df(),
        "paired_scores": con.execute(
            f"SELECT {keys} 0 AS side, {bins('score_a')} AS bin, count(*) AS n FROM {_PAIRS} WHERE score_a IS NOT NULL "
            f"GROUP BY ALL UNION ALL SELECT {keys} 1, {bins('score_b')}, count(*) FROM {_PAIRS} "
            "WHERE score_b IS NOT NULL GROUP BY ALL").df(),
        "paired_values": con.execute(f"SELECT {keys} value_a, value_b, count(*) AS n FROM {_PAIRS} "
                                     "WHERE value_a IS NOT NULL AND value_b IS NOT NULL GROUP BY ALL").df(),
        "paired_sample": con.execute(f"SELECT {keys} h, CAST(label AS BIGINT) AS label, CAST(score_a AS DOUBLE) "
                                     f"AS score_a, CAST(score_b AS DOUBLE) AS score_b FROM {_PAIRS} "
                                     f"WHERE label IS NOT NULL {limit}").df(),
    }


def _summary(parts: list[dict[str, pd.DataFrame]], stored_days: int = 0) -> PairedSummary:
    """Merge summaries of disjoint sets of pairs into one."""
    def cat(name: str) -> pd.DataFrame:
        frames = [p[name] for p in parts if len(p[name])]
        return pd.concat(frames, ignore_index=True) if frames else parts[0][name]

    cells = cat("paired_cells")
    merged = cells.groupby(["label", "dec_a", "dec_b"], dropna=False, sort=False)["n"].sum()
    cell_rows = sorted(((None if pd.isna(la) else int(la), None if pd.isna(a) else int(a),
                         None if pd.isna(b) else int(b), int(n)) for (la, a, b), n in merged.items()),
                       key=lambda c: tuple((x is not None, x or 0) for x in c[:3]))
    scores = cat("paired_scores").groupby(["side", "bin"], sort=True)["n"].sum().reset_index()
    values = cat("paired_values").groupby(["value_a", "value_b"], sort=True)["n"].sum().reset_index()
    sample = cat("paired_sample")[["h", "label", "score_a", "score_b"]]
    sample = sample.sort_values("h", kind="stable").head(DELONG_SAMPLE).reset_index(drop=True)
    return PairedSummary(tuple(cell_rows), scores, values, sample, stored_days)


def from_log(con: duckdb.DuckDBPyConnection, info: ModelInfo, d: KpiDefinition | None, baseline: str,
             candidate: str, start: datetime | None, end: datetime | None) -> PairedSummary:
    """The summary of the pairs of ``[start, end)`` (both rows inside), joined from the log."""
    _join_pairs(con, info, d, baseline, candidate, [((start, end), (start, end))])
    try:
        return _summary([_aggregate(con, per_day=False)])
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_PAIRS}")


# --------------------------------------------------------------------------------------------------
# the stored summaries


def summary_key(d: KpiDefinition | None) -> str:
    """What the stored rows depend on besides the log: the KPI definition and the format."""
    text = json.dumps([FORMAT, d.to_json() if d is not None else None])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def summarised_pairs(con: duckdb.DuckDBPyConnection, model: str) -> list[tuple[str, str]]:
    """The (champion, shadow) versions kept summarised: every shadow deployment with each champion that
    served while it ran."""
    return [tuple(r) for r in con.execute(
        """SELECT DISTINCT c.version, s.version FROM deployments s JOIN deployments c
           ON c.model_name = s.model_name AND c.role = 'champion' AND c.version <> s.version
           AND c.started_at < coalesce(s.ended_at, TIMESTAMP '9999-01-01')
           AND coalesce(c.ended_at, TIMESTAMP '9999-01-01') > s.started_at
           WHERE s.model_name = ? AND s.role = 'shadow' ORDER BY 1, 2""", [model]).fetchall()]


def _outcomes_through(con: duckdb.DuckDBPyConnection, model: str) -> int:
    return int(con.execute("SELECT coalesce(max(ingest_id), 0) FROM ingests WHERE model_name = ? "
                           "AND kind = 'outcomes' AND status = 'committed'", [model]).fetchone()[0])


def _day_states(con: duckdb.DuckDBPyConnection, model: str, baseline: str, candidate: str,
                key: str) -> pd.DataFrame:
    """Every day with log segments or a stored summary of the pair: ``day``, ``current`` (stored, same
    segments and definition; the outcomes are checked apart), ``orphan`` (stored, no segment left),
    ``outcomes_through``."""
    return con.execute(
        f"""
        WITH now_ AS ({_DAY_SEGMENTS}),
             kept AS (SELECT day, segments, definition, outcomes_through FROM paired_summary_days WHERE {_KEY})
        SELECT coalesce(now_.day, kept.day) AS day,
               kept.day IS NOT NULL AND now_.segments IS NOT DISTINCT FROM kept.segments
                   AND kept.definition = ? AS current,
               now_.day IS NULL AS orphan, kept.outcomes_through
        FROM now_ FULL OUTER JOIN kept ON now_.day = kept.day ORDER BY 1
        """, [model, model, baseline, candidate, key]).df()


def refresh(con: duckdb.DuckDBPyConnection, info: ModelInfo, d: KpiDefinition | None) -> dict[str, int]:
    """Rebuild the stale days of every summarised pair of the model (call inside a write transaction).

    Returns the days rebuilt per pair (``"v1/v2"``).
    """
    key = summary_key(d)
    current_outcomes = _outcomes_through(con, info.name)
    done = {}
    for baseline, candidate in summarised_pairs(con, info.name):
        states = _day_states(con, info.name, baseline, candidate, key)
        stale = {r.day.date() for r in states.itertuples() if not r.current and not r.orphan}
        orphans = {r.day.date() for r in states.itertuples() if r.orphan}
        kept = states[states["current"]]
        through = kept["outcomes_through"].min() if len(kept) else None
        if through is not None and through < current_outcomes:
            stale |= _labelled_days(con, info, baseline, int(through)) & {r.day.date() for r in kept.itertuples()}
        pair = [info.name, baseline, candidate]
        gone = sorted(stale | orphans)
        if gone:
            for table in _TABLES:
                con.execute(f"DELETE FROM {table} WHERE {_KEY} AND (list_contains(?, day_a) OR list_contains(?, day_b))",
                            [*pair, gone, gone])
            con.execute(f"DELETE FROM paired_summary_days WHERE {_KEY} AND list_contains(?, day)", [*pair, gone])
        if stale:  # in parts of consecutive days, as the summaries engine builds (its memory stays one part's)
            limit = int(settings.get(con, summaries.BUILD_PART_ROWS.key))
            for part in summaries.build_parts(sorted(stale), summaries.day_rows(con, info.name), limit):
                _insert_days(con, info, d, baseline, candidate, part, sorted(stale), key, current_outcomes)
        con.execute(f"UPDATE paired_summary_days SET outcomes_through = ? WHERE {_KEY} AND outcomes_through < ?",
                    [current_outcomes, *pair, current_outcomes])
        done[f"{baseline}/{candidate}"] = len(stale)
    return done


def _labelled_days(con: duckdb.DuckDBPyConnection, info: ModelInfo, baseline: str, through: int) -> set[date]:
    """Days of the baseline's predictions labelled by outcome ingests committed after ``through``."""
    rows = con.execute(
        f"""SELECT DISTINCT CAST(p.predicted_at AS DATE) FROM {predictions_view(info.stem)} p
            WHERE p.model_version = ? AND p.prediction_id IN (
                SELECT o.prediction_id FROM {outcome_table(info.stem)} o WHERE o.ingest_id > ? AND o.ingest_id IN (
                    SELECT ingest_id FROM ingests WHERE model_name = ? AND kind = 'outcomes' AND status = 'committed'))
        """, [baseline, through, info.name]).fetchall()
    return {r[0] for r in rows}


def _insert_days(con: duckdb.DuckDBPyConnection, info: ModelInfo, d: KpiDefinition | None, baseline: str,
                 candidate: str, days: list[date], stale: list[date], key: str, through: int) -> None:
    """Summarise per pair of days every pair whose baseline row lies on one of ``days`` (the candidate's
    anywhere), or whose candidate row does and baseline row on no day of ``stale``, the days being rebuilt
    (``days`` among them): built part by part, each pair of the stale days is counted by one part only."""
    runs = _runs(days)
    rest = _outside(None, None, _runs(stale))
    _join_pairs(con, info, d, baseline, candidate, [(run, _ALL) for run in runs] + [(g, run) for g in rest for run in runs])
    try:
        frames = _aggregate(con, per_day=True)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_PAIRS}")
    for table, frame in frames.items():
        if not len(frame):
            continue
        columns = list(frame.columns)
        con.register("_vigil_paired_new", frame)
        try:
            con.execute(f"INSERT INTO {table} (model_name, baseline, candidate, {', '.join(columns)}) "
                        f"SELECT ?, ?, ?, {', '.join(columns)} FROM _vigil_paired_new", [info.name, baseline, candidate])
        finally:
            con.unregister("_vigil_paired_new")
    con.execute(
        f"""INSERT INTO paired_summary_days (model_name, baseline, candidate, day, definition, segments,
                                             outcomes_through, built_at)
            SELECT ?, ?, ?, day, ?, segments, ?, now()::TIMESTAMP FROM ({_DAY_SEGMENTS}) WHERE list_contains(?, day)""",
        [info.name, baseline, candidate, key, through, info.name, days])


def _current_days(con: duckdb.DuckDBPyConnection, model: str, baseline: str, candidate: str,
                  key: str) -> tuple[list[date], list[date]]:
    """Days whose stored summary of the pair answers for the log now, and the days with log segments."""
    states = _day_states(con, model, baseline, candidate, key)
    through = _outcomes_through(con, model)
    current = [r.day.date() for r in states.itertuples()
               if r.current and not r.orphan and r.outcomes_through is not None and r.outcomes_through >= through]
    logged = [r.day.date() for r in states.itertuples() if not r.orphan]
    return current, logged


def stored(con: duckdb.DuckDBPyConnection, info: ModelInfo, d: KpiDefinition | None, baseline: str,
           candidate: str, start: datetime | None, end: datetime | None) -> PairedSummary | None:
    """The summary of ``[start, end)`` from the stored days it covers whole, and the log for the rest;
    None when no stored day of the pair answers (then read :func:`from_log`)."""
    if (baseline, candidate) not in summarised_pairs(con, info.name):
        return None
    current, logged = _current_days(con, info.name, baseline, candidate, summary_key(d))
    whole = [day for day in current if (start is None or _midnight(day) >= start)
             and (end is None or _midnight(day) + timedelta(days=1) <= end)]
    if not whole:
        return None
    runs = _runs(whole)
    parts = [_read_days(con, info.name, baseline, candidate, whole)]
    covered = set(whole)
    edges = [span for span in _outside(start, end, runs)
             if any(day not in covered and _overlaps(span, day) for day in logged)]
    edge_parts = _edge_parts(con, info.name, baseline, candidate, (start, end), runs, edges, set(current), logged)
    if edge_parts:  # pairs with a row outside the stored days: the baseline's row there, or the candidate's
        _join_pairs(con, info, d, baseline, candidate, edge_parts)
        try:
            parts.append(_aggregate(con, per_day=False))
        finally:
            con.execute(f"DROP TABLE IF EXISTS {_PAIRS}")
    return _summary(parts, stored_days=len(whole))


def _day_of(span: Span) -> date | None:
    """The one UTC day a bounded span lies in (None when it is open or crosses midnight)."""
    lo, hi = span
    if lo is None or hi is None or hi <= lo:
        return None
    day = lo.date()
    return day if hi <= _midnight(day) + timedelta(days=1) else None


def _clipped(days: set[date], span: Span) -> list[Span]:
    """The runs of ``days`` within ``span`` (empty parts left out)."""
    out = []
    for lo, hi in _runs(sorted(days)):
        lo = lo if span[0] is None else max(lo, span[0])
        hi = hi if span[1] is None else min(hi, span[1])
        if lo < hi:
            out.append((lo, hi))
    return out


def _edge_parts(con: duckdb.DuckDBPyConnection, model: str, baseline: str, candidate: str, window: Span,
                runs: list[tuple[datetime, datetime]], edges: list[Span], current: set[date],
                logged: list[date]) -> list[tuple[Span, Span]]:
    """The parts of the pairs with a row in an edge of the window (the baseline's row in the edge and the
    candidate's anywhere in the window, or the baseline's in a stored run and the candidate's in the edge).

    An edge inside one day whose stored summary is current pairs only with the days that summary names
    (its pairs per pair of days), and with any day not current: the other side is read on those days only,
    not over the whole window, so the edges cost what a day of the log costs (the same pairs).
    """
    unsure = set(logged) - current
    parts: list[tuple[Span, Span]] = []
    for edge in edges:
        day = _day_of(edge)
        if day is None or day not in current:
            parts += [(edge, window)] + [(run, edge) for run in runs]
            continue
        (candidate_days,), (baseline_days,) = (
            con.execute(f"SELECT list(DISTINCT {other}) FROM paired_cells WHERE {_KEY} AND {this} = ?",
                        [model, baseline, candidate, day]).fetchone()
            for this, other in (("day_a", "day_b"), ("day_b", "day_a")))
        parts += [(edge, span) for span in _clipped(set(candidate_days or ()) | unsure, window)]
        parts += [(span, edge) for run in runs for span in _clipped(set(baseline_days or ()) | unsure, run)]
    return parts


def _read_days(con: duckdb.DuckDBPyConnection, model: str, baseline: str, candidate: str,
               days: list[date]) -> dict[str, pd.DataFrame]:
    """The stored summaries of the pairs with both rows on ``days``."""
    lo, hi = min(days), max(days)
    where = f"{_KEY} AND day_a BETWEEN ? AND ? AND day_b BETWEEN ? AND ?"
    params = [model, baseline, candidate, lo, hi, lo, hi]
    if len(days) != (hi - lo).days + 1:  # not one run of days: the exact list too
        where += " AND list_contains(?, day_a) AND list_contains(?, day_b)"
        params += [days, days]
    columns = {"paired_cells": "label, dec_a, dec_b, sum(n)::BIGINT AS n",
               "paired_scores": "side, bin, sum(n)::BIGINT AS n",
               "paired_values": "value_a, value_b, sum(n)::BIGINT AS n"}
    out = {table: con.execute(f"SELECT {cols} FROM {table} WHERE {where} GROUP BY ALL", params).df()
           for table, cols in columns.items()}
    cells = out["paired_cells"]
    out["paired_sample"] = _lowest_hashes(con, where, params, int(cells.loc[cells["label"].notna(), "n"].sum()))
    return out


def _lowest_hashes(con: duckdb.DuckDBPyConnection, where: str, params: list, labelled: int) -> pd.DataFrame:
    """The stored sample rows of lowest hash (at most :data:`DELONG_SAMPLE`) among ``labelled`` pairs.

    Hashes are uniform over 64 bits, so the lowest ones lie below ``2**64 * 1.1 * DELONG_SAMPLE / labelled``:
    reading only those first sorts about a third of the rows on the 10 M benchmark. If fewer than the sample
    came back (never expected), the rows are read again without the bound: the answer is the same.
    """
    sql = f"SELECT h, label, score_a, score_b FROM paired_sample WHERE {where}"
    if labelled > DELONG_SAMPLE:
        bound = int(2 ** 64 * 1.1 * DELONG_SAMPLE / labelled)
        if bound < 2 ** 64:
            frame = con.execute(f"{sql} AND h < ? ORDER BY h LIMIT {DELONG_SAMPLE}", [*params, bound]).df()
            if len(frame) == DELONG_SAMPLE:
                return frame
    return con.execute(f"{sql} ORDER BY h LIMIT {DELONG_SAMPLE}", params).df()


def refresh_store(db: Any = None, model: str | None = None) -> dict[str, dict[str, int]]:
    """Bring the stored paired summaries of every model (or one) up to date; return the days rebuilt per pair.

    Run after an ingest (:func:`analytics.refresh.refresh_after_ingest` does) so that no reader joins the log.
    """
    def work(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
        names = [model] if model else [r[0] for r in con.execute("SELECT model_name FROM models ORDER BY 1").fetchall()]
        done = {}
        for name in names:
            if not summarised_pairs(con, name):
                continue
            d = get_definition(con, name) if has_definition(con, name) else None
            done[name] = refresh(con, get_model(con, name), d)
        return done

    return store.write(work, db)
