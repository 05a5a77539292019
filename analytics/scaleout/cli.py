"""``vigil summarise``: compute a model's stored summaries with DuckDB or with Apache Spark.

Usage::

    vigil summarise MODEL [--version V]                               # DuckDB, in this process
    vigil summarise --engine spark MODEL                              # local Spark (local[2])
    vigil summarise --engine spark --master spark://host:7077 --logs /data/logs/credit \
                    --outcomes /data/outcomes/credit MODEL

The engine computes the summaries (drift rollups, serving, KPI, fairness, performance) of the days not yet
summarised (of every day when ``--logs`` names where the engine reads the log); this process merges
them into the store.
See docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import re

from analytics.cli_support import store_path


def _memory_size(text: str) -> str:
    """A Spark memory size such as ``512m`` or ``4g``."""
    if not re.fullmatch(r"[1-9][0-9]*[kmgt]", text.strip().lower()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a memory size: write a whole number and k, m, g or t, e.g. 4g")
    return text.strip().lower()


def cmd_summarise(args: argparse.Namespace) -> int:
    """Run :func:`analytics.scaleout.summarise` and print its one-line report."""
    from analytics.scaleout import SparkOptions, summarise  # Ibis and the engines load only for this command

    report = summarise(str(store_path(args)), args.model, engine=args.engine, version=args.version,
                       logs=args.logs, outcomes=args.outcomes,
                       spark=SparkOptions(master=args.master, driver_memory=args.driver_memory))
    print(report.summary())
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``vigil summarise``."""
    p = subparsers.add_parser("summarise", help="compute a model's stored summaries with DuckDB or Apache Spark",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="registered model name")
    p.add_argument("--engine", default="duckdb", choices=("duckdb", "spark"), help="who computes (default duckdb)")
    p.add_argument("--master", help="Spark's master URL (default local[2]); with --engine spark")
    p.add_argument("--driver-memory", metavar="SIZE", type=_memory_size,
                   help="Spark driver's heap, e.g. 4g (local default: a quarter of this machine's memory, 1-8 GB; "
                        "otherwise the cluster's setting); with --engine spark")
    p.add_argument("--logs", metavar="PATH",
                   help="where the engine reads the model's Parquet log (default: the store's segments)")
    p.add_argument("--outcomes", metavar="PATH",
                   help="where the engine reads the model's outcomes as Parquet (default: an export of the store's)")
    p.add_argument("--version", help="the version whose drift rollups to compute (default: the champion)")
    p.set_defaults(func=cmd_summarise)
