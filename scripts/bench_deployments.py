"""Benchmark of the deployment comparison on the bench store (10 M credit-default rows): the paired shadow
comparison of credit-default v1 and v2 and the canary comparison of employment v1 and v3, cold and warm.

    python scripts/bench_deployments.py [--db data/bench/bench.duckdb] [--repeat 5]

Build the store once with ``vigil --db data/bench/bench.duckdb demo --rows 10000000`` (about 11 minutes).
Prints the verdicts with their numbers (the issue's figures) and the times; the target is < 1 s warm.
"""

from __future__ import annotations

import argparse
import statistics
import time

from analytics import deployments, store
from analytics.deployments.cli import format_comparison


def _time(db, model, baseline, candidate, repeat):
    times = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = deployments.compare(db, model, baseline=baseline, candidate=candidate)
        times.append(time.perf_counter() - started)
    return result, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="data/bench/bench.duckdb")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = store.read(lambda con: con.execute("SELECT count(*) FROM predictions_credit_default").fetchone()[0], args.db)
    print(f"store {args.db}: {rows:,} credit-default rows")
    for model, baseline, candidate in (("credit-default", "v1", "v2"), ("employment", "v1", "v3")):
        result, times = _time(args.db, model, baseline, candidate, args.repeat)
        print()
        print(format_comparison(result))
        warm = times[1:] or times
        print(f"\ntime {model} {candidate} vs {baseline}: first {times[0]:.2f} s, warm median "
              f"{statistics.median(warm):.2f} s (min {min(warm):.2f}, max {max(warm):.2f}, {len(warm)} runs)")


if __name__ == "__main__":
    main()
