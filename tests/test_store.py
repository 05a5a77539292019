"""The store: versioned schema and migrations, refusal of foreign or newer files, units of work."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics import config, store
from analytics.errors import InvalidInputError, NotFoundError, StoreBusyError, StoreVersionError
from analytics.logschema import PREDICTION_COLUMNS


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tables(path: Path) -> list[str]:
    store.release(path)  # a read-only connection cannot share this process's lingering instance
    con = duckdb.connect(str(path), read_only=True)
    try:
        return sorted(r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall())
    finally:
        con.close()


#: Tables every store has had since schema version 3 (later migrations may add more).
CORE_TABLES = {"audit_log", "ingests", "model_versions", "models", "quarantine", "schema_version", "users"}


def test_latest_version_is_the_last_migration():
    """LATEST_VERSION is the highest migration, and migrations are numbered 1, 2, 3 ... without gaps."""
    assert store.LATEST_VERSION == store.MIGRATIONS[-1].version >= 3
    # Versions are assigned to parallel work, so a gap (a version not landed yet) is allowed; order is not.
    assert [m.version for m in store.MIGRATIONS] == sorted({m.version for m in store.MIGRATIONS})


def test_fresh_file_gets_latest_version(db):
    """Creating a store (vigil init) writes every migration's row and the tables, at LATEST_VERSION."""
    assert not db.exists()
    assert store.create(db) == store.LATEST_VERSION
    assert store.read(store.schema_version, db) == store.LATEST_VERSION
    versions = store.read(lambda con: con.execute(
        "SELECT version FROM schema_version ORDER BY version").fetchall(), db)
    assert [v[0] for v in versions] == [m.version for m in store.MIGRATIONS]
    assert CORE_TABLES <= set(_tables(db))


def _catalogue_and_rows(path: Path) -> dict:
    """Everything a store's file holds: its tables, views, sequences, indexes and constraints as DuckDB
    describes them, and every table's rows (``schema_version`` without its dates)."""
    store.release(path)  # a read-only connection cannot share this process's lingering instance
    con = duckdb.connect(str(path), read_only=True)
    try:
        def rows(sql: str) -> list:
            return sorted(con.execute(sql).fetchall(), key=repr)

        mine = "database_name = current_database()"
        tables = [r[0] for r in con.execute(f"SELECT table_name FROM duckdb_tables() WHERE {mine}").fetchall()]
        found = {
            "tables": rows(f"SELECT table_name, sql, column_count, has_primary_key, index_count, "
                           f"check_constraint_count FROM duckdb_tables() WHERE {mine}"),
            "columns": rows(f"SELECT table_name, column_index, column_name, data_type, column_default, is_nullable "
                            f"FROM duckdb_columns() WHERE {mine}"),
            "constraints": rows(f"SELECT table_name, constraint_type, constraint_text, constraint_column_names "
                                f"FROM duckdb_constraints() WHERE {mine}"),
            "views": rows(f"SELECT view_name, sql FROM duckdb_views() WHERE {mine} AND NOT internal"),
            "sequences": rows(f"SELECT sequence_name, start_value, min_value, max_value, increment_by, cycle, "
                              f"last_value, sql FROM duckdb_sequences() WHERE {mine}"),
            "indexes": rows(f"SELECT index_name, table_name, sql FROM duckdb_indexes() WHERE {mine}"),
            "macros": rows(f"SELECT function_name FROM duckdb_functions() WHERE {mine} AND NOT internal"),
        }
        for table in tables:
            columns = "version, description" if table == "schema_version" else "*"
            found[f"rows of {table}"] = rows(f'SELECT {columns} FROM "{table}"')
        return found
    finally:
        con.close()


