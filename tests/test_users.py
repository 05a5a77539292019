"""Local users: argon2 hashes only, role checks on every change, sign-in with lock-out, all audited."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from analytics import audit, store, users
from analytics.errors import AuthenticationError, InvalidInputError, NotFoundError, PermissionDeniedError
from analytics.roles import Actor

ADMIN = Actor("root-admin", "admin")
PASSWORD = "correct horse battery"
WRONG = "incorrect horse battery"
GENERIC = "unknown user or wrong password"


@pytest.fixture(scope="module")
def bob_template(tmp_path_factory):
    """A store with one analyst, 'bob', built once per module: his argon2 hash costs ~0.2 CPU-s."""
    path = tmp_path_factory.mktemp("bob") / "vigil.duckdb"
    assert store.write(lambda con: users.add_user(con, ADMIN, "bob", "analyst", password=PASSWORD,
                                                  display_name="Bob", email="bob@example.org"), path) == PASSWORD
    return path


@pytest.fixture
def bob(db, bob_template, tmp_path, monkeypatch):
    """A private copy of the store with one analyst, 'bob', whose password is PASSWORD."""
    path = store.copy_store(bob_template, tmp_path / "bob")
    monkeypatch.setenv("VIGIL_DB", str(path))
    return path


def _user(db, username="bob"):
    return store.read(lambda con: con.execute(
        "SELECT role, password_hash, disabled, failed_attempts, locked_until, last_login_at FROM users "
        "WHERE username = ?", [username]).fetchone(), db)


def _auth_rows(db):
    return store.read(lambda con: con.execute(
        "SELECT action, actor, object_id, details FROM audit_log WHERE action LIKE 'auth.%' ORDER BY seq").fetchall(),
        db)


def _sign_in(db, password, username="bob"):
    return users.authenticate(username, password, db=db, sleep=False)


def test_the_application_hashes_with_argon2id_at_full_cost(db, production_hasher):
    """The application's hasher (the suite otherwise runs argon2 at its cheapest): argon2id, 64 MiB, 3 passes,
    4 lanes, and a sign-in checks against that hash."""
    store.write(lambda con: users.add_user(con, ADMIN, "bob", "analyst", password=PASSWORD), db)
    assert _user(db)[1].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert _sign_in(db, PASSWORD) == Actor("bob", "analyst")


def test_only_an_argon2_hash_is_stored(bob):
    """The password is stored as an argon2id hash, never in clear, anywhere in the users row."""
    role, hashed, disabled, failures, locked, last_login = _user(bob)
    assert hashed.startswith("$argon2id$")
    assert PASSWORD not in hashed
    row = store.read(lambda con: con.execute("SELECT * FROM users WHERE username = 'bob'").fetchone(), bob)
    assert not any(PASSWORD in str(value) for value in row)
    assert (role, disabled, failures, locked, last_login) == ("analyst", False, 0, None, None)
    listed = store.read(users.list_users, bob)
    assert "password_hash" not in listed.columns
    assert listed["username"].tolist() == ["bob"]


def test_add_user_is_audited_without_the_password(bob):
    """Adding a user writes a user.add audit row naming the role, not the password."""
    rows = store.read(lambda con: con.execute(
        "SELECT actor, action, object_id, details FROM audit_log").fetchall(), bob)
    assert rows == [("root-admin", "user.add", "bob", '{"email":"bob@example.org","role":"analyst"}')]


def test_generated_password(db):
    """Without a password, a random 20-character one is generated, returned, and works."""
    password = store.write(lambda con: users.add_user(con, ADMIN, "carol", "viewer"), db)
    assert len(password) == 20
    assert users.authenticate("carol", password, db=db, sleep=False) == Actor("carol", "viewer")


@pytest.mark.parametrize("username,password,message", [
    ("Bob", PASSWORD, "username 'Bob' is not allowed"),
    ("x", PASSWORD, "username 'x' is not allowed"),
    ("dave", "short", "a password needs at least 12 characters"),
])
def test_add_user_validates_input(db, username, password, message):
    """Malformed usernames and short passwords are refused."""
    with pytest.raises(InvalidInputError, match=message):
        store.write(lambda con: users.add_user(con, ADMIN, username, "viewer", password=password), db)


def test_add_user_refuses_duplicates_and_unknown_roles(bob):
    """A username is unique, and a role must be one of the five."""
    with pytest.raises(InvalidInputError, match="user 'bob' already exists"):
        store.write(lambda con: users.add_user(con, ADMIN, "bob", "viewer", password=PASSWORD), bob)
    with pytest.raises(InvalidInputError, match="role 'superuser' is unknown"):
        store.write(lambda con: users.add_user(con, ADMIN, "eve", "superuser", password=PASSWORD), bob)


@pytest.mark.parametrize("email", ["garbage", "two@at@example.com", "a b@example.com", "@example.com"])
def test_an_address_that_is_not_an_email_is_refused_and_nothing_is_written(db, email):
    """OIDC sign-in matches users by e-mail: an address that can never match is refused, not stored."""
    with pytest.raises(InvalidInputError, match="is not an e-mail address: write it as name@domain"):
        store.write(lambda con: users.add_user(con, ADMIN, "erin", "viewer", password=PASSWORD, email=email), db)
    assert "erin" not in store.read(users.list_users, db)["username"].tolist()


def test_sign_in_returns_the_actor_with_its_role(bob):
    """The right password returns Actor(username, role), records the login time and an auth.login row."""
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    assert _sign_in(bob, PASSWORD) == Actor("bob", "analyst")
    last_login = _user(bob)[5]
    assert before <= last_login <= datetime.now(timezone.utc).replace(tzinfo=None)
    assert _auth_rows(bob) == [("auth.login", "bob", "bob", '{"method":"local","via":{"channel":"app","proof":"password"}}')]


def test_wrong_password_is_refused_and_counted(bob):
    """A wrong password raises AuthenticationError with a generic message and counts one failure."""
    with pytest.raises(AuthenticationError, match=f"^{GENERIC}$"):
        _sign_in(bob, WRONG)
    assert _user(bob)[3] == 1
    assert _auth_rows(bob) == [
        ("auth.login_failed", "bob", "bob", '{"failures":1,"locked":false,"reason":"wrong password"}')]


def test_unknown_user_gets_the_same_message(bob):
    """An unknown user is refused with the same message as a wrong password, and audited."""
    with pytest.raises(AuthenticationError, match=f"^{GENERIC}$"):
        _sign_in(bob, PASSWORD, username="nobody")
    assert _auth_rows(bob) == [("auth.login_failed", "nobody", "nobody", '{"reason":"unknown user"}')]


def test_success_resets_the_failure_count(bob):
    """A successful sign-in clears earlier failures."""
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            _sign_in(bob, WRONG)
    assert _user(bob)[3] == 2
    _sign_in(bob, PASSWORD)
    assert _user(bob)[3] == 0


def test_account_locks_after_max_failed_attempts(bob):
    """After MAX_FAILED_ATTEMPTS failures the account is locked: even the right password fails."""
    assert users.MAX_FAILED_ATTEMPTS == 5
    for attempt in range(1, users.MAX_FAILED_ATTEMPTS):
        with pytest.raises(AuthenticationError, match=f"^{GENERIC}$"):
            _sign_in(bob, WRONG)
        assert _user(bob)[3] == attempt
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    with pytest.raises(AuthenticationError, match=f"^{GENERIC}$"):  # locked, silently (no name is revealed)
        _sign_in(bob, WRONG)
    locked_until = _user(bob)[4]
    assert before + timedelta(minutes=15) <= locked_until <= before + timedelta(minutes=15, seconds=30)

    with pytest.raises(AuthenticationError, match=f"^{GENERIC}$"):  # even the right password: no oracle
        _sign_in(bob, PASSWORD)
    actions = [(a, d) for a, _, _, d in _auth_rows(bob)]
    assert len(actions) == users.MAX_FAILED_ATTEMPTS + 1
    assert actions[-2] == ("auth.login_failed", '{"failures":5,"locked":true,"reason":"wrong password"}')
    assert actions[-1] == ("auth.login_failed", '{"reason":"locked"}')


def test_lock_expires(bob):
    """Once locked_until has passed, the right password works again."""
    past = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=1)
    store.write(lambda con: con.execute("UPDATE users SET locked_until = ? WHERE username = 'bob'", [past]), bob)
    assert _sign_in(bob, PASSWORD) == Actor("bob", "analyst")
    assert _user(bob)[4] is None


def test_disabled_user_cannot_sign_in(bob):
    """A disabled user is refused even with the right password; re-enabling restores access."""
    store.write(lambda con: users.set_disabled(con, ADMIN, "bob"), bob)
    with pytest.raises(AuthenticationError, match="this account is disabled"):
        _sign_in(bob, PASSWORD)
    store.write(lambda con: users.set_disabled(con, ADMIN, "bob", False), bob)
    assert _sign_in(bob, PASSWORD) == Actor("bob", "analyst")
    assert [r[0] for r in _auth_rows(bob)] == ["auth.login_failed", "auth.login"]


def test_user_without_local_password_cannot_sign_in_locally(db):
    """An OIDC-only user (password='') has no hash and no local sign-in."""
    assert store.write(lambda con: users.add_user(con, ADMIN, "oidc.user", "viewer", password=""), db) == ""
    assert _user(db, "oidc.user")[1] is None
    with pytest.raises(AuthenticationError, match=GENERIC):
        users.authenticate("oidc.user", "", db=db, sleep=False)


@pytest.mark.parametrize("role", ["viewer", "analyst", "reviewer", "approver"])
def test_non_admins_cannot_manage_users(bob, role):
    """add_user, set_role and set_disabled by a non-admin raise PermissionDeniedError and change nothing."""
    actor = Actor("mallory", role)
    with pytest.raises(PermissionDeniedError, match=rf"mallory \(role {role}\) may not manage users"):
        store.write(lambda con: users.add_user(con, actor, "mallory2", "admin", password=PASSWORD), bob)
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: users.set_role(con, actor, "bob", "admin"), bob)
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: users.set_disabled(con, actor, "bob"), bob)
    assert store.read(users.list_users, bob)[["username", "role", "disabled"]].values.tolist() == [
        ["bob", "analyst", False]]


def test_admin_sets_a_role_with_an_audit_row(bob):
    """set_role by an admin changes the role and records from/to."""
    store.write(lambda con: users.set_role(con, ADMIN, "bob", "approver"), bob)
    assert store.read(lambda con: users.get_role(con, "bob"), bob) == "approver"
    last = store.read(lambda con: audit.entries(con, object_type="user"), bob).iloc[0]
    assert (last["action"], last["actor"], last["details"]) == ("user.set_role", "root-admin",
                                                               '{"from":"analyst","to":"approver"}')
    assert _sign_in(bob, PASSWORD) == Actor("bob", "approver")


def test_admin_cannot_demote_or_disable_themself(db):
    """An admin may not remove their own admin role nor disable their own account."""
    store.write(lambda con: users.add_user(con, ADMIN, "root-admin", "admin", password=PASSWORD), db)
    with pytest.raises(InvalidInputError, match="cannot remove your own admin role"):
        store.write(lambda con: users.set_role(con, ADMIN, "root-admin", "viewer"), db)
    with pytest.raises(InvalidInputError, match="cannot disable your own account"):
        store.write(lambda con: users.set_disabled(con, ADMIN, "root-admin"), db)


def test_unknown_user_in_admin_actions(db):
    """Changing a user that does not exist raises NotFoundError."""
    with pytest.raises(NotFoundError, match="user 'ghost' does not exist"):
        store.write(lambda con: users.set_role(con, ADMIN, "ghost", "viewer"), db)


def test_every_sign_in_attempt_is_audited(bob):
    """Each attempt (success, wrong password, unknown user, locked) adds exactly one auth row; chain intact."""
    attempts = [("bob", PASSWORD), ("bob", WRONG), ("nobody", WRONG), ("bob", PASSWORD)]
    for username, password in attempts:
        try:
            _sign_in(bob, password, username=username)
        except AuthenticationError:
            pass
    users.record_sign_out(Actor("bob", "analyst"), db=bob)
    actions = [r[0] for r in _auth_rows(bob)]
    assert actions == ["auth.login", "auth.login_failed", "auth.login_failed", "auth.login", "auth.logout"]
    status = store.read(audit.verify, bob)
    assert (status.intact, status.rows, status.authenticated_rows) == (True, 6, 6)


def test_unknown_and_known_names_get_the_same_answer_work_and_wait(bob, monkeypatch):
    """User enumeration: an unknown name, a wrong password, a locked account and a user without a local
    password get the same message, one argon2 verification each, and the same wait."""
    verified, waited = [], []
    real = users._hasher

    class Counting:
        hash = staticmethod(real.hash)

        @staticmethod
        def verify(hashed, password):
            verified.append(hashed)
            return real.verify(hashed, password)

    monkeypatch.setattr(users, "_hasher", Counting())
    this_thread, real_sleep = threading.current_thread(), users.time.sleep

    def sleep(seconds):  # time.sleep is process-wide: only this thread's waits are counted (and skipped)
        if threading.current_thread() is this_thread:
            waited.append(seconds)
        else:
            real_sleep(seconds)

    monkeypatch.setattr(users.time, "sleep", sleep)
    store.write(lambda con: users.add_user(con, ADMIN, "oidc.only", "viewer", password=""), bob)
    answers = {}
    for name, password in (("nobody", WRONG), ("bob", WRONG), ("oidc.only", WRONG)):
        with pytest.raises(AuthenticationError) as refused:
            users.authenticate(name, password, db=bob)
        answers[name] = str(refused.value)
    store.write(lambda con: con.execute("UPDATE users SET locked_until = ? WHERE username = 'bob'",
                                        [datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(minutes=5)]), bob)
    with pytest.raises(AuthenticationError) as refused:
        users.authenticate("bob", PASSWORD, db=bob)
    answers["bob (locked, right password)"] = str(refused.value)
    assert set(answers.values()) == {GENERIC}, answers
    assert len(verified) == 4 and waited == [users.FAILURE_DELAY_SECONDS] * 4
