"""Backup benchmark (issue 18 section 5): ``vigil backup`` and ``vigil restore`` of a demo store.

    python scripts/bench_backup.py [--db data/bench/demo10m.duckdb]

Measures, on a copy-free run against the given store (built beforehand with
``vigil --db PATH demo --rows N``):

1. a backup into a fresh temporary folder: total seconds, and how long the store was held
   exclusively (what the app and ingests wait for at most), with the bytes copied;
2. a write from another process started with the backup: how long it took (it waits for the hold);
3. a restore of that backup to a new path (checking every file's sha256 first).

It prints figures and asserts nothing. The backup leaves a ``store.backup`` row in the store's audit trail.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DB = REPO / "data" / "bench" / "demo10m.duckdb"

_WRITER = r"""
import sys, time
from analytics import store
print("ready", flush=True)
sys.stdin.readline()
t = time.perf_counter()
store.write(lambda con: con.execute("SELECT 1"), sys.argv[1])
print(f"{time.perf_counter() - t:.3f}")
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=str(DEFAULT_DB))
    args = parser.parse_args(argv)
    db = Path(args.db)
    if not db.exists():
        print(f"{db} is missing: build it with 'vigil --db {db} demo --rows 10000000'")
        return
    sys.path.insert(0, str(REPO))
    from analytics import backup, store
    from analytics.roles import system_actor

    rows = store.read(lambda con: con.execute("SELECT sum(rows) FROM log_segments").fetchone()[0], db)
    with tempfile.TemporaryDirectory(dir=db.parent) as scratch:
        folder = Path(scratch) / "backup"
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        writer.stdout.readline()  # imported and ready: told to write the moment the backup starts
        writer.stdin.write("go\n")
        writer.stdin.flush()
        result = backup.backup(db, folder, system_actor())
        waited = writer.communicate(timeout=300)[0].strip()
        m = result.manifest
        print(f"backup of {db} ({rows:,} logged rows): {result.seconds:.2f} s in all, store held for "
              f"{result.held_seconds:.2f} s; {m.total_bytes / 1e6:,.0f} MB ({m.store.bytes / 1e6:,.0f} MB store file, "
              f"{len(m.segments)} segments of {sum(s.bytes for s in m.segments) / 1e6:,.0f} MB)")
        print(f"a write from another process started with it completed in {waited} s")
        restored = backup.restore(folder, system_actor(), to=Path(scratch) / "restored" / db.name)
        print(f"restore to a new path (sha256 of every file checked): {restored.seconds:.2f} s")


if __name__ == "__main__":
    main()
