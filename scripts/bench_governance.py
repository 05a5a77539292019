"""Governance benchmark (issue 8): chain verification, the evidence pack, the dossier (HTML and PDF).

    python scripts/bench_governance.py [--db /tmp/demo/vigil.duckdb] [--rows 100000] [--repeat 3]

- **audit verify**: :func:`analytics.audit.verify` on a scratch store holding ``--rows`` audit rows
  (written once with :func:`analytics.audit.record`, not timed), median of ``--repeat`` runs; and on
  the store given with ``--db`` (read only).
- **audited write**: median latency of one ``store.write`` holding one ``audit.record`` (open, commit, close,
  and the fsync'd anchor append), then the same with the anchor file removed (no append): the anchor's cost.
- **evidence pack**: :func:`analytics.governance.assemble` for every version of every model of
  ``--db`` (reference ROC AUC, champion comparison, recent realised ROC AUC, drift, fairness).
- **dossier**: :func:`analytics.governance.dossier_html` of each model's champion, and its PDF via
  headless Chromium (:func:`analytics.governance.html_to_pdf`).

Wall-clock seconds; the machine is shared, so the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics import audit, governance, registry, store  # noqa: E402
from analytics.roles import Actor  # noqa: E402


def _timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def _chain(con, actor: Actor, t0: datetime, rows: int) -> None:
    """Write ``rows`` chained audit rows in one insert (hashes as :func:`analytics.audit.record` makes them)."""
    import pandas as pd

    prev, records = audit.GENESIS_HASH, []
    for seq in range(1, rows + 1):
        at, details = t0 + timedelta(seconds=seq), f'{{"i":{seq}}}'
        digest = audit.row_hash(seq, at, actor.username, actor.role, "bench.row", "bench", str(seq), details, prev)
        records.append((seq, at, actor.username, actor.role, "bench.row", "bench", str(seq), details, prev, digest,
                        audit.row_mac(digest)))
        prev = digest
    columns = [*audit.EXPORT_COLUMNS, "row_mac"]
    con.register("chain", pd.DataFrame(records, columns=columns))
    con.execute(f"INSERT INTO audit_log ({', '.join(columns)}) SELECT * FROM chain")


def _audited_writes(db: Path, actor: Actor, n: int = 60) -> None:
    """Print the median latency of one audited write with and without the anchor append."""
    from analytics import audit_anchor

    def median_ms() -> float:
        runs = []
        for i in range(n):
            t0 = time.perf_counter()
            store.write(lambda con: audit.record(con, actor, "bench.write", "bench", str(i)), db)
            runs.append(time.perf_counter() - t0)
        return statistics.median(runs) * 1000

    store.create(db)
    anchored = median_ms()
    audit_anchor.anchor_path(db).unlink()
    print(f"audited write (median of {n}): {anchored:.1f} ms with the fsync'd anchor append, "
          f"{median_ms():.1f} ms without")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a demo store (opening it upgrades its schema in place); default: none")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} (shared machine)")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "audit.duckdb"
        actor, t0 = Actor("bench", "approver"), datetime(2026, 1, 1)
        store.write(lambda con: _chain(con, actor, t0, args.rows), scratch)
        seconds = _timed(lambda: store.read(audit.verify, scratch), args.repeat)
        print(f"audit verify, {args.rows:,} rows: {seconds:.2f} s ({args.rows / seconds:,.0f} rows/s)")
        _audited_writes(Path(tmp) / "writes.duckdb", actor)
    if not args.db or not Path(args.db).exists():
        print("no --db store: evidence and dossier timings skipped (build one with 'vigil --db X demo')")
        return 0
    db = Path(args.db)
    status = store.read(audit.verify, db)
    print(f"audit verify on {db}: {status.rows:,} rows, intact={status.intact}, "
          f"{_timed(lambda: store.read(audit.verify, db), args.repeat):.3f} s")
    versions = store.read(lambda con: registry.list_versions(con), db)
    for model, version in zip(versions["model_name"], versions["version"]):
        t = time.perf_counter()
        pack = store.read(lambda con: governance.assemble(con, model, version), db)
        print(f"evidence pack {model}:{version}: {time.perf_counter() - t:.2f} s, "
              f"{len(pack.results)} checks, {len(pack.failed)} failing")
    for model in versions["model_name"].unique():
        champion = store.read(lambda con: registry.champion_version(con, model), db)
        if champion is None:
            continue
        t = time.perf_counter()
        document = store.read(lambda con: governance.dossier_html(con, model, champion), db)
        html_s = time.perf_counter() - t
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            pdf = governance.html_to_pdf(document, Path(tmp) / "d.pdf")
            pdf_s, size = time.perf_counter() - t, pdf.stat().st_size
        print(f"dossier {model}:{champion}: HTML {html_s:.2f} s ({len(document) / 1024:.0f} KiB), "
              f"PDF {pdf_s:.2f} s ({size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
