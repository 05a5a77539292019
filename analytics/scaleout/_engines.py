"""The two engines that run the summary queries: DuckDB in this process, or Apache Spark.

An engine opens Parquet files (the model's log, its outcomes) as an Ibis table (:meth:`Engine.table`)
and runs an Ibis expression into an Arrow table (:meth:`Engine.arrow`) or a pandas frame
(:meth:`Engine.frame`). Spark starts small here: ``local[2]`` unless a master URL is given, no web UI,
few shuffle partitions, the session's time zone UTC (so that a day is a UTC day whatever the
cluster's clock says).
"""

from __future__ import annotations

import itertools
import os
import shutil
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from analytics.errors import InvalidInputError, VigilError

#: The engines ``vigil summarise --engine`` accepts.
ENGINES: tuple[str, ...] = ("duckdb", "spark")
#: Spark's master when none is given: this machine, two cores.
LOCAL_MASTER = "local[2]"
#: Numbers the temporary views of the logs Spark reads.
_VIEW_NUMBERS = itertools.count(1)


class EngineUnavailableError(VigilError):
    """The engine cannot start here (Spark without pyspark or without Java)."""


def java_missing() -> str | None:
    """Why Spark cannot start on this machine (no Java), or None when a ``java`` is found."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return None
    if shutil.which("java"):
        return None
    return ("Spark needs a Java runtime (17 or later) and none was found: install one (e.g. the "
            "openjdk-17-jre-headless package) or set JAVA_HOME")


@dataclass(frozen=True)
class Engine:
    """An Ibis backend that reads Parquet logs; :func:`open_engine` makes one, :meth:`close` ends it."""

    name: str
    backend: Any
    session: Any = None

    def table(self, paths: list[str]) -> ir.Table:
        """The Parquet files (or folders of a partitioned dataset) in ``paths`` as one table."""
        if not paths:
            raise InvalidInputError("no Parquet file to summarise")
        if self.session is None:
            return self.backend.read_parquet(paths)
        name = f"vigil_log_{next(_VIEW_NUMBERS)}"
        self.session.read.parquet(*paths).createOrReplaceTempView(name)
        return self.backend.table(name)

    def frame(self, expression: ir.Table) -> pd.DataFrame:
        """Run ``expression`` on this engine; its rows as a pandas frame."""
        return self.backend.to_pandas(expression)

    def arrow(self, expression: ir.Table) -> pa.Table:
        """Run ``expression`` on this engine; its rows as an Arrow table of the expression's types."""
        return self.backend.to_pyarrow(expression)

    def close(self) -> None:
        """Stop Spark's session (DuckDB's in-memory connection just closes)."""
        if self.session is not None:
            self.session.stop()
        else:
            self.backend.disconnect()


@dataclass(frozen=True)
class SparkOptions:
    """How Spark starts (``vigil summarise --master``, ``--driver-memory``), passed as one from
    :func:`analytics.scaleout.summarise` through :func:`open_engine` to :func:`spark_session`.

    Attributes
    ----------
    master : str, optional
        Spark's master URL (:data:`LOCAL_MASTER` when not given; ``spark://host:7077``, ``yarn``, ...).
    driver_memory : str, optional
        Spark's driver heap (``"4g"``); a local session defaults to :func:`local_driver_memory`, otherwise
        to the cluster's configuration.
    """

    master: str | None = None
    driver_memory: str | None = None


def open_engine(name: str, spark: SparkOptions = SparkOptions()) -> Engine:
    """Start ``name`` (one of :data:`ENGINES`); ``spark``: how Spark starts (see :func:`spark_session`), given
    only with the Spark engine."""
    if name not in ENGINES:
        raise InvalidInputError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")
    if name == "duckdb":
        for option, value in (("--master", spark.master), ("--driver-memory", spark.driver_memory)):
            if value:
                raise InvalidInputError(f"{option} is Spark's: use it with --engine spark")
        return Engine(name, ibis.duckdb.connect())
    session = spark_session(spark)
    return Engine(name, ibis.pyspark.connect(session), session)


def local_driver_memory(physical_bytes: int | None = None) -> str:
    """The heap of a local Spark session by default: a quarter of the machine's memory, between 1 and 8 GB.

    In ``local`` mode the driver's heap is also the executors' memory; Spark's own default (1 GB) ran out
    at 10 M log rows, 3 GB sufficed (docs/scale-out.md).

    Parameters
    ----------
    physical_bytes : int, optional
        The machine's memory; read from the operating system when not given.

    Returns
    -------
    str
        A Spark memory size in whole gigabytes, e.g. ``"6g"``.
    """
    if physical_bytes is None:
        physical_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{min(8, max(1, physical_bytes // 4 // 2**30))}g"


def spark_session(spark: SparkOptions) -> Any:
    """A Spark session on ``spark.master`` (default :data:`LOCAL_MASTER`), kept small when local (no UI, 2 shuffle
    partitions, loopback only).

    ``spark.driver_memory`` (e.g. ``"4g"``) sets ``spark.driver.memory``; when local it defaults to
    :func:`local_driver_memory`, otherwise to the cluster's configuration.
    """
    master, driver_memory = spark.master or LOCAL_MASTER, spark.driver_memory
    why = java_missing()
    if why:
        raise EngineUnavailableError(why)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineUnavailableError("the Spark engine needs pyspark: pip install 'vigil[spark]'") from None
    builder = (SparkSession.builder.master(master).appName("vigil-summarise")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2" if master.startswith("local") else "200")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
    if master.startswith("local"):
        builder = (builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.default.parallelism", "2"))
        driver_memory = driver_memory or local_driver_memory()
    if driver_memory:
        builder = builder.config("spark.driver.memory", driver_memory)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
