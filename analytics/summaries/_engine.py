"""Declarations, the freshness rule, the refresh and the readers' coverage of the summaries engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from analytics import clock, settings
from analytics.store import write
from analytics.summaries._ledger import (DAY_SEGMENTS, day_rows, has_segments, labelled_days, outcomes_through,
                                         segment_changes)

#: How many rows of the log one build of a summary reads at most (about): a refresh of many days builds
#: them in parts of consecutive days, so a build's aggregate holds the groups of one part, never those of
#: the whole log (the 100 M-row demo's performance cells: 12.6 GB in one build, 2.3 GB in 5 M-row parts).
BUILD_PART_ROWS = settings.declare(
    "summaries.build_part_rows", 5_000_000, "Rows of the log one build of a stored summary reads at most (a "
    "refresh of more days builds them in parts of consecutive days): less memory, a few more queries",
    unit="rows", minimum=1)


@dataclass(frozen=True)
class SummaryTable:
    """A table of a summary's rows: its name, the SQL of a row's UTC day, and the column holding the scope.

    Every row has ``model_name``; a day's rows are replaced whole when the day is rebuilt.
    """

    name: str
    day: str = "day"
    scope_column: str | None = None


@dataclass(frozen=True)
class Declaration:
    """A feature's summary, declared to the engine.

    Attributes
    ----------
    name : str
        The summary's name in the ledger (``serving``, ``kpi``, ``drift``...).
    tables : tuple of SummaryTable
        Where its rows are kept (per model, scope and UTC day; additive over days).
    build : callable
        ``build(con, model, scope, days)`` inserts the rows of those UTC days, computed from the log
        (the engine has deleted them first; it runs in the refresh's write transaction).
    key : callable
        ``key(con, model, scope)``: what the rows depend on besides the log (a definition's hash,
        a binning); a changed key makes every day stale. None when the model keeps no such summary.
    scopes : callable
        ``scopes(con, model)``: the scopes refreshed by default (a version, or ``""`` for the whole model).
    outcomes : bool
        The rows count outcomes, so an outcome ingest makes the days it labels stale.
    """

    name: str
    tables: tuple[SummaryTable, ...]
    build: Callable[[duckdb.DuckDBPyConnection, str, str, list[date]], None]
    key: Callable[[duckdb.DuckDBPyConnection, str, str], str | None] = lambda con, model, scope: ""
    scopes: Callable[[duckdb.DuckDBPyConnection, str], tuple[str, ...]] = lambda con, model: ("",)
    outcomes: bool = False


_DECLARATIONS: dict[str, Declaration] = {}


def register(declaration: Declaration) -> Declaration:
    """Declare a summary to the engine (a feature does it when imported); return it."""
    _DECLARATIONS[declaration.name] = declaration
    return declaration


def declaration(name: str) -> Declaration:
    """The declared summary called ``name`` (a feature declares its summaries when it is imported)."""
    try:
        return _DECLARATIONS[name]
    except KeyError:
        raise KeyError(f"no summary {name!r} is declared; declared: {', '.join(_DECLARATIONS) or 'none'} "
                       "(import the feature that declares it)") from None


def declarations() -> tuple[Declaration, ...]:
    """Every declared summary, in the order declared."""
    return tuple(_DECLARATIONS.values())


@dataclass(frozen=True)
class Coverage:
    """Which UTC days of a window a summary answers for, and which a reader must take from the log.

    Attributes
    ----------
    summary : str
        The summary's name.
    summarised : frozenset of date
        Days of the log whose stored rows are fresh: read only these from the summary's tables.
    unsummarised : tuple of date
        Days of the log in the window not (or no longer) summarised, sorted: read them from the log.
    orphaned : tuple of date
        Days still kept in the summary's tables whose log segments are gone (retention): ignore them.
    """

    summary: str
    summarised: frozenset[date]
    unsummarised: tuple[date, ...]
    orphaned: tuple[date, ...] = ()

    @property
    def complete(self) -> bool:
        """The summary's tables answer the window alone: every day with rows is summarised, none is orphaned."""
        return not self.unsummarised and not self.orphaned

    @property
    def unsummarised_before_today(self) -> tuple[date, ...]:
        """The unsummarised days a reader names as whole days read from the log: all but today (UTC) and later,
        which a window reaching now holds in part (read from the log all the same)."""
        today = clock.utc_now().date()
        return tuple(day for day in self.unsummarised if day < today)


def coverage(con: duckdb.DuckDBPyConnection, summary: str, model: str, *, scope: str = "", key: str | None = None,
             start: date | None = None, end: date | None = None) -> Coverage:
    """Which days of ``[start, end)`` (UTC dates; None is open) of the model's log the stored summary answers.

    Reads only: the ledger and ``log_segments``. ``key`` defaults to the declaration's current key. A
    summary of outcomes whose days have not seen the model's last outcome ingest counts those days as
    unsummarised (the refresh finds the few it labels).
    """
    decl = declaration(summary)
    key = decl.key(con, model, scope) if key is None else key
    through = outcomes_through(con, model) if decl.outcomes else 0
    rows = con.execute(
        f"""
        WITH now_ AS ({DAY_SEGMENTS}),
             kept AS (SELECT day, segments, key, outcomes_through FROM summary_ledger
                      WHERE summary = ? AND model_name = ? AND scope = ?)
        SELECT coalesce(now_.day, kept.day) AS day, now_.day IS NULL AS orphan,
               coalesce(kept.segments = now_.segments AND kept.key IS NOT DISTINCT FROM ? AND kept.outcomes_through >= ?,
                        FALSE) AS fresh
        FROM now_ FULL OUTER JOIN kept ON kept.day = now_.day
        WHERE (? IS NULL OR coalesce(now_.day, kept.day) >= ?) AND (? IS NULL OR coalesce(now_.day, kept.day) < ?)
        ORDER BY 1
        """, [model, summary, model, scope, key, through, start, start, end, end]).fetchall()
    return Coverage(summary, frozenset(d for d, orphan, fresh in rows if fresh and not orphan),
                    tuple(d for d, orphan, fresh in rows if not fresh and not orphan),
                    tuple(d for d, orphan, _ in rows if orphan))


def _stale(con: duckdb.DuckDBPyConnection, decl: Declaration, model: str, scope: str,
           key: str) -> tuple[list[date], list[date], int]:
    """Days to rebuild, ledger days to drop, and the outcome ingest the rebuilt days will have seen."""
    stale, orphans = segment_changes(con, decl.name, model, scope, key)
    current = outcomes_through(con, model) if decl.outcomes else 0
    if decl.outcomes:
        through = con.execute("SELECT min(outcomes_through) FROM summary_ledger WHERE summary = ? AND model_name = ? "
                              "AND scope = ?", [decl.name, model, scope]).fetchone()[0]
        if through is not None and through < current:
            covered = {r[0] for r in con.execute("SELECT day FROM summary_ledger WHERE summary = ? AND model_name = ? "
                                                 "AND scope = ?", [decl.name, model, scope]).fetchall()}
            stale = sorted(set(stale) | (labelled_days(con, model, through) & covered))
    return stale, orphans, current


def forget(con: duckdb.DuckDBPyConnection, summary: str, model: str) -> int:
    """Drop every kept day of the model's summary, rows and ledger (in the caller's transaction).

    Returns the rows dropped from the declaration's first table. The next refresh rebuilds them.
    """
    decl = declaration(summary)
    dropped = 0
    for i, table in enumerate(decl.tables):
        if i == 0:
            dropped = int(con.execute(f"SELECT count(*) FROM {table.name} WHERE model_name = ?", [model]).fetchone()[0])
        con.execute(f"DELETE FROM {table.name} WHERE model_name = ?", [model])
    con.execute("DELETE FROM summary_ledger WHERE summary = ? AND model_name = ?", [summary, model])
    return dropped


def stale_days(con: duckdb.DuckDBPyConnection, summary: str, model: str, *, scope: str = "",
               key: str | None = None) -> tuple[list[date], list[date]]:
    """What a refresh of the summary would do now: the days it would rebuild and the kept days no segment covers.

    ``key`` defaults to the declaration's current key. Reads only.
    """
    decl = declaration(summary)
    key = decl.key(con, model, scope) if key is None else key
    stale, orphans, _ = _stale(con, decl, model, scope, key)
    return stale, orphans


def build_parts(days: list[date], rows: dict[date, float], limit: int) -> list[list[date]]:
    """``days`` in order, cut into runs of at most about ``limit`` rows each (a day of more rows is a run alone).

    Parameters
    ----------
    days : list of date
        The UTC days to build.
    rows : dict of date to float
        About how many rows of the log each day holds (a day not named holds none).
    limit : int
        Rows per run, at most (unless one day holds more).

    Returns
    -------
    list of list of date
        The runs, in order; together they are ``days``, sorted.
    """
    parts: list[list[date]] = []
    held = 0.0
    for day in sorted(days):
        size = rows.get(day, 0.0)
        if not parts or (parts[-1] and held + size > limit):
            parts.append([])
            held = 0.0
        parts[-1].append(day)
        held += size
    return parts


def _refresh_scope(con: duckdb.DuckDBPyConnection, decl: Declaration, model: str, scope: str,
                   build: Callable[[duckdb.DuckDBPyConnection, str, str, list[date]], None] | None = None) -> int | None:
    """Rebuild one scope's stale days; the number rebuilt (None when the model keeps no such summary)."""
    key = decl.key(con, model, scope)
    if key is None:
        return None
    stale, orphans, current = _stale(con, decl, model, scope, key)
    gone = stale + orphans
    if gone:
        for table in decl.tables:
            where = f"model_name = ? AND list_contains(?, CAST({table.day} AS DATE))"
            params: list = [model, gone]
            if table.scope_column:
                where += f" AND {table.scope_column} = ?"
                params.append(scope)
            con.execute(f"DELETE FROM {table.name} WHERE {where}", params)
        con.execute("DELETE FROM summary_ledger WHERE summary = ? AND model_name = ? AND scope = ? "
                    "AND list_contains(?, day)", [decl.name, model, scope, gone])
    if stale:
        limit = int(settings.get(con, BUILD_PART_ROWS.key))
        for part in build_parts(stale, day_rows(con, model), limit):
            (build or decl.build)(con, model, scope, part)
        con.execute(
            f"""
            INSERT INTO summary_ledger (summary, model_name, scope, day, segments, key, outcomes_through, built_at)
            SELECT ?, ?, ?, day, segments, ?, ?, now()::TIMESTAMP FROM ({DAY_SEGMENTS}) WHERE list_contains(?, day)
            """, [decl.name, model, scope, key, current, model, stale])
    if decl.outcomes:  # the outcome ingests up to `current` label no other kept day
        con.execute("UPDATE summary_ledger SET outcomes_through = ? WHERE summary = ? AND model_name = ? AND scope = ? "
                    "AND outcomes_through < ?", [current, decl.name, model, scope, current])
    return len(stale)


def refresh(con: duckdb.DuckDBPyConnection, model: str, *, names: tuple[str, ...] | None = None,
            scope: str | None = None,
            build: Callable[[duckdb.DuckDBPyConnection, str, str, list[date]], None] | None = None) -> dict[str, int]:
    """Rebuild the stale days of the model's summaries (call inside a write transaction).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection in a write transaction.
    model : str
        The model.
    names : tuple of str, optional
        Only these summaries (default: every declared one).
    scope : str, optional
        Only this scope (default: each declaration's own scopes).
    build : callable, optional
        Inserts the rows instead of the declaration's ``build`` (same signature): rows another engine
        (Spark, :mod:`analytics.scaleout`) computed outside the transaction; it raises if asked for a
        day it did not compute. Use it with one name in ``names``.

    Returns
    -------
    dict
        Days rebuilt per summary (a model whose log is not in segments keeps none: empty).
    """
    if not has_segments(con, model):
        return {}
    done: dict[str, int] = {}
    for decl in declarations():
        if names is not None and decl.name not in names:
            continue
        scopes = decl.scopes(con, model) if scope is None else (scope,)
        for each in scopes:
            days = _refresh_scope(con, decl, model, each, build)
            if days is not None:
                done[decl.name] = done.get(decl.name, 0) + days
    return done


@dataclass(frozen=True)
class RefreshResult:
    """What :func:`refresh_store` rebuilt: days per model and summary."""

    days: dict[str, dict[str, int]] = field(default_factory=dict)

    def of(self, model: str) -> dict[str, int]:
        """Days rebuilt per summary of one model."""
        return self.days.get(model, {})


def refresh_store(db: str | Path | None = None, model: str | None = None, *, names: tuple[str, ...] | None = None,
                  scope: str | None = None) -> RefreshResult:
    """Bring the summaries of the store (or of one model) up to date in one write transaction.

    The ingest runs it right after its commit and ``vigil refresh`` on demand; readers never do.
    """
    def work(con: duckdb.DuckDBPyConnection) -> RefreshResult:
        models = [model] if model else [r[0] for r in con.execute("SELECT model_name FROM models ORDER BY 1").fetchall()]
        return RefreshResult({m: refresh(con, m, names=names, scope=scope) for m in models})

    return write(work, db)

