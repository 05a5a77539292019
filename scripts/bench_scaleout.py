"""What ``vigil summarise`` costs per engine on a store: the drift rollups of a model's champion rebuilt from scratch.

Usage::

    nice -n 19 python scripts/bench_scaleout.py STORE [MODEL] [--engines native duckdb spark] [--master local[2]]

For each engine, on the given store (a copy you can write: the rollups are dropped and rebuilt):
``native`` is the store's own DuckDB SQL (what an ingest's refresh runs), ``duckdb`` and ``spark`` run the
Ibis queries of analytics/scaleout. Prints the wall time (Spark's start included and also shown apart),
the rows written, and whether each engine's rows equal the native ones (counts, bins, minima and maxima
exactly; sums within 1e-9 relative).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from analytics import drift, store
from analytics.scaleout import open_engine, summarise

_KEY = ["day", "column_name", "bin", "category"]


def _drop(db) -> None:
    store.write(lambda con: con.execute("DELETE FROM drift_rollup; DELETE FROM summary_ledger WHERE summary = 'drift'"), db)


def _rows(db) -> pd.DataFrame:
    frame = store.read(lambda con: con.execute("SELECT * FROM drift_rollup").df(), db)
    return frame.sort_values(_KEY, na_position="first").reset_index(drop=True)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> str:
    """``identical``, or what differs: keys, counts, minima, maxima exactly; sums within 1e-9 relative."""
    exact = ["model_name", "model_version", *_KEY, "n", "vmin", "vmax"]
    if len(a) != len(b):
        return f"DIFFERENT ({len(a)} vs {len(b)} rows)"
    unequal = [c for c in exact if not a[c].astype(str).equals(b[c].astype(str))]
    if unequal:
        return f"DIFFERENT in {', '.join(unequal)}"
    ta, tb = a["total"].to_numpy(float), b["total"].to_numpy(float)
    off = ~np.isclose(ta, tb, rtol=1e-9, atol=0, equal_nan=True)
    if off.any():
        worst = np.nanmax(np.abs(ta - tb)[off] / np.abs(ta)[off])
        return (f"counts, bins, minima and maxima identical; sums of {int(off.sum())} bins beyond 1e-9 relative "
                f"(worst {worst:.1e}, columns {sorted(set(a.loc[off, 'column_name']))})")
    return "identical"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store")
    parser.add_argument("model", nargs="?", default="credit-default")
    parser.add_argument("--engines", nargs="+", default=["native", "duckdb", "spark"])
    parser.add_argument("--master")
    args = parser.parse_args()
    db = args.store
    rows = int(store.read(lambda con: con.execute("SELECT sum(rows) FROM log_segments WHERE model_name = ?",
                                                  [args.model]).fetchone()[0], db))
    print(f"{args.model}: {rows:,} log rows")
    reference = None
    for name in args.engines:
        _drop(db)
        began = time.monotonic()
        if name == "native":
            segments, started = drift.refresh_rollups(db, args.model), 0.0
        else:
            engine = open_engine(name, args.master)
            started = time.monotonic() - began
            try:
                segments = summarise(db, args.model, engine=engine).days
            finally:
                engine.close()
        seconds = time.monotonic() - began
        written = _rows(db)
        if reference is None:
            reference = written
        same = "reference" if written is reference else _same(reference, written)
        print(f"{name:7s} {seconds:7.1f} s (engine start {started:5.1f} s)  {segments} days  "
              f"{len(written):,} rollup rows  {same}")


if __name__ == "__main__":
    main()
