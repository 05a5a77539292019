"""``summarise``: compute a model's stored summaries with an engine and merge them into the store.

The engine (DuckDB here, or Spark on a cluster) computes the partial summaries of the log segments
not yet summarised; this process merges them into the store in one short write transaction, with the
ledger of the segments they cover, exactly as a refresh after an ingest does. Pages then read them
as they read any summary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from analytics import drift
from analytics.drift import ROLLUP_COLUMNS, RollupColumn
from analytics.errors import InvalidInputError
from analytics.scaleout._engines import Engine, open_engine
from analytics.scaleout._queries import rollup_query
from analytics.registry import champion_version
from analytics.store import read


@dataclass(frozen=True)
class SummariseReport:
    """What :func:`summarise` did.

    Attributes
    ----------
    model, version : str
        The model and the version summarised.
    engine : str
        ``duckdb`` or ``spark``.
    days : int
        UTC days newly summarised (0 when the summaries were current).
    summary_rows : int
        Rows of drift rollups the engine computed.
    seconds : float
        Wall time, engine start included.
    """

    model: str
    version: str
    engine: str
    days: int
    summary_rows: int
    seconds: float

    def summary(self) -> str:
        """One line for a terminal."""
        if not self.days:
            return f"drift rollups of {self.model} {self.version} already current ({self.engine}, {self.seconds:.1f} s)"
        return (f"drift rollups of {self.model} {self.version}: {self.days} days summarised by {self.engine} "
                f"into {self.summary_rows} rows, merged into the store in {self.seconds:.1f} s")


def rollup_frame(engine: Engine, paths: list[str], model: str, version: str, columns: tuple[RollupColumn, ...],
                 days: list[date]) -> pd.DataFrame:
    """The drift rollup rows of ``version``'s rows of ``days`` in the Parquet ``paths``, computed by ``engine``."""
    frame = engine.frame(rollup_query(engine.log(paths), version, days, columns))
    if frame.empty:
        return pd.DataFrame(columns=list(ROLLUP_COLUMNS))
    frame["day"] = pd.to_datetime(frame["day"])
    frame["model_name"], frame["model_version"] = model, version
    return frame.reindex(columns=list(ROLLUP_COLUMNS))


def _log_rows(db, model: str) -> int:
    return int(read(lambda con: con.execute("SELECT coalesce(sum(rows), 0) FROM log_segments WHERE model_name = ?",
                                            [model]).fetchone()[0], db))


def _dataset_rows(engine: Engine, logs: str) -> int:
    return int(engine.frame(engine.log([logs]).aggregate(n=lambda t: t.count()))["n"].iloc[0])


def summarise(db: str | Path, model: str, *, engine: str | Engine = "duckdb", version: str | None = None,
              logs: str | None = None, master: str | None = None) -> SummariseReport:
    """Compute the drift rollups of ``model``'s version (default the champion) with ``engine`` and merge them.

    Parameters
    ----------
    db : path
        The store.
    engine : {"duckdb", "spark"} or Engine
        Who computes the summaries; the store is written by this process either way. An
        :class:`Engine` already open (:func:`open_engine`) is used and left open.
    logs : str, optional
        Where the engine reads the log: a folder or file of Parquet (a copy of the store's segments, or
        your own partitioned dataset holding the same rows, e.g. on the cluster's storage). It must
        hold as many rows as the store's log; every segment is then summarised again from it. Default:
        the store's own segments, only those not yet summarised.
    master : str, optional
        Spark's master URL (``local[2]`` when not given; ``spark://host:7077``, ``yarn``, ...).

    Raises
    ------
    InvalidInputError
        ``logs`` does not hold the store's log (a different number of rows).
    EngineUnavailableError
        Spark cannot start here (no pyspark, no Java).
    """
    began = time.monotonic()
    if not isinstance(db, duckdb.DuckDBPyConnection) and not Path(db).exists():
        raise InvalidInputError(f"no store at {db}: run 'vigil init' first")
    running = engine if isinstance(engine, Engine) else open_engine(engine, master)
    computed: list[int] = []
    try:
        if logs is not None:
            held, expected = _dataset_rows(running, logs), _log_rows(db, model)
            if held != expected:
                raise InvalidInputError(f"{logs} holds {held:,} rows but the store's log of {model} holds {expected:,}: "
                                        "point --logs at a copy of the same log")

        def summarise_on_engine(model_: str, version_: str, paths: list[str], columns, days) -> pd.DataFrame:
            frame = rollup_frame(running, [logs] if logs is not None else paths, model_, version_, columns, days)
            computed.append(len(frame))
            return frame

        chosen = version or read(lambda con: champion_version(con, model), db)
        if chosen is None:
            raise InvalidInputError(f"{model} has no champion version: name one with --version")
        days = drift.refresh_rollups(db, model, version=chosen, summariser=summarise_on_engine,
                                     rebuild=logs is not None)
    finally:
        if running is not engine:
            running.close()
    return SummariseReport(model, chosen, running.name, days, sum(computed), time.monotonic() - began)
