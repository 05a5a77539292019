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

    python scripts/bench_monitor.py --db <a COPY of the demo store> --replay

instead replays the demo's alerting history (``analytics.demo._alerts.replay``, the demo build's last step) on
an already built store: it first deletes the store's rules, evaluations, alerts, incidents, notifications and
retraining requests (so only ever on a copy), then, in a fresh subprocess, prints the replay's time, the peak
RSS of each bulk call of the monitor (the process's high-water mark reset before each call) and of the whole
process, and a digest of the evaluations and alerts written (statuses exact, values to 9 significant digits),
so that two builds of the code can be compared on the same store.
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


_REPLAY = r"""
import hashlib, json, sys, time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from analytics import store
from analytics.alerts import _metrics
from analytics.demo import _alerts as demo_alerts

db, steps = Path(sys.argv[1]), sys.argv[2] == "steps"
end = store.read(lambda c: c.execute(
    "SELECT date_trunc('day', max(predicted_at)) + INTERVAL 1 DAY FROM predictions_credit_default").fetchone()[0], db)
rows = store.read(lambda c: c.execute("SELECT count(*) FROM predictions_credit_default").fetchone()[0], db)


def high_water_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


overall = [0.0]


def reset_high_water() -> None:
    # Remember the process's peak so far, then reset the kernel's high-water mark (this also resets what
    # getrusage and /usr/bin/time report, so the overall peak is the maximum kept here).
    overall[0] = max(overall[0], high_water_mb())
    if steps:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")


peaks, spent, calls = defaultdict(float), defaultdict(float), defaultdict(int)
for name in ("_drift", "_performance", "_latency", "_fairness", "_newest", "_one_window"):
    original = getattr(_metrics, name)
    def timed(*a, _f=original, _n=name, **k):
        reset_high_water()
        t = time.perf_counter()
        try:
            return _f(*a, **k)
        finally:
            spent[_n] += time.perf_counter() - t
            calls[_n] += 1
            peaks[_n] = max(peaks[_n], high_water_mb()) if steps else float("nan")
    setattr(_metrics, name, timed)
t = time.perf_counter()
cpu = time.process_time()
report = demo_alerts.replay(db, end)
seconds, cpu = time.perf_counter() - t, time.process_time() - cpu


def digest(con):
    evaluations = con.execute(
        "SELECT rule_id, fingerprint, window_end, status, rows, printf('%.9g', value), printf('%.9g', baseline), "
        "printf('%.9g', warning_bound), printf('%.9g', critical_bound) FROM rule_evaluations ORDER BY ALL").fetchall()
    # ids counted from the replay's first (the sequences go on after the reset)
    alerts = con.execute(
        "SELECT alert_id - (SELECT min(alert_id) FROM alerts), fingerprint, severity, state, opened_at, fired_at, "
        "acknowledged_at, escalated_at, resolved_at, incident_id - (SELECT min(incident_id) FROM incidents), muted_by "
        "FROM alerts ORDER BY alert_id").fetchall()
    events = con.execute("SELECT alert_id - (SELECT min(alert_id) FROM alerts), occurred_at, kind FROM alert_events "
                         "ORDER BY event_id").fetchall()
    return ({"evaluations": len(evaluations), "alerts": len(alerts), "events": len(events),
             "statuses": dict(con.execute("SELECT status, count(*) FROM rule_evaluations GROUP BY 1").fetchall())},
            hashlib.sha256(repr(evaluations).encode()).hexdigest()[:16],
            hashlib.sha256(repr((alerts, events)).encode()).hexdigest()[:16])


counts, values, inbox = store.read(digest, db)
reset_high_water()
print(json.dumps({"rows": rows, "end": str(end), "seconds": seconds, "cpu": cpu,
                  "peak_mb": overall[0],
                  "peaks": dict(peaks), "spent": dict(spent), "calls": dict(calls), "counts": counts,
                  "evaluations_digest": values, "inbox_digest": inbox}, default=str))
"""

#: What a replay writes (deleted before it, so that it starts from an inbox as the build leaves it before the step).
_ALERT_STATE = ("rule_evaluations", "alert_events", "alerts", "incidents", "notifications", "retrain_requests",
                "alert_rules")


def replay(db: Path, *, steps: bool) -> None:
    """Delete the store's alerting state and replay the demo's alert history in a fresh process (see the docstring)."""
    from analytics import store

    store.write(lambda con: [con.execute(f"DELETE FROM {table}") for table in _ALERT_STATE], db)
    r = run_child(_REPLAY, db, "steps" if steps else "whole")
    print(f"demo alert replay (180 days, 3 passes) on {r['rows']:,} credit-default rows, ending {r['end']} UTC: "
          f"{r['seconds']:.1f} s wall, {r['cpu']:.1f} CPU-s; peak RSS {r['peak_mb']:,.0f} MB")
    for name in sorted(r["spent"], key=lambda n: -r["spent"][n]):
        peak = f"  peak RSS {r['peaks'][name]:7,.0f} MB" if steps else ""
        print(f"  {name.strip('_'):12s} {r['calls'][name]:5d} calls {r['spent'][name]:7.1f} s{peak}")
    print(f"written: {r['counts']}; evaluations digest {r['evaluations_digest']}, inbox digest {r['inbox_digest']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=str(DEFAULT_DB))
    parser.add_argument("--replay", action="store_true",
                        help="replay the demo's alert history instead (deletes the store's alerting state first)")
    parser.add_argument("--steps", action="store_true",
                        help="with --replay: the peak RSS of each bulk call too (resets the kernel's high-water mark "
                             "before each, so /usr/bin/time's maximum no longer covers the whole run)")
    args = parser.parse_args(argv)
    db = Path(args.db)
    if not db.exists():
        print(f"{db} is missing: build it with 'vigil --db {db} demo --rows 10000000'")
        return
    if args.replay:
        replay(db, steps=args.steps)
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
