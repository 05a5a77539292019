"""The hash-chained audit trail: rows chain to their predecessor; any tampering is found and located."""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from analytics import audit, store
from analytics.roles import Actor

ALICE = Actor("alice", "approver")
ROWS = 6
T0 = datetime(2025, 4, 1, 9, 0, 0, 123456)


@pytest.fixture
def chain(db):
    """A store with ROWS audit rows (seq 1..ROWS) written at known times."""

    def work(con):
        return [audit.record(con, ALICE, "version.approve", "model_version", f"m:v{i}", {"n": i, "note": "ok é"},
                             at=T0 + timedelta(minutes=i)) for i in range(1, ROWS + 1)]

    assert store.write(work, db) == list(range(1, ROWS + 1))
    return db


def _tampered(chain, tmp_path, name, *statements):
    """Copy the store and apply raw SQL to the copy (as someone with file access could)."""
    copy = tmp_path / f"{name}.duckdb"
    shutil.copy(chain, copy)
    shutil.copy(f"{chain}.anchor", f"{copy}.anchor")
    con = duckdb.connect(str(copy))
    for sql in statements:
        con.execute(sql)
    con.close()
    return store.read(audit.verify, copy)


def test_intact_chain_verifies_with_its_count(chain):
    """An untouched chain is intact and reports how many rows it holds."""
    assert store.read(audit.verify, chain) == audit.ChainStatus(True, ROWS, authenticated_rows=ROWS,
                                                                anchored_seq=ROWS)


def test_empty_chain_is_intact(created_db):
    """No rows is an intact chain of length 0."""
    assert store.read(audit.verify, created_db) == audit.ChainStatus(True, 0, anchored_seq=0)


def test_rows_link_to_their_predecessor(chain):
    """Row 1 links to the genesis hash, each later row to the previous row's hash, and hashes recompute."""
    rows = store.read(lambda con: con.execute(
        "SELECT seq, occurred_at, actor, role, action, object_type, object_id, details, prev_hash, row_hash "
        "FROM audit_log ORDER BY seq").fetchall(), chain)
    assert [r[0] for r in rows] == list(range(1, ROWS + 1))
    assert rows[0][8] == audit.GENESIS_HASH == "0" * 64
    for before, after in zip(rows, rows[1:]):
        assert after[8] == before[9]
    for r in rows:
        assert audit.row_hash(*r[:9]) == r[9]
    assert rows[2][1:8] == (T0 + timedelta(minutes=3), "alice", "approver", "version.approve", "model_version",
                           "m:v3", '{"n":3,"note":"ok \\u00e9"}')


def test_entries_newest_first_and_filtered(chain):
    """entries() lists rows newest first, filtered by object type and id prefix."""
    frame = store.read(lambda con: audit.entries(con, object_type="model_version", object_id_prefix="m:v1"), chain)
    assert frame["seq"].tolist() == [1]
    assert store.read(lambda con: audit.entries(con, limit=2), chain)["seq"].tolist() == [6, 5]
    assert json.loads(store.read(lambda con: audit.entries(con), chain)["details"][0]) == {"n": 6, "note": "ok é"}


def test_edited_row_is_found(chain, tmp_path):
    """Changing a row's details breaks its own hash: first_bad_seq is that row."""
    status = _tampered(chain, tmp_path, "edited", """UPDATE audit_log SET details = '{"n":3,"note":"forged"}' WHERE seq = 3""")
    assert (status.intact, status.rows, status.first_bad_seq) == (False, ROWS, 3)
    assert "edited" in status.problem


def test_edited_actor_is_found(chain, tmp_path):
    """Changing who acted is found too."""
    status = _tampered(chain, tmp_path, "actor", "UPDATE audit_log SET actor = 'mallory' WHERE seq = 5")
    assert (status.intact, status.first_bad_seq) == (False, 5)


def test_deleted_row_is_found(chain, tmp_path):
    """Deleting a row leaves a gap in the sequence: first_bad_seq is the row after the gap."""
    status = _tampered(chain, tmp_path, "deleted", "DELETE FROM audit_log WHERE seq = 3")
    assert (status.intact, status.rows, status.first_bad_seq) == (False, ROWS - 1, 4)
    assert "sequence jumps from 2 to 4" in status.problem


def test_deleted_and_renumbered_row_is_found(chain, tmp_path):
    """Deleting a row and closing the gap breaks the next row's link."""
    status = _tampered(chain, tmp_path, "renumbered", "DELETE FROM audit_log WHERE seq = 3",
                       "UPDATE audit_log SET seq = seq - 1 WHERE seq > 3")
    assert (status.intact, status.rows, status.first_bad_seq) == (False, ROWS - 1, 3)


