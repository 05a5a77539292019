"""Monitor benchmark (issue 16): one ``vigil monitor`` pass over the default rules of the 10M-row demo.

    python scripts/bench_monitor.py [--db data/bench/demo10m.duckdb]

Adds the default rules of both demo models to the store if it has none (as ``vigil rules defaults``
would) and, once, replays the 43 days before the last window (so baselines are read from the stored
evaluations, as for a monitor run from cron), then measures in a fresh subprocess:

1. cold: the pass for the last complete window (new process, DuckDB opening the file, the daily
   drift rollups and business summaries already current, as after an ingest's refresh);
2. warm: the same pass again in that process after deleting that window's evaluations (what a
   pass costs when nothing is cached but the reference profiles);
3. the slowest rule families of the cold pass (time of each bulk call).

It prints figures and asserts nothing. The target: a pass < 5 s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _bench import run_child

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DB = REPO / "data" / "bench" / "demo10m.duckdb"

_HISTORY = r"""
import json, sys, time
from datetime import timedelta
import duckdb
from analytics import alerts, store
db = sys.argv[1]
con = duckdb.connect(db, read_only=True)
store.bind_store_folder(con)
end = con.execute("SELECT date_trunc('day', max(predicted_at)) + INTERVAL 1 DAY FROM predictions_credit_default").fetchone()[0]
con.close()
days = 3 * 14 + 1
t = time.perf_counter()
report = alerts.monitor(db, at=end - timedelta(hours=1), since=end - timedelta(days=days), send=False)
print(json.dumps({"days": days, "evaluated": report.evaluated, "seconds": time.perf_counter() - t}))
"""

_PASS = r"""
import json, resource, sys, time
from collections import defaultdict
from datetime import datetime, timedelta
import duckdb
from analytics import alerts, store
from analytics.alerts import _metrics
from analytics.roles import Actor

db = sys.argv[1]
con = duckdb.connect(db, read_only=True)
store.bind_store_folder(con)
end = con.execute("SELECT date_trunc('day', max(predicted_at)) + INTERVAL 1 DAY FROM predictions_credit_default").fetchone()[0]
rows = con.execute("SELECT count(*) FROM predictions_credit_default").fetchone()[0]
con.close()
spent = defaultdict(float)
for name in ("_drift", "_performance", "_latency", "_fairness", "_newest", "_one_window"):
    original = getattr(_metrics, name)
    def timed(*a, _f=original, _n=name, **k):
        t = time.perf_counter()
        try:
            return _f(*a, **k)
        finally:
            spent[_n] += time.perf_counter() - t
    setattr(_metrics, name, timed)
def wipe(c):
    c.execute("DELETE FROM rule_evaluations WHERE window_end >= ? - INTERVAL 1 HOUR", [end])
store.write(wipe, db)
t = time.perf_counter()
cold = alerts.monitor(db, at=end, send=False)
cold_s = time.perf_counter() - t
by_call = dict(spent)
store.write(wipe, db)
t = time.perf_counter()
warm = alerts.monitor(db, at=end, send=False)
warm_s = time.perf_counter() - t
print(json.dumps({"rows": rows, "end": str(end), "cold": cold_s, "warm": warm_s, "evaluated": cold.evaluated,
                  "warm_evaluated": warm.evaluated, "messages": cold.messages, "by_call": by_call,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=str(DEFAULT_DB))
    args = parser.parse_args(argv)
    db = Path(args.db)
    if not db.exists():
        print(f"{db} is missing: build it with 'vigil --db {db} demo --rows 10000000'")
        return
    from analytics import alerts, store

    def ensure_rules(con) -> int:
        if alerts.rules(con):
            return 0
        from analytics.roles import Actor

        added = [alerts.save_rule(con, Actor("bench", "system"), r) for m in ("credit-default", "employment")
                 for r in alerts.default_rules(con, m)]
        return len(added)

    added = store.write(ensure_rules, db)
    if added:
        print(f"added the {added} default rules of the two demo models")
    history = run_child(_HISTORY, db)
    if history["evaluated"]:
        print(f"history: the {history['days']} days before the last window replayed once ({history['evaluated']:,} "
              f"rule windows) in {history['seconds']:.1f} s, so a pass reads its baselines from the store")
    result = run_child(_PASS, db)
    print(f"vigil monitor, one pass of the window ending {result['end']} UTC on {result['rows']:,} credit-default "
          f"rows: cold {result['cold']:.2f} s, warm {result['warm']:.2f} s (target < 5 s); "
          f"{result['evaluated']} rule windows evaluated; peak RSS {result['peak_mb']:,.0f} MB")
    calls = ", ".join(f"{k.strip('_')} {v:.2f} s" for k, v in sorted(result["by_call"].items(), key=lambda kv: -kv[1]))
    print(f"cold pass by call: {calls}")
    for message in result["messages"]:
        print(f"  note: {message}")


if __name__ == "__main__":
    main(sys.argv[1:])
