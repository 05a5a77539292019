"""Ingest benchmark (issue 2): rows/s and peak memory of one Parquet file into an empty log.

    python scripts/bench_ingest.py [--rows 1000000 10000000]

Each ingest runs in a fresh subprocess, so its peak resident memory (ru_maxrss) is its own. Beside
wall time the table gives the ingest's CPU time (all its threads) and the machine's load average
before the run: on a shared machine other work slows the wall clock, not the CPU seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import duckdb
from _bench import run_child

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "data" / "bench"


def _credit_parquet(path: Path, rows: int) -> None:
    """Write ``rows`` synthetic credit-default prediction rows to Parquet, generated inside DuckDB."""
    from analytics.demo._credit import SCHEMA

    exprs = [
        "'b-' || lpad(CAST(i AS VARCHAR), 10, '0') AS prediction_id",
        "TIMESTAMP '2026-01-01' + INTERVAL 1 SECOND * (i % 15552000) AS predicted_at",
        "'v1' AS model_version", "'champion' AS deployment_role",
        "random() AS score", "CAST(random() < 0.22 AS TINYINT) AS decision",
        "20 + 30 * random() AS latency_ms", "0.00042 AS cost",
    ]
    for column in SCHEMA.columns:
        if column.dtype == "double":
            exprs.append(f"round(random() * 500000, 0) AS {column.name}")
        elif column.dtype == "integer":
            exprs.append(f"CAST(floor(random() * 60) AS BIGINT) AS {column.name}")
        else:
            exprs.append(f"['a', 'b', 'c', 'd'][1 + CAST(floor(random() * 4) AS INTEGER)] AS {column.name}")
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    con.execute(f"COPY (SELECT {', '.join(exprs)} FROM range({rows}) t(i)) TO '{path}' "
                "(FORMAT parquet, ROW_GROUP_SIZE 500000)")
    con.close()


def _fresh_store(db: Path) -> None:
    from analytics import registry, store
    from analytics.demo._credit import SCHEMA
    from analytics.roles import system_actor

    for suffix in ("", ".wal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(db.parent / f"{db.stem}.logs", ignore_errors=True)  # the segments of the last run
    actor = system_actor()
    store.write(lambda con: registry.register_model(con, actor, "credit-default", SCHEMA, owner="bench"), db)
    store.write(lambda con: registry.register_version(con, actor, "credit-default", "v1", threshold=0.5,
                                                      owner="bench"), db)


_CHILD = """
import json, resource, sys, time
from analytics.ingest import ingest
t, cpu = time.perf_counter(), time.process_time()
r = ingest("credit-default", sys.argv[1], db=sys.argv[2])
seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
print(json.dumps({"status": r.status, "rows": r.rows_loaded, "seconds": seconds, "cpu_seconds": cpu,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(sizes: list[int]) -> None:
    """Ingest throughput (rows/s) and peak memory of one Parquet file into an empty log."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    from analytics.ingest import DEFAULT_BATCH_ROWS

    print(f"Ingest from Parquet into an empty credit-default log (35 columns), batches of {DEFAULT_BATCH_ROWS:,} rows")
    print(f"{'rows':>12} {'seconds':>9} {'rows/s':>12} {'peak MB':>9} {'CPU s':>7} {'load':>5}  status")
    for rows in sizes:
        parquet = BENCH_DIR / f"credit_{rows}.parquet"
        if not parquet.exists():
            _credit_parquet(parquet, rows)
        db = BENCH_DIR / "ingest.duckdb"
        _fresh_store(db)
        load = os.getloadavg()[0]
        result = run_child(_CHILD, parquet, db)
        print(f"{rows:>12,} {result['seconds']:>9.2f} {rows / result['seconds']:>12,.0f} "
              f"{result['peak_mb']:>9,.0f} {result['cpu_seconds']:>7.1f} {load:>5.2f}  "
              f"{result['status']}, {result['rows']:,} loaded")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    run(parser.parse_args(argv).rows)


if __name__ == "__main__":
    main()
