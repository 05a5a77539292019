"""Two processes on one DuckDB file: a large batched ingest while another process reads and writes.

DuckDB lets one process hold the file at a time; Vigil holds it per unit of work and retries a
conflicting open with back-off. These tests run real processes (spawn) on a store in tmp_path.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
import traceback

import duckdb
import pytest

from analytics import audit, store
from analytics.errors import StoreBusyError
from analytics.ingest import ingest
from analytics.roles import Actor

ROWS = 200_000
BATCH = 20_000
OPERATOR = Actor("cli:concurrency", "system")


def _ingest_worker(db: str, source: str, started, done, results) -> None:
    """Child process: ingest the whole file in batches; report the outcome or the error."""
    try:
        started.set()
        report = ingest("toy-model", source, db=db, batch_rows=BATCH, actor=OPERATOR)
        results.put(("ingest", report.status, report.rows_loaded, report.rows_read))
    except BaseException:  # noqa: BLE001 - every failure is reported to the parent
        results.put(("error", "ingest", traceback.format_exc()))
    finally:
        done.set()


def _reader_writer_worker(db: str, started, done, results) -> None:
    """Child process: until the ingest ends, read counts and append audit rows, one unit of work each."""
    try:
        started.wait(30)
        seen, writes = set(), 0
        while True:
            finished = done.is_set()
            seen.add(store.read(lambda con: con.execute("SELECT count(*) FROM predictions_toy_model").fetchone()[0],
                                db))
            store.write(lambda con: audit.record(con, OPERATOR, "monitor.tick", "store", "toy-model", {"n": writes}),
                        db)
            writes += 1
            if finished and writes >= 5:
                break
        results.put(("reader", sorted(seen), writes))
    except BaseException:  # noqa: BLE001
        results.put(("error", "reader", traceback.format_exc()))


def test_ingest_and_reader_writer_run_side_by_side(toy, tmp_path):
    """A 200k-row ingest in 20k batches and a process that reads and audits meanwhile both succeed.

    Every row lands, every audit write lands, the chain verifies, and the reader only ever sees the
    ingest whole or not at all (0 or 200k rows through the view).
    """
    db = toy.db
    source = tmp_path / "big.parquet"
    toy.predictions(ROWS).to_parquet(source, row_group_size=BATCH)
    audit_before = store.read(lambda con: con.execute("SELECT count(*) FROM audit_log").fetchone()[0], db)

    ctx = mp.get_context("spawn")
    started, done, results = ctx.Event(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_ingest_worker, args=(str(db), str(source), started, done, results)),
             ctx.Process(target=_reader_writer_worker, args=(str(db), started, done, results))]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    messages = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    elapsed = time.monotonic() - t0

    errors = [m for m in messages if m[0] == "error"]
    assert not errors, "\n".join(f"{who}: {tb}" for _, who, tb in errors)
    assert [p.exitcode for p in procs] == [0, 0]
    by_kind = {m[0]: m for m in messages}
    assert by_kind["ingest"][1:] == ("committed", ROWS, ROWS)
    seen, writes = by_kind["reader"][1], by_kind["reader"][2]
    assert set(seen) <= {0, ROWS}, f"a reader saw a partial ingest: {seen}"
    assert seen[-1] == ROWS
    print(f"reader saw {seen}, {writes} audit writes, {elapsed:.1f} s")

    def final(con):
        return (con.execute("SELECT count(*), count(DISTINCT prediction_id) FROM predictions_toy_model").fetchone(),
                con.execute("SELECT count(*) FROM audit_log WHERE action = 'monitor.tick'").fetchone()[0],
                con.execute("SELECT count(*) FROM audit_log").fetchone()[0],
                audit.verify(con))

    (rows, distinct), ticks, total, chain = store.read(final, db)
    assert (rows, distinct) == (ROWS, ROWS)
    assert ticks == writes
    assert total == audit_before + writes + 1  # + the ingest's own audit row
    assert (chain.intact, chain.rows) == (True, total)
    assert elapsed < 60, f"took {elapsed:.1f} s"


def _hold_the_file(db: str, holding, release) -> None:
    """Child process: keep the store open (so locked) until told to release it."""
    con = duckdb.connect(db)
    holding.set()
    release.wait(30)
    con.close()


def test_a_locked_store_is_waited_for_then_reported_busy(tmp_path, monkeypatch):
    """While another process holds the file, a unit of work waits; past VIGIL_LOCK_TIMEOUT it says 'busy'."""
    db = tmp_path / "vigil.duckdb"
    store.create(db)
    ctx = mp.get_context("spawn")
    holding, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_the_file, args=(str(db), holding, release))
    holder.start()
    try:
        assert holding.wait(30)
        monkeypatch.setenv("VIGIL_LOCK_TIMEOUT", "0.3")
        for unit_of_work in (store.read, store.write):
            t0 = time.monotonic()
            with pytest.raises(StoreBusyError, match=r"the store is busy \(another Vigil process is using it\) "
                                                     r"and stayed busy for 0\.3 s"):
                unit_of_work(lambda con: None, db)
            assert 0.3 <= time.monotonic() - t0 < 5

        # With a longer wait, the unit of work succeeds once the holder lets go.
        monkeypatch.setenv("VIGIL_LOCK_TIMEOUT", "30")
        release_at = time.monotonic() + 0.5
        threading.Timer(0.5, release.set).start()
        assert store.read(store.schema_version, db) == store.LATEST_VERSION
        assert time.monotonic() >= release_at - 0.05
    finally:
        release.set()
        holder.join(timeout=30)
    assert holder.exitcode == 0


def test_threads_of_one_process_write_audit_rows_without_losing_any(tmp_path):
    """Threads of one process (as the app's sessions are) append audit rows at once: all land, in one chain."""
    db = tmp_path / "vigil.duckdb"
    store.create(db)
    errors, per_thread = [], 25

    def worker(k: int) -> None:
        for i in range(per_thread):
            try:
                store.write(lambda con: audit.record(con, OPERATOR, "monitor.tick", "thread", f"{k}:{i}"), db)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    status = store.read(audit.verify, db)
    assert (status.intact, status.rows) == (True, 4 * per_thread)
    ids = store.read(lambda con: con.execute("SELECT count(DISTINCT object_id) FROM audit_log").fetchone()[0], db)
    assert ids == 4 * per_thread
