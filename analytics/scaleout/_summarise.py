"""``summarise``: compute a model's stored summaries with an engine and merge them into the store.

The engine (DuckDB here, or Spark on a cluster) computes the partial summaries of the days not yet
summarised, every summary in one query (:mod:`analytics.scaleout._packing`: one Spark job); this
process merges them into the store in one short write transaction, with the ledger of the segments
they cover, exactly as a refresh after an ingest does. Pages then read them as they read any summary.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from analytics import drift, summaries
from analytics.errors import InvalidInputError, StoreBusyError
from analytics.registry import get_model
from analytics.scaleout._engines import Engine, SparkOptions, open_engine
from analytics.scaleout._packing import pack, unpack
from analytics.scaleout._plans import Plan, plans
from analytics.store import DbLike, outcomes_view, read, run, store_path, write


@dataclass(frozen=True)
class SummariseReport:
    """What :func:`summarise` did.

    Attributes
    ----------
    model, version : str
        The model and the version whose drift rollups were summarised.
    engine : str
        ``duckdb`` or ``spark``.
    days : dict
        UTC days newly summarised per summary (``drift``, ``serving``, ``kpi``, ``fairness``, ``performance``; 0
        when current; a summary the model does not keep, such as KPI without a KPI definition, is left out).
    rows : dict
        Rows the engine computed per table.
    seconds : float
        Wall time, engine start included.
    """

    model: str
    version: str
    engine: str
    days: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for a terminal."""
        if not any(self.days.values()):
            return f"summaries of {self.model} already current ({self.engine}, {self.seconds:.1f} s)"
        done = ", ".join(f"{name} {days} days" for name, days in self.days.items() if days)
        return (f"summaries of {self.model} ({done}; drift of {self.version}) computed by {self.engine} into "
                f"{sum(self.rows.values())} rows, merged into the store in {self.seconds:.1f} s")


def _rows(engine: Engine, path: str) -> int:
    return int(engine.frame(engine.table([path]).aggregate(n=lambda t: t.count()))["n"].iloc[0])


def _check_holds(engine: Engine, path: str, expected: int, what: str, option: str) -> None:
    held = _rows(engine, path)
    if held != expected:
        raise InvalidInputError(f"{path} holds {held:,} rows but the store's {what} holds {expected:,}: "
                                f"point {option} at a copy of the same {what}")


def _segment_files(con: duckdb.DuckDBPyConnection, model: str, days: set[date]) -> list[str]:
    """The absolute paths of the model's segments holding rows of any of ``days`` (UTC dates)."""
    if not days:
        return []
    rows = con.execute("SELECT path FROM log_segments WHERE model_name = ? AND rows > 0 AND "
                       "CAST(max_predicted_at AS DATE) >= ? AND CAST(min_predicted_at AS DATE) <= ? "
                       "ORDER BY ingest_id, part", [model, min(days), max(days)]).fetchall()
    root = store_path(con).parent
    return [str(root / r[0]) for r in rows]


@dataclass(frozen=True)
class _Sources:
    """What the engine reads: the log's Parquet paths, the outcomes' (None when no query needs them), the store's
    counts of both (to check a dataset given instead), and a scratch folder to remove afterwards."""

    log: list[str]
    outcomes: str | None
    log_rows: int
    outcome_rows: int
    scratch: Path | None = None


def _sources(con: duckdb.DuckDBPyConnection, model: str, todo: tuple[Plan, ...], logs: str | None,
             outcomes: str | None) -> _Sources:
    """Where the engine reads the log and the outcomes; the store's outcomes are exported to a Parquet file in a
    scratch folder beside the store when a query needs them and no ``outcomes`` dataset is given."""
    stem = get_model(con, model).stem
    log_rows = int(con.execute("SELECT coalesce(sum(rows), 0) FROM log_segments WHERE model_name = ?",
                               [model]).fetchone()[0])
    outcome_rows = int(con.execute(f"SELECT count(*) FROM {outcomes_view(stem)}").fetchone()[0])
    paths = [logs] if logs is not None else _segment_files(con, model, {d for p in todo for d in p.days})
    scratch = None
    if outcomes is None and any(p.outcomes for p in todo):
        where = store_path(con)
        scratch = where.parent / f".{where.name}.summarise-{uuid.uuid4().hex[:12]}"
        scratch.mkdir()
        outcomes = str(scratch / "outcomes.parquet")
        con.execute(f"COPY (SELECT prediction_id, observed_at, label, business_value FROM {outcomes_view(stem)}) "
                    f"TO '{outcomes}' (FORMAT parquet)")
    return _Sources(paths, outcomes, log_rows, outcome_rows, scratch)