def test_a_new_store_is_made_in_one_step_and_equals_one_migrated_from_nothing(tmp_path, monkeypatch):
    """A new store is a copy of one this process migrated from nothing (analytics/store/_fresh.py): no
    migration runs for it, and it holds the same catalogue, rows and files beside it as a store whose every
    migration ran on it, with the migrations dated when it was made and its audit trail anchored."""
    from analytics import audit, audit_anchor
    from analytics.store import _migrations

    migrated = tmp_path / "migrated" / "vigil.duckdb"
    migrated.parent.mkdir()
    con = duckdb.connect(str(migrated))
    assert store.migrate(con) == [m.version for m in store.MIGRATIONS]
    con.close()

    store.create(tmp_path / "warm-up" / "vigil.duckdb")  # the process's template exists from here on
    made = tmp_path / "made" / "vigil.duckdb"
    started = datetime.now(UTC).replace(tzinfo=None)
    with monkeypatch.context() as patch:
        patch.setattr(_migrations, "migrate", lambda *a, **k: pytest.fail("a new store ran its migrations"))
        assert store.create(made) == store.LATEST_VERSION

    assert _catalogue_and_rows(made) == _catalogue_and_rows(migrated)
    assert sorted(p.name for p in made.parent.iterdir()) == sorted(p.name for p in migrated.parent.iterdir())
    dates = store.read(lambda con: con.execute("SELECT min(applied_at) FROM schema_version").fetchone()[0], made)
    assert dates >= started - timedelta(seconds=1), "the migrations are dated when this store was made"
    assert [(a.seq, a.row_hash) for a in audit_anchor.read(audit_anchor.anchor_path(made))] == \
        [(a.seq, a.row_hash) for a in audit_anchor.read(audit_anchor.anchor_path(migrated))] == [audit_anchor.EMPTY_HEAD]
    status = store.read(audit.verify, made)
    assert status.intact and status.anchored_seq == 0, status.summary()


def test_a_new_store_is_created_once_and_an_existing_file_is_never_replaced(tmp_path):
    """A creation that finds a file in place (another process or thread made it first) keeps that store and
    its rows, and leaves no draft behind."""
    from analytics.store import _fresh

    path = tmp_path / "vigil.duckdb"
    store.create(path)
    store.write(lambda con: con.execute("INSERT INTO settings VALUES ('s', 'k', '1', now()::TIMESTAMP, 'me')"), path)
    assert _fresh.create_new(path) is False
    assert store.read(lambda con: con.execute("SELECT count(*) FROM settings").fetchone()[0], path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vigil.duckdb", "vigil.duckdb.anchor"]


def test_each_connection_takes_the_threads_the_environment_caps(created_db, monkeypatch):
    """``VIGIL_DUCKDB_THREADS`` caps the threads of every connection (tests/conftest.py sets it); a value that is
    not a positive whole number is refused in words, and none leaves DuckDB its default."""
    threads = int(os.environ["VIGIL_DUCKDB_THREADS"])
    assert store.read(lambda con: con.execute("SELECT current_setting('threads')").fetchone()[0], created_db) == threads
    for wrong in ("two", "0", "-1"):
        monkeypatch.setenv("VIGIL_DUCKDB_THREADS", wrong)
        with pytest.raises(InvalidInputError, match="positive whole number"):
            config.cap_threads(duckdb.connect())
    monkeypatch.delenv("VIGIL_DUCKDB_THREADS")
    default = duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0]
    assert config.cap_threads(duckdb.connect()).execute("SELECT current_setting('threads')").fetchone()[0] == default


def test_default_path_comes_from_vigil_db(db):
    """Without a path, the store is the file named by VIGIL_DB."""
    store.write(lambda con: None)
    assert db.is_file()


def test_a_read_never_creates_a_store(db):
    """A read of a missing store, or of a database without Vigil's tables, says to run vigil init and writes nothing."""
    with pytest.raises(NotFoundError, match=f"there is no store at {db}.*'vigil --db {db} init'.*'make run'"):
        store.read(lambda con: None, db)
    assert not db.exists() and list(db.parent.iterdir()) == []
    duckdb.connect(str(db)).close()  # an empty database file
    before = _sha256(db)
    with pytest.raises(StoreVersionError, match="holds no Vigil store yet.*'vigil init'"):
        store.read(lambda con: None, db)
    assert _sha256(db) == before


