"""What ``vigil summarise`` costs per engine on a store: every stored summary of a model rebuilt from scratch.

Usage::

    nice -n 10 python scripts/bench_scaleout.py STORE [MODEL] [--engines native duckdb spark] [--master local[2]]

For each engine, on the given store (a copy you can write: the summaries are dropped and rebuilt): ``native``
is the store's own DuckDB SQL (what an ingest's refresh runs: drift rollups of the champion, serving, KPI,
fairness and performance cells), ``duckdb`` and ``spark`` run the Ibis queries of analytics/scaleout (one query for every summary)
and merge their rows. Prints the wall time (Spark's start included and also shown apart), the days and rows
written, and, per table, whether each engine's rows equal the native ones (keys, counts, minima, maxima,
percentiles and the ledger exactly; sums within 1e-9 relative).
"""

from __future__ import annotations

import argparse
import time

from analytics import store, summaries
from analytics.scaleout import SparkOptions, differences, open_engine, summarise, summary_rows


def _drop(db, model: str) -> None:
    def forget(con) -> None:
        for declared in summaries.declarations():
            summaries.forget(con, declared.name, model)
    store.write(forget, db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store")
    parser.add_argument("model", nargs="?", default="credit-default")
    parser.add_argument("--engines", nargs="+", default=["native", "duckdb", "spark"])
    parser.add_argument("--master")
    args = parser.parse_args()
    db, model = args.store, args.model
    rows = int(store.read(lambda con: con.execute("SELECT sum(rows) FROM log_segments WHERE model_name = ?",
                                                  [model]).fetchone()[0], db))
    print(f"{model}: {rows:,} log rows", flush=True)
    reference = None
    for name in args.engines:
        _drop(db, model)
        began = time.monotonic()
        if name == "native":
            days, started = summaries.refresh_store(db, model).of(model), 0.0
        else:
            engine = open_engine(name, SparkOptions(master=args.master))
            started = time.monotonic() - began
            try:
                days = summarise(db, model, engine=engine).days
            finally:
                engine.close()
        seconds = time.monotonic() - began
        written = summary_rows(db, model)
        print(f"{name:7s} {seconds:7.1f} s (engine start {started:5.1f} s)  days {days}", flush=True)
        if reference is None:
            reference = written
            print("        rows: " + ", ".join(f"{t} {len(f):,}" for t, f in written.items()), flush=True)
        else:
            for table, verdict in differences(reference, written).items():
                print(f"        {table:22s} {verdict}", flush=True)


if __name__ == "__main__":
    main()