def _forged_row(chain, seq: int, *, valid_link: bool) -> str:
    """SQL inserting a forged row at ``seq`` (its hash chained to row seq-1 when ``valid_link``)."""
    prev = store.read(lambda con: con.execute("SELECT row_hash FROM audit_log WHERE seq = ?", [seq - 1]).fetchone()[0],
                      chain)
    at = T0 + timedelta(minutes=2, seconds=30)
    details = '{"n":99}'
    digest = audit.row_hash(seq, at, "mallory", "admin", "user.set_role", "user", "mallory", details, prev) \
        if valid_link else "f" * 64
    return (f"INSERT INTO audit_log (seq, occurred_at, actor, role, action, object_type, object_id, details, "
            f"prev_hash, row_hash) VALUES ({seq}, TIMESTAMP '{at.isoformat(sep=' ')}', 'mallory', 'admin', "
            f"'user.set_role', 'user', 'mallory', '{details}', '{prev}', '{digest}')")


def test_inserted_row_is_found(chain, tmp_path):
    """A forged row inserted in the middle (later rows renumbered) is found at the forged row."""
    status = _tampered(chain, tmp_path, "inserted", "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3",
                       "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 103", _forged_row(chain, 3, valid_link=False))
    assert (status.intact, status.rows, status.first_bad_seq) == (False, ROWS + 1, 3)


def test_inserted_row_with_a_valid_hash_is_found_by_its_missing_authentication(chain, tmp_path):
    """A forger who computes a correct hash for the inserted row cannot authenticate it without the key."""
    status = _tampered(chain, tmp_path, "inserted_valid", "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3",
                       "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 103", _forged_row(chain, 3, valid_link=True))
    assert (status.intact, status.rows, status.first_bad_seq) == (False, ROWS + 1, 3)
    assert "no authentication code" in status.problem


def test_reordered_rows_are_found(chain, tmp_path):
    """Swapping the contents of rows 3 and 4 (keeping their seq) breaks the chain at row 3."""
    cols = "occurred_at, actor, role, action, object_type, object_id, details, prev_hash, row_hash"
    status = _tampered(
        chain, tmp_path, "reordered",
        f"CREATE TABLE saved AS SELECT seq, {cols} FROM audit_log WHERE seq IN (3, 4)",
        "UPDATE audit_log SET " + ", ".join(f"{c} = s.{c}" for c in cols.split(", "))
        + " FROM saved s WHERE s.seq = 7 - audit_log.seq AND audit_log.seq IN (3, 4)",
    )
    store.release(tmp_path / "reordered.duckdb")  # a read-only connection cannot share a lingering instance
    swapped = duckdb.connect(str(tmp_path / "reordered.duckdb"), read_only=True).execute(
        "SELECT seq, object_id FROM audit_log WHERE seq IN (3, 4) ORDER BY seq").fetchall()
    assert swapped == [(3, "m:v4"), (4, "m:v3")]
    assert (status.intact, status.rows, status.first_bad_seq) == (False, ROWS, 3)


def test_record_is_part_of_the_callers_transaction(chain):
    """An audit row written in a unit of work that fails is rolled back with it."""

    def failing(con):
        audit.record(con, ALICE, "version.approve", "model_version", "m:v9")
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        store.write(failing, chain)
    assert store.read(audit.verify, chain).rows == ROWS


def test_times_are_stored_in_utc(db):
    """An aware time is converted to UTC; a naive one is taken as UTC already; default is now (UTC)."""
    paris = timezone(timedelta(hours=2))

    def work(con):
        audit.record(con, ALICE, "a", "t", "1", at=datetime(2025, 6, 1, 12, 0, tzinfo=paris))
        audit.record(con, ALICE, "a", "t", "2", at=datetime(2025, 6, 1, 12, 0))
        audit.record(con, ALICE, "a", "t", "3")

    before = datetime.now(timezone.utc).replace(tzinfo=None)
    store.write(work, db)
    after = datetime.now(timezone.utc).replace(tzinfo=None)
    times = [r[0] for r in store.read(lambda con: con.execute(
        "SELECT occurred_at FROM audit_log ORDER BY seq").fetchall(), db)]
    assert times[:2] == [datetime(2025, 6, 1, 10, 0), datetime(2025, 6, 1, 12, 0)]
    assert before <= times[2] <= after


def test_naive_times_do_not_depend_on_the_local_time_zone(db, monkeypatch):
    """A naive time is stored as given even when the process's local time zone is not UTC."""
    with monkeypatch.context() as patch:
        patch.setenv("TZ", "America/New_York")
        time.tzset()
        try:
            store.write(lambda con: audit.record(con, ALICE, "a", "t", "1", at=datetime(2025, 1, 15, 12, 0)), db)
        finally:
            patch.undo()
            time.tzset()
    assert store.read(lambda con: con.execute("SELECT occurred_at FROM audit_log").fetchone()[0], db) == datetime(
        2025, 1, 15, 12, 0)
    assert store.read(audit.verify, db).intact