def _compute(engine: Engine, todo: tuple[Plan, ...], sources: _Sources) -> dict[str, pa.Table]:
    """Every plan's rows per table, computed by ``engine`` in one query."""
    log = engine.table(sources.log)
    outcomes = engine.table([sources.outcomes]) if sources.outcomes is not None else None
    queries = {table: query for plan in todo for table, query in plan.queries(log, outcomes).items()}
    packed = pack(queries)
    return unpack(packed, engine.arrow(packed.query))


def _merge(db: DbLike, model: str, every: tuple[Plan, ...], rows: dict[str, pa.Table], rebuild: bool) -> dict[str, int]:
    """Merge the rows into the store in one write transaction: each summary's refresh, building its stale days
    from ``rows``; if the stale days are not the ones computed (an ingest committed meanwhile), nothing is written."""

    def build_of(plan: Plan):
        mine = {table: frame for table, frame in rows.items() if table in _tables(plan)}

        def build(con: duckdb.DuckDBPyConnection, model_: str, scope: str, days: list[date]) -> None:
            if scope != plan.scope or set(days) - set(plan.days):
                raise StoreBusyError("the log changed while the summaries were computed: run the command again")
            plan.merge(con, mine, days)
        return build

    def work(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        if rebuild:
            for plan in every:
                summaries.forget(con, plan.summary, model)
        return {plan.summary: summaries.refresh(con, model, names=(plan.summary,), scope=plan.scope,
                                                build=build_of(plan)).get(plan.summary, 0) for plan in every}

    return write(work, db)


def _tables(plan: Plan) -> set[str]:
    return {t.name for t in summaries.declaration(plan.summary).tables}


def summarise(db: DbLike, model: str, *, engine: str | Engine = "duckdb", version: str | None = None,
              logs: str | None = None, outcomes: str | None = None, spark: SparkOptions = SparkOptions()
              ) -> SummariseReport:
    """Compute ``model``'s stored summaries with ``engine`` and merge them into the store.

    The summaries: the drift rollups of ``version`` (default the champion), serving traffic, cost and
    latency, the KPI sums and what-if cells (a model with a KPI definition), the fairness cells (a
    model with sensitive attributes) and the performance cells, for the days not yet summarised, all in
    one query on the engine.

    Parameters
    ----------
    db : path or connection
        The store.
    engine : {"duckdb", "spark"} or Engine
        Who computes the summaries; the store is written by this process either way. An
        :class:`Engine` already open (:func:`open_engine`) is used and left open.
    logs : str, optional
        Where the engine reads the log: a folder or file of Parquet (a copy of the store's segments, or
        your own partitioned dataset holding the same rows, e.g. on the cluster's storage). It must
        hold as many rows as the store's log; every day is then summarised again from it. Default:
        the store's own segments, only the days not yet summarised.
    outcomes : str, optional
        Where the engine reads the outcomes (Parquet with ``prediction_id``, ``observed_at``, ``label``,
        ``business_value``), holding as many rows as the store's. Default: the store's outcomes, exported
        to a Parquet file in a scratch folder beside the store (removed afterwards) when a summary needs them.
    spark : SparkOptions, optional
        How Spark starts (with ``engine="spark"`` only): its master URL (``local[2]`` when not given;
        ``spark://host:7077``, ``yarn``, ...) and driver heap (``"4g"``; a local session defaults to a quarter of
        the machine's memory, 1-8 GB).

    Raises
    ------
    InvalidInputError
        ``logs`` or ``outcomes`` does not hold the store's rows (a different number of rows).
    EngineUnavailableError
        Spark cannot start here (no pyspark, no Java).
    StoreBusyError
        The log changed while the engine computed (run again).
    """
    began = time.monotonic()
    if not isinstance(db, duckdb.DuckDBPyConnection) and not Path(db).exists():
        raise InvalidInputError(f"no store at {db}: run 'vigil init' first")
    rebuild = logs is not None
    every = run(db, lambda con: plans(con, model, version=version, rebuild=rebuild))
    todo = tuple(p for p in every if p.days)
    running = engine if isinstance(engine, Engine) else open_engine(engine, spark)
    sources = None
    try:
        sources = read(lambda con: _sources(con, model, todo, logs, outcomes), db) if todo else None
        if logs is not None and sources is not None:
            _check_holds(running, logs, sources.log_rows, "log", "--logs")
        if outcomes is not None and sources is not None:
            _check_holds(running, outcomes, sources.outcome_rows, "outcomes", "--outcomes")
        rows = _compute(running, todo, sources) if todo else {}
    finally:
        if sources is not None and sources.scratch is not None:
            shutil.rmtree(sources.scratch, ignore_errors=True)
        if running is not engine:
            running.close()
    days = _merge(db, model, every, rows, rebuild)
    drift_plan = next((p for p in every if p.summary == drift.DRIFT_ROLLUPS.name), None)
    return SummariseReport(model, drift_plan.scope if drift_plan else "", running.name, days,
                           {table: frame.num_rows for table, frame in rows.items()}, time.monotonic() - began)