def _add_version_1_model(con, schema) -> None:
    """Write what Vigil at schema version 1 wrote for a model: its row, its tables and views, one prediction.

    The DDL is frozen here as it was then, so the test keeps describing an old file when the current
    layout changes.
    """
    cols = ", ".join(f'"{n}" {t}' for n, t in {**PREDICTION_COLUMNS, **{c.name: c.sql_type for c in schema.columns}}.items())
    con.execute("INSERT INTO models VALUES ('old-model', 'old_model', 'alice', 'kept', ?, "
                "TIMESTAMP '2024-05-01 10:00:00')", [schema.to_json()])
    con.execute(f"CREATE TABLE log_old_model ({cols}, ingest_id BIGINT NOT NULL)")
    con.execute("CREATE TABLE outcome_log_old_model (prediction_id VARCHAR, observed_at TIMESTAMP, label TINYINT, "
                "business_value DOUBLE, ingest_id BIGINT NOT NULL)")
    ref_cols = ", ".join(f'"{n}" {t}' for n, t in schema.reference_columns().items())
    con.execute(f"CREATE TABLE reference_old_model (model_version VARCHAR NOT NULL, {ref_cols})")
    visible = "WHERE ingest_id NOT IN (SELECT ingest_id FROM ingests WHERE status = 'running')"
    con.execute(f"CREATE VIEW predictions_old_model AS SELECT * EXCLUDE (ingest_id) FROM log_old_model {visible}")
    con.execute(f"CREATE VIEW outcomes_old_model AS SELECT * EXCLUDE (ingest_id) FROM outcome_log_old_model {visible}")
    con.execute("INSERT INTO ingests (ingest_id, model_name, kind, source, actor, started_at, finished_at, status, "
                "rows_read, rows_loaded) VALUES (1, 'old-model', 'predictions', 'old.parquet', 'alice', "
                "TIMESTAMP '2024-05-02 10:00:00', TIMESTAMP '2024-05-02 10:00:01', 'committed', 1, 1)")
    con.execute("INSERT INTO log_old_model VALUES ('old-1', TIMESTAMP '2024-05-02 09:00:00', 'v1', 'champion', "
                "0.25, 0, 12.5, 0.001, 41, 5000.0, 'north', TRUE, 'f', 1)")
    # An ingest that was interrupted: its row is hidden, and must stay hidden after the upgrade.
    con.execute("INSERT INTO ingests (ingest_id, model_name, kind, source, actor, started_at, status) "
                "VALUES (2, 'old-model', 'predictions', 'crashed.parquet', 'alice', "
                "TIMESTAMP '2024-05-03 10:00:00', 'running')")
    con.execute("INSERT INTO log_old_model VALUES ('old-2', TIMESTAMP '2024-05-03 09:00:00', 'v1', 'champion', "
                "0.75, 1, 10.0, 0.001, 52, 3000.0, 'south', FALSE, 'm', 2)")


