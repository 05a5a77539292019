"""Page benchmark (issue 15): every page of the app on a demo store, cold and warm, with its analytics calls.

    python scripts/bench_pages.py [--db data/bench/demo10m.duckdb] [--model credit-default] [--pages drift,kpis]

Each page runs as the app runs it (Streamlit's ``AppTest`` of ``app/main.py``, signed in as the demo's
admin, whose password ``vigil demo`` wrote to ``demo-credentials.txt`` beside the store), in a fresh
Python process of its own:

- **cold**: the page's first run in that process, after signing in on the Settings page (the sign-in is
  not timed) and clearing Streamlit's caches, so the sidebar's and the page's analytics calls all run:
  the page's own modules are imported, the in-process caches of analytics are empty, DuckDB opens the
  file again. The operating system's file cache is not dropped (that would disturb everyone else on
  the machine): "cold" means a cold process, not a cold disk.
- **warm**: the page again in that process after clearing Streamlit's caches (``st.cache_data``), so
  every analytics call runs again: the raw cost of a visit without the page cache (median of
  ``--repeat`` runs).

"analytics s" is the part of the run spent inside analytics calls made through ``app.queries`` (the
page's cached calls); "slowest call" names the costliest of them in the cold run. Per-model pages look
at ``--model`` over the default window (the last 90 days). Targets (issue 15): every page < 3 s cold and
< 1 s warm on 2 cores. Wall-clock figures depend on the load of the (shared) machine: the load
average is printed with them, and the CPU seconds of the cold run and the median of the warm runs beside
them (on a busy machine they move less than the wall clock). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from _bench import ChildFailed, run_child

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DB = REPO / "data" / "bench" / "demo10m.duckdb"
COLD_TARGET, WARM_TARGET = 3.0, 1.0
ADMIN = "ada.admin"
SIGN_IN_PAGE = "pages/settings.py"

_CHILD = """
import json, logging, statistics, sys, time
logging.disable(logging.WARNING)
import streamlit as st
from streamlit.testing.v1 import AppTest
import app.queries as queries

page, user, password, model, repeat = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
calls = []
resolve = queries._resolve

def timed_resolve(name):
    fn = resolve(name)
    def run(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            calls.append((name, time.perf_counter() - t))
    return run

queries._resolve = timed_resolve
at = AppTest.from_file("app/main.py", default_timeout=900)
if model:
    at.query_params["model"] = model
at.switch_page("../""" + SIGN_IN_PAGE + """")
at.run()
at.text_input(key="vigil_sign_in_username").input(user)
at.text_input(key="vigil_sign_in_password").input(password)
at.button(key="vigil_sign_in_submit").click().run()
if at.exception:
    sys.exit(f"signing in failed: {at.exception}")

def visit():
    st.cache_data.clear()
    calls.clear()
    cpu, t = time.process_time(), time.perf_counter()
    at.switch_page("../" + page).run()
    wall = time.perf_counter() - t
    errors = [e.value for e in at.exception] + [e.value for e in at.error]
    slowest = max(calls, key=lambda c: c[1]) if calls else ("", 0.0)
    return {"wall": wall, "cpu": time.process_time() - cpu, "analytics": sum(s for _, s in calls),
            "calls": len(calls), "slowest": slowest[0].split(":")[-1], "slowest_s": slowest[1],
            "errors": [str(e)[:200] for e in errors]}

cold = visit()
warm = [visit() for _ in range(repeat)]
print(json.dumps({"cold": cold, "warm": warm}))
"""


def password_of(db: Path, user: str) -> str:
    """The user's password from ``demo-credentials.txt`` beside the store (written by ``vigil demo``)."""
    path = db.parent / "demo-credentials.txt"
    if not path.is_file():
        sys.exit(f"no {path.name} beside {db}: the page benchmark needs a store built by `vigil demo`")
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == user:
            return parts[2]
    sys.exit(f"{path} names no {user}")


def page_files() -> list[tuple[str, str, bool]]:
    """(title, script, per model) of every page of the navigation."""
    sys.path.insert(0, str(REPO))
    from app.navigation import PAGES

    return [(spec.title, f"pages/{Path(spec.file).name}", spec.per_model) for spec in PAGES]


def measure(db: Path, user: str, page: str, model: str, repeat: int) -> dict:
    """One fresh process: sign in, the page's cold run, then ``repeat`` warm runs."""
    with tempfile.TemporaryDirectory() as data_dir:  # the sign-in's session lives in the store, nothing here
        env = {"VIGIL_DB": str(db), "VIGIL_AUTH": "local", "VIGIL_DATA_DIR": data_dir}
        try:
            return run_child(_CHILD, page, user, password_of(db, user), model, repeat, env=env)
        except ChildFailed as failed:
            return {"failed": str(failed)[-400:]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--model", default="credit-default", help="the model per-model pages look at")
    parser.add_argument("--pages", default="", help="comma-separated page titles or script names (default: all)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--user", default=ADMIN, help="who signs in (an admin sees every page)")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        sys.exit(f"no store at {args.db}: build it with `vigil --db {args.db} demo --rows 10000000`")
    wanted = {w.strip().lower() for w in args.pages.split(",") if w.strip()}
    pages = [p for p in page_files() if not wanted or p[0].lower() in wanted or Path(p[1]).stem in wanted]
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; store {args.db}; "
          f"per-model pages on {args.model}, last 90 days; cold = first run in a fresh process, warm = median of "
          f"{args.repeat} runs without the page cache (targets: cold < {COLD_TARGET} s, warm < {WARM_TARGET} s)")
    print(f"{'page':<18} {'cold s':>7} {'warm s':>7} {'cold cpu':>8} {'warm cpu':>8} {'analytics':>9} {'calls':>5}  "
          "slowest call (cold)")
    for title, script, per_model in pages:
        r = measure(args.db, args.user, script, args.model if per_model else "", args.repeat)
        if "failed" in r:
            print(f"{title:<18} failed: {r['failed']}")
            continue
        cold = r["cold"]
        warm = statistics.median(w["wall"] for w in r["warm"]) if r["warm"] else float("nan")
        warm_cpu = statistics.median(w["cpu"] for w in r["warm"]) if r["warm"] else float("nan")
        verdict = "" if cold["wall"] < COLD_TARGET and warm < WARM_TARGET else "  MISSED"
        errors = f"  page errors: {'; '.join(cold['errors'])}" if cold["errors"] else ""
        print(f"{title:<18} {cold['wall']:>7.2f} {warm:>7.2f} {cold['cpu']:>8.2f} {warm_cpu:>8.2f} {cold['analytics']:>9.2f} "
              f"{cold['calls']:>5}  {cold['slowest']} {cold['slowest_s']:.2f} s{verdict}{errors}", flush=True)


if __name__ == "__main__":
    main()
