"""Attacks on the audit trail by someone who can write the store file but does not hold the audit key
(issue 18, part 1). Each test performs one attack on a copy of a small governed store and checks that
``vigil audit verify`` fails and names it. Before the trail was authenticated, anchored and reconciled,
every one of these attacks verified as "intact".
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import duckdb
import pytest

from analytics import audit, audit_anchor, audit_reconcile, registry, settings, store, users
from analytics.cli import main
from analytics.errors import AuthenticationError, PermissionDeniedError
from analytics.governance import FourEyesError, transition
from analytics.logschema import Column, LogSchema
from analytics.roles import Actor

ADMIN = Actor("ada", "admin")
ANALYST = Actor("ann", "analyst")
COLUMNS = "seq, occurred_at, actor, role, action, object_type, object_id, details, prev_hash, row_hash"


@pytest.fixture(scope="module")
def governed_template(tmp_path_factory) -> Path:
    """A store with a model, two versions, users, a setting and a lifecycle step, all audited (built once)."""
    db = tmp_path_factory.mktemp("governed") / "vigil.duckdb"
    schema = LogSchema(columns=(Column("x", "double"),), positive_class="yes", favourable_decision=0)

    def work(con):
        registry.register_model(con, ADMIN, "toy-model", schema, owner="tests", description="toy")
        registry.register_version(con, ADMIN, "toy-model", "v1", threshold=0.5, owner="tests")
        registry.register_version(con, ADMIN, "toy-model", "v2", threshold=0.4, owner="tests", parent_version="v1")
        users.add_user(con, ADMIN, "ada", "admin", password="a-long-password-1")
        users.add_user(con, ADMIN, "ann", "analyst", password="a-long-password-2")
        settings.set_value(con, ADMIN, "governance.min_roc_auc", 0.75)
        transition(con, ANALYST, "toy-model", "v2", "submitted")

    store.write(work, db)
    return db


@pytest.fixture
def governed(governed_template, tmp_path) -> Path:
    """A private copy of the governed store (with its anchor), for one test to attack or write to."""
    folder = tmp_path / "store"
    shutil.copytree(governed_template.parent, folder)
    return folder / governed_template.name


def vigil(db: Path, *args: str) -> int:
    return main(["--db", str(db), "audit", "verify", *args])


def _attack(db: Path, tmp_path: Path, *statements: str, keep_anchor: bool = True) -> Path:
    """Copy the store (and its anchor) and run raw SQL on the copy, as someone with file access could."""
    copy = tmp_path / "attacked" / db.name
    copy.parent.mkdir()
    shutil.copy(db, copy)
    if keep_anchor:
        shutil.copy(audit_anchor.anchor_path(db), audit_anchor.anchor_path(copy))
    con = duckdb.connect(str(copy))
    for sql in statements:
        con.execute(sql)
    con.close()
    return copy


def _rows(db: Path) -> int:
    return store.read(lambda con: con.execute("SELECT count(*) FROM audit_log").fetchone()[0], db)


def test_the_governed_store_verifies_authenticated_and_anchored(governed, capsys):
    """The baseline: intact, every row authenticated, the head anchored, every change explained."""
    assert vigil(governed) == 0
    out = capsys.readouterr().out
    assert "intact" in out and "authenticated and anchored" in out
    status = store.read(audit.verify, governed)
    assert status.authenticated_rows == status.rows == status.anchored_seq == _rows(governed) == 7
    assert store.read(audit_reconcile.reconcile, governed) == []


@pytest.mark.parametrize("deleted", [1, 5, "all"])
def test_deleting_the_last_rows_is_found_by_the_anchor(governed, tmp_path, capsys, deleted):
    """Deleting the last 1, 5 or all rows leaves a valid shorter chain; the anchored head names the loss."""
    total = _rows(governed)
    keep = 0 if deleted == "all" else total - deleted
    copy = _attack(governed, tmp_path, f"DELETE FROM audit_log WHERE seq > {keep}")
    assert vigil(copy) == 1
    err = capsys.readouterr().err
    assert f"the trail ends at row {keep} but" in err and f"rows {keep + 1}-{total} were deleted" in err


def test_an_edited_and_rechained_row_fails_its_authentication(governed, tmp_path, capsys):
    """Edit row 3 and recompute every hash after it: the chain is valid again, the HMACs are not."""
    copy = _attack(governed, tmp_path, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    con = duckdb.connect(str(copy))
    rows = con.execute(f"SELECT {COLUMNS} FROM audit_log ORDER BY seq").fetchall()
    prev = audit.GENESIS_HASH
    for row in rows:
        digest = audit.row_hash(*row[:8], prev)
        con.execute("UPDATE audit_log SET prev_hash = ?, row_hash = ? WHERE seq = ?", [prev, digest, row[0]])
        prev = digest
    con.close()
    assert vigil(copy) == 1
    assert "BROKEN at row 3: its authentication code does not match" in capsys.readouterr().err


@pytest.mark.parametrize("mac", [None, "f" * 64])
def test_a_correctly_chained_forged_row_is_found(governed, tmp_path, capsys, mac):
    """Append a row whose hash chains correctly to the head, with no code or a made-up one."""
    seq, prev = store.read(audit_anchor.head, governed)
    details = '{"from":"analyst","to":"admin"}'
    at = "2025-06-01 12:00:00"
    from datetime import datetime
    digest = audit.row_hash(seq + 1, datetime(2025, 6, 1, 12), "ada", "admin", "user.set_role", "user", "ann",
                            details, prev)
    copy = _attack(governed, tmp_path, f"INSERT INTO audit_log ({COLUMNS}, row_mac) VALUES ({seq + 1}, TIMESTAMP '{at}', "
                   f"'ada', 'admin', 'user.set_role', 'user', 'ann', '{details}', '{prev}', '{digest}', "
                   f"{'NULL' if mac is None else repr(mac)})", "UPDATE users SET role = 'admin' WHERE username = 'ann'")
    assert vigil(copy) == 1
    err = capsys.readouterr().err
    assert f"BROKEN at row {seq + 1}" in err and "authentication code" in err


def test_a_status_change_without_an_audit_row_is_named(governed, tmp_path, capsys):
    """UPDATE model_versions SET status = 'champion' with no audit row: the chain is intact, the change is not
    explained, and verify names it."""
    copy = _attack(governed, tmp_path, "UPDATE model_versions SET status = 'champion' WHERE version = 'v2'")
    assert vigil(copy) == 1
    captured = capsys.readouterr()
    assert "intact" in captured.out
    assert ("unexplained change: model_versions toy-model:v2: status 'champion', but the audit trail's last step "
            "for it left it 'submitted'") in captured.err


@pytest.mark.parametrize(("statement", "named"), [
    ("UPDATE users SET role = 'admin' WHERE username = 'ann'", "users ann: role 'admin'"),
    ("UPDATE users SET disabled = true WHERE username = 'ada'", "users ada: disabled"),
    ("INSERT INTO users (username, display_name, role, created_at) VALUES ('eve', 'Eve', 'admin', now())",
     "users eve: exists (role 'admin'), but no audit row added it"),
    ("UPDATE settings SET value = '5'", "settings *:governance.min_roc_auc: holds 5"),
    ("DELETE FROM settings", "settings *:governance.min_roc_auc: was removed"),
    ("INSERT INTO deployments VALUES ('toy-model', 'v2', 'champion', 1.0, now(), NULL, 'eve', NULL, 1, NULL)",
     "deployments toy-model:v2: champion from"),
])
def test_role_user_setting_and_deployment_changes_without_audit_rows_are_named(governed, tmp_path, statement,
                                                                               named):
    copy = _attack(governed, tmp_path, statement)
    assert any(str(u).startswith(named) for u in store.read(audit_reconcile.reconcile, copy))


def test_a_deleted_anchor_file_is_a_failure(governed, tmp_path, capsys):
    """Without the anchor a truncation could not be seen, so its absence fails verification."""
    copy = _attack(governed, tmp_path, keep_anchor=False)
    assert vigil(copy) == 1
    assert f"the anchor file {audit_anchor.anchor_path(copy)} is missing" in capsys.readouterr().err
    # A later write does not silently start a new anchor: the loss stays visible until an admin restarts it.
    store.write(lambda con: users.set_role(con, ADMIN, "ann", "reviewer"), copy)
    assert not audit_anchor.anchor_path(copy).exists()
    seq = store.write(lambda con: audit.restart_anchor(con, ADMIN, "restored from a backup without it"), copy)
    assert store.read(audit.verify, copy).anchored_seq == seq
    assert vigil(copy) == 0


def test_a_store_and_anchor_truncated_together_are_found_by_the_export(governed, tmp_path, capsys):
    """The exported anchor, kept elsewhere, still holds the head an attacker removed from both files."""
    export = tmp_path / "kept-elsewhere.anchor"
    assert main(["--db", str(governed), "audit", "anchor", "export", str(export)]) == 0
    total = _rows(governed)
    copy = _attack(governed, tmp_path, f"DELETE FROM audit_log WHERE seq > {total - 2}")
    anchor = audit_anchor.anchor_path(copy)
    anchor.write_text("".join(line + "\n" for line in anchor.read_text().splitlines()
                              if int(line.split("\t")[0]) <= total - 2))
    assert store.read(audit.verify, copy).intact  # the chain and its anchor alone look fine ...
    assert vigil(copy, "--anchor", str(export)) == 1  # ... the export does not
    assert f"rows {total - 1}-{total} were deleted" in capsys.readouterr().err


def test_a_forged_anchor_line_is_found(governed, tmp_path, capsys):
    copy = _attack(governed, tmp_path)
    anchor = audit_anchor.anchor_path(copy)
    anchor.write_text(anchor.read_text() + f"999\t{'a' * 64}\t2026-01-01T00:00:00Z\t{'b' * 64}\n")
    assert vigil(copy) == 1
    assert "is not authenticated by the audit key" in capsys.readouterr().err


def test_an_unauthenticated_store_says_it_is_only_chained(governed, tmp_path, capsys):
    """A store written before authentication (no codes, no anchor) verifies as 'only chained', exit 4."""
    copy = _attack(governed, tmp_path, "UPDATE audit_log SET row_mac = NULL", keep_anchor=False)
    assert vigil(copy) == 4
    captured = capsys.readouterr()
    assert "intact" in captured.out and "only chained" in captured.out and "cannot prove" in captured.err


def test_the_key_is_private_and_outside_the_store(governed):
    """Generated on first use at VIGIL_AUDIT_KEY_FILE (here the tests' temporary file), mode 0600, not in data/."""
    key_file = Path(os.environ["VIGIL_AUDIT_KEY_FILE"])
    assert key_file.is_file() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert governed.parent not in key_file.parents
    secret = key_file.read_text().strip()
    assert len(secret) == 64
    assert secret.encode() not in governed.read_bytes() and secret.encode() not in \
        audit_anchor.anchor_path(governed).read_bytes()


def test_refusals_are_recorded_and_rate_limited(governed, monkeypatch):
    """A permission denial and a four-eyes refusal each leave a row (after the attempt was rolled back);
    repeated refusals of one kind stop being recorded after REFUSALS_PER_WINDOW a minute."""
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: users.set_role(con, ANALYST, "ann", "admin"), governed)
    approver = Actor("ann", "approver")
    store.write(lambda con: users.set_role(con, ADMIN, "ann", "approver"), governed)
    store.write(lambda con: transition(con, Actor("rex", "reviewer"), "toy-model", "v2", "in_review"), governed)
    with pytest.raises(FourEyesError):
        store.write(lambda con: transition(con, approver, "toy-model", "v2", "approved", details={"comment": "ok"}),
                    governed)
    rows = store.read(lambda con: con.execute(
        "SELECT actor, action, object_id, details FROM audit_log WHERE action LIKE 'refused.%' ORDER BY seq").fetchall(),
        governed)
    assert [r[:3] for r in rows] == [("ann", "refused.manage_users", "manage_users"),
                                     ("ann", "refused.four_eyes", "toy-model:v2")]
    assert json.loads(rows[1][3])["refused"] is True
    status = store.read(lambda con: con.execute("SELECT status FROM model_versions WHERE version = 'v2'").fetchone()[0],
                        governed)
    assert status == "in_review"  # the refused approval changed nothing
    monkeypatch.setattr(audit, "REFUSALS_PER_WINDOW", 3)
    for _ in range(3):
        with pytest.raises(PermissionDeniedError):
            store.write(lambda con: users.set_role(con, ANALYST, "ann", "admin"), governed)
    count = store.read(lambda con: con.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'refused.manage_users'").fetchone()[0], governed)
    assert count == 3
    assert store.read(audit.verify, governed).intact


def test_failed_sign_ins_of_existing_users_are_recorded_unknown_names_rate_limited(governed, monkeypatch):
    monkeypatch.setattr(audit, "UNKNOWN_SIGN_INS_PER_WINDOW", 2)
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            users.authenticate("ann", "wrong password", db=governed, sleep=False)
    for i in range(4):
        with pytest.raises(AuthenticationError):
            users.authenticate(f"guess{i}", "x", db=governed, sleep=False)
    reasons = store.read(lambda con: con.execute(
        "SELECT actor, json_extract_string(details, '$.reason') FROM audit_log WHERE action = 'auth.login_failed'"
    ).fetchall(), governed)
    assert sum(1 for actor, _ in reasons if actor == "ann") == 2
    assert sum(1 for _, reason in reasons if reason == "unknown user") == 2


def test_a_missing_key_is_a_failure_not_a_new_key(governed, tmp_path, monkeypatch, capsys):
    """Verifying never generates a key (a new key would call every row forged): it says the key is missing;
    another key makes every authenticated row fail."""
    missing = tmp_path / "nowhere" / "audit.key"
    monkeypatch.setenv("VIGIL_AUDIT_KEY_FILE", str(missing))
    assert vigil(governed) == 1
    assert f"the audit key ({missing}) is missing" in capsys.readouterr().err
    assert not missing.exists()
    missing.parent.mkdir()
    missing.write_text("ab" * 32 + "\n")
    assert vigil(governed) == 1
    assert "BROKEN at row 1: its authentication code does not match the audit key" in capsys.readouterr().err


def test_rows_written_before_authentication_began_are_reported_as_only_chained(governed, tmp_path, capsys):
    """An upgraded store: its first rows carry no code (written by an older Vigil), later ones do. Intact, and the
    summary says which rows are only chained; a row without a code *after* an authenticated one is a failure."""
    copy = _attack(governed, tmp_path, "UPDATE audit_log SET row_mac = NULL WHERE seq <= 3")
    assert vigil(copy) == 0
    assert "rows 1-3, written before authentication began, are only chained" in capsys.readouterr().out
    con = duckdb.connect(str(copy))
    con.execute("UPDATE audit_log SET row_mac = NULL WHERE seq = 5")
    con.close()
    assert vigil(copy) == 1
    assert "BROKEN at row 5: it carries no authentication code although earlier rows do" in capsys.readouterr().err