def test_old_file_is_upgraded_in_place_keeping_rows(db, toy_schema):
    """A version-1 file opens through connect(), is migrated to LATEST_VERSION and keeps its rows.

    Rows of an ingest left 'running' stay invisible through the upgrade.
    """
    con = duckdb.connect(str(db))
    assert store.migrate(con, target=1) == [1]
    _add_version_1_model(con, toy_schema)
    con.close()
    assert "users" not in _tables(db)

    with store.connect(db) as con:
        assert store.schema_version(con) == store.LATEST_VERSION
        assert [r[0] for r in con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()] == [
            m.version for m in store.MIGRATIONS]
        assert con.execute("SELECT model_name, owner, description FROM models").fetchall() == [
            ("old-model", "alice", "kept")]
        assert con.execute("SELECT prediction_id, predicted_at, AGE FROM predictions_old_model").fetchall() == [
            ("old-1", datetime(2024, 5, 2, 9, 0), 41)]
        user_columns = [r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'users' ORDER BY column_index").fetchall()]
    assert {"failed_attempts", "locked_until", "last_login_at"} <= set(user_columns)
    assert CORE_TABLES <= set(_tables(db))
    # Already current: opening again applies nothing.
    with store.connect(db) as con:
        assert store.migrate(con) == []


def test_migrate_stops_at_target(db):
    """migrate(target=2) applies 1 and 2 only; a later migrate applies the rest."""
    con = duckdb.connect(str(db))
    try:
        assert store.migrate(con, target=2) == [1, 2]
        assert store.schema_version(con) == 2
        assert "failed_attempts" not in [r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'users'").fetchall()]
        assert store.migrate(con) == [m.version for m in store.MIGRATIONS if m.version >= 3]
        assert store.schema_version(con) == store.LATEST_VERSION
    finally:
        con.close()


def test_a_read_never_upgrades_an_older_store_vigil_init_does(db):
    """A reader refuses a store lacking a migration, leaving the file as it was; ``create`` (vigil init) upgrades it."""
    con = duckdb.connect(str(db))
    store.migrate(con, target=2)
    con.close()
    before = _sha256(db)
    with pytest.raises(StoreVersionError, match="vigil init"):
        store.read(lambda con: None, db)
    assert _sha256(db) == before
    assert store.create(db) == store.LATEST_VERSION
    assert store.read(store.schema_version, db) == store.LATEST_VERSION


def test_newer_file_is_refused_and_left_unmodified(db):
    """A file whose schema_version is above LATEST_VERSION raises StoreVersionError and is not touched."""
    con = duckdb.connect(str(db))
    store.migrate(con)
    con.execute("INSERT INTO schema_version VALUES (?, TIMESTAMP '2030-01-01 00:00:00', 'from the future')",
                [store.LATEST_VERSION + 1])
    con.close()
    before = _sha256(db)
    files_before = sorted(p.name for p in db.parent.iterdir())

    newer = rf"schema version {store.LATEST_VERSION + 1}, newer than this Vigil understands \(up to {store.LATEST_VERSION}\)"
    with pytest.raises(StoreVersionError, match=newer):
        with store.connect(db):
            pytest.fail("a newer store must not be opened")
    with pytest.raises(StoreVersionError):
        store.write(lambda con: con.execute("CREATE TABLE should_not_exist (x INTEGER)"), db)

    assert _sha256(db) == before
    assert sorted(p.name for p in db.parent.iterdir()) == files_before


def test_foreign_duckdb_file_is_refused(db):
    """A DuckDB file with unrelated tables and no schema_version is not a Vigil store."""
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE sales (id INTEGER, amount DOUBLE)")
    con.execute("INSERT INTO sales VALUES (1, 9.5)")
    con.close()

    with pytest.raises(StoreVersionError, match="not a Vigil store"):
        store.read(lambda con: None, db)
    assert _tables(db) == ["sales"]


def test_connections_use_utc(created_db):
    """Every unit of work runs with the session time zone set to UTC."""
    assert store.read(lambda con: con.execute("SELECT current_setting('TimeZone')").fetchone()[0], created_db) == "UTC"


def test_write_is_one_transaction(db):
    """A failing unit of work leaves nothing behind; a successful one commits and returns its value."""

    def failing(con):
        con.execute("INSERT INTO users (username, display_name, role, created_at) "
                    "VALUES ('ghost', 'Ghost', 'viewer', now()::TIMESTAMP)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        store.write(failing, db)
    assert store.read(lambda con: con.execute("SELECT count(*) FROM users").fetchone()[0], db) == 0

    assert store.write(lambda con: con.execute(
        "INSERT INTO users (username, display_name, role, created_at) "
        "VALUES ('real', 'Real', 'viewer', now()::TIMESTAMP)").fetchone()[0], db) == 1
    assert store.read(lambda con: con.execute("SELECT username FROM users").fetchall(), db) == [("real",)]


def test_retry_retries_transient_failures_then_succeeds():
    """retry() repeats a transient failure and returns the first success."""
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise duckdb.TransactionException("write-write conflict")
        return "done"

    assert store.retry(flaky, is_transient=lambda e: isinstance(e, duckdb.TransactionException),
                       what="testing", timeout=5) == "done"
    assert len(attempts) == 3


def test_retry_gives_up_with_store_busy_error():
    """A failure that persists past the timeout becomes StoreBusyError naming what was attempted."""
    attempts = []

    def locked():
        attempts.append(time.monotonic())
        raise duckdb.IOException("Could not set lock on file")

    with pytest.raises(StoreBusyError, match=r"opening the test store: the store is busy .* stayed busy for 0\.2 s"):
        store.retry(locked, is_transient=lambda e: True, what="opening the test store", timeout=0.2)
    # Tried repeatedly, with the last attempt at the deadline rather than before it.
    assert len(attempts) >= 3
    assert attempts[-1] - attempts[0] >= 0.2


def test_retry_does_not_retry_other_errors():
    """A non-transient error propagates at once."""
    attempts = []

    def broken():
        attempts.append(1)
        raise ValueError("not transient")

    with pytest.raises(ValueError, match="not transient"):
        store.retry(broken, is_transient=lambda e: False, what="x", timeout=5)
    assert attempts == [1]


def test_table_names_of_a_model():
    """Per-model table and view names derive from the stem (hyphens become underscores)."""
    stem = store.stem_of("credit-default")
    assert stem == "credit_default"
    assert (store.log_table(stem), store.outcome_table(stem), store.predictions_view(stem),
            store.outcomes_view(stem), store.reference_table(stem)) == (
        "log_credit_default", "outcome_log_credit_default", "predictions_credit_default",
        "outcomes_credit_default", "reference_credit_default")


def _another_process_can_open(path: Path) -> bool:
    """Whether a separate process can open the store file right now (DuckDB locks a file per process)."""
    probe = subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()", str(path)],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0 or "lock" in probe.stderr.lower(), probe.stderr
    return probe.returncode == 0


def test_a_held_store_stays_open_between_units_of_work_and_is_released_after(created_db):
    """Inside ``held`` (nested or not) the process keeps the file between units of work, each unit still has a
    connection of its own (a unit's temporary table is gone in the next), and the file is free after the block."""
    with store.held(created_db):
        store.write(lambda con: con.execute("CREATE TEMP TABLE scratch AS SELECT 1 AS x"), created_db)
        assert store.read(lambda con: con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'scratch'").fetchone()[0], created_db) == 0
        with store.held(created_db):
            assert store.read(lambda con: con.execute("SELECT current_setting('TimeZone')").fetchone()[0],
                              created_db) == "UTC"
        assert not _another_process_can_open(created_db)  # the outer hold still has it
    store.release(created_db)  # at once, rather than after the linger
    assert _another_process_can_open(created_db)


def _instance_open(path: Path) -> bool:
    """Whether this process has the store's instance open (DuckDB refuses a connection with other settings then)."""
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.ConnectionException:
        return True
    return False


@pytest.fixture
def linger_two_seconds(monkeypatch):
    """A linger long enough that a loaded machine cannot let it pass before the test looks."""
    monkeypatch.setattr("analytics.store._connection.LINGER_SECONDS", 2.0)


def test_a_unit_of_work_leaves_the_instance_open_briefly_with_its_write_in_the_file(created_db, tmp_path,
                                                                                  linger_two_seconds):
    """After a unit of work the process keeps the instance for ``store.LINGER_SECONDS`` (the next unit reuses it), with
    what the unit committed already checkpointed into the file: a copy of the file alone holds it; then the
    file is free for other processes without anyone calling ``release``."""
    store.write(lambda con: con.execute("CREATE TABLE kept AS SELECT 7 AS x"), created_db)
    assert _instance_open(created_db)
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(created_db, copy)  # the file only: no write-ahead log beside it
    con = duckdb.connect(str(copy))
    assert con.execute("SELECT x FROM kept").fetchone()[0] == 7
    con.close()
    deadline = time.monotonic() + 30
    while not _another_process_can_open(created_db):
        assert time.monotonic() < deadline, "the instance was never closed"
        time.sleep(0.25)


def test_a_process_that_waits_makes_the_others_close_after_each_unit(created_db, linger_two_seconds):
    """Another process that finds the file locked marks that it waits; a unit of work or block that ends while
    the mark is fresh closes the instance at once instead of keeping it, so a process working without pause (an
    app under load, a stream of ingests) never keeps the others out."""
    store.read(lambda con: None, created_db)
    assert _instance_open(created_db)  # it lingers for the next unit
    with store.held(created_db):
        waiter = subprocess.run(
            [sys.executable, "-c", "import sys; from analytics import store; store.read(lambda con: None, sys.argv[1])",
             str(created_db)], capture_output=True, text=True, timeout=60,
            env={**os.environ, "VIGIL_LOCK_TIMEOUT": "0", "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert waiter.returncode != 0 and "busy" in waiter.stderr, waiter.stderr
    assert created_db.with_name(f"{created_db.name}.waiting").exists()
    assert not _instance_open(created_db)  # closed when the block ended: someone waits


def test_a_store_file_replaced_while_its_instance_lingers_is_opened_anew(created_db, tmp_path):
    """A file moved into the store's place (as ``vigil restore`` and the demo build do) is not read through the
    instance still open on the old file."""
    other = tmp_path / "other" / "vigil.duckdb"
    store.create(other)
    store.write(lambda con: con.execute("CREATE TABLE marker AS SELECT 'new' AS which"), other)
    store.release(other)
    assert store.read(lambda con: con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'marker'")
                      .fetchone()[0], created_db) == 0  # the instance of created_db now lingers
    os.replace(other, created_db)
    assert store.read(lambda con: con.execute("SELECT which FROM marker").fetchone()[0], created_db) == "new"


def test_holding_a_missing_store_creates_nothing_and_a_busy_one_is_waited_for_per_unit(tmp_path, created_db):
    """Holding is only an optimisation: a missing file stays missing; a file another process has is not held,
    and each unit of work waits its turn as without the hold."""
    missing = tmp_path / "none" / "vigil.duckdb"
    with store.held(missing):
        pass
    assert not missing.parent.exists()
    store.release(created_db)  # the process that opens it below does not wait its turn
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('open', flush=True); time.sleep(1.5); c.close()", str(created_db)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with store.held(created_db):
            assert store.read(lambda con: con.execute("SELECT 42").fetchone()[0], created_db) == 42
        assert holder.wait(timeout=60) == 0
    finally:
        holder.kill()
    store.release(created_db)
    assert _another_process_can_open(created_db)
