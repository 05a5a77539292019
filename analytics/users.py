"""Local users: argon2 password hashes, roles, and sign-in with throttling and lock-out.

Every change is checked against the acting user's role and written with its audit row in one
transaction. Sign-in successes and failures are audited too. After
:data:`MAX_FAILED_ATTEMPTS` consecutive failures an account is locked for
:data:`LOCKOUT_MINUTES`, silently: a failed sign-in answers alike for every name (see :func:`authenticate`).
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from analytics import audit
from analytics.addresses import check_email_address
from analytics.clock import utc_now
from analytics.errors import AuthenticationError, InvalidInputError, NotFoundError
from analytics.roles import Actor, check_role, require
from analytics.store import read, write

MAX_FAILED_ATTEMPTS = 5
LOCKOUT_MINUTES = 15
MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"[a-z][a-z0-9._-]{1,63}")
_hasher = PasswordHasher()


def generate_password() -> str:
    """Return a random password of 20 URL-safe characters."""
    return secrets.token_urlsafe(15)


def check_username(username: str) -> str:
    """Return ``username`` if it is 2-64 lower-case letters, digits, dots, hyphens or underscores."""
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise InvalidInputError(
            f"username {username!r} is not allowed: use 2 to 64 lower-case letters, digits, '.', '-' or '_', "
            "starting with a letter"
        )
    return username


def add_user(con: duckdb.DuckDBPyConnection, actor: Actor, username: str, role: str, *,
             password: str | None = None, display_name: str | None = None, email: str | None = None,
             at: datetime | None = None) -> str:
    """Create a local user and return their password (generated when not given).

    The password is stored only as an argon2id hash. Users who sign in through OIDC may be created
    with ``password=""``: they then have no local password at all.
    """
    require(actor, "manage_users")
    check_username(username)
    check_role(role)
    if con.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
        raise InvalidInputError(f"user {username!r} already exists")
    if password is None:
        password = generate_password()
    if password and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    email = check_email_address(email) if email else None
    hashed = _hasher.hash(password) if password else None
    con.execute(
        "INSERT INTO users (username, display_name, email, role, password_hash, disabled, created_at, "
        "failed_attempts) VALUES (?, ?, ?, ?, ?, FALSE, ?, 0)",
        [username, display_name or username, email, role, hashed, at or utc_now()],
    )
    audit.record(con, actor, "user.add", "user", username, {"role": role, "email": email}, at=at)
    return password


def _get(con: duckdb.DuckDBPyConnection, username: str) -> tuple:
    row = con.execute(
        "SELECT username, role, password_hash, disabled, failed_attempts, locked_until FROM users WHERE username = ?",
        [username],
    ).fetchone()
    if row is None:
        raise NotFoundError(f"user {username!r} does not exist")
    return row


def set_role(con: duckdb.DuckDBPyConnection, actor: Actor, username: str, role: str) -> None:
    """Change a user's role (admins only); an admin may not demote themself."""
    require(actor, "manage_users")
    check_role(role)
    before = _get(con, username)[1]
    if username == actor.username and role != "admin":
        raise InvalidInputError("you cannot remove your own admin role; ask another admin")
    con.execute("UPDATE users SET role = ? WHERE username = ?", [role, username])
    audit.record(con, actor, "user.set_role", "user", username, {"from": before, "to": role})


def set_disabled(con: duckdb.DuckDBPyConnection, actor: Actor, username: str, disabled: bool = True) -> None:
    """Disable (or re-enable) a user; a disabled user cannot sign in."""
    require(actor, "manage_users")
    _get(con, username)
    if username == actor.username and disabled:
        raise InvalidInputError("you cannot disable your own account")
    con.execute("UPDATE users SET disabled = ?, failed_attempts = 0, locked_until = NULL WHERE username = ?",
                [disabled, username])
    audit.record(con, actor, "user.disable" if disabled else "user.enable", "user", username, {})


def list_users(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Return users without their password hashes."""
    return con.execute(
        "SELECT username, display_name, email, role, disabled, failed_attempts, locked_until, last_login_at, "
        "created_at FROM users ORDER BY username"
    ).df()


def get_role(con: duckdb.DuckDBPyConnection, username: str) -> str:
    """Return a user's role."""
    return _get(con, username)[1]


def has_admin(db: str | Path | None = None) -> bool:
    """Whether the store has an enabled admin (without one, the store file's owner adds the first)."""
    return read(lambda con: con.execute("SELECT 1 FROM users WHERE role = 'admin' AND NOT disabled LIMIT 1")
                .fetchone() is not None, db)


#: The one answer to every failed sign-in (unknown name, wrong password, locked account): it never says
#: whether a name exists.
SIGN_IN_FAILED = "unknown user or wrong password"
#: Every failed sign-in waits this long, whoever the name (an escalating wait would tell names apart).
FAILURE_DELAY_SECONDS = 1.0
_dummy_hash: list[str] = []


def _password_matches(hashed: str | None, password: str) -> bool:
    """Verify ``password`` against ``hashed``, or against a dummy hash when there is none, so that an unknown
    name, a user without a local password and a wrong password cost the same argon2 work."""
    if not _dummy_hash:
        _dummy_hash.append(_hasher.hash(secrets.token_urlsafe(16)))
    try:
        return bool(_hasher.verify(hashed or _dummy_hash[0], password if isinstance(password, str) else "")) \
            and bool(hashed)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(username: str, password: str, *, db: str | Path | None = None,
                 sleep: bool = True, channel: str = "app") -> Actor:
    """Check a local user's password and return the signed-in :class:`Actor`.

    Every failure is audited (failures under unknown names rate-limited) and answered alike: the same
    message (:data:`SIGN_IN_FAILED`), the same argon2 work (an unknown name is verified against a
    dummy hash) and the same wait (:data:`FAILURE_DELAY_SECONDS`; ``sleep=False`` skips it, for tests).
    After :data:`MAX_FAILED_ATTEMPTS` consecutive failures an account is locked for
    :data:`LOCKOUT_MINUTES` minutes, silently: even the right password then gets the same answer, so
    neither the lock nor the password can be probed. Only the right password of a disabled account
    hears that it is disabled. ``channel`` (app, cli, api) is recorded with the actor's audit rows, as
    is the proof (a password).

    Raises
    ------
    AuthenticationError
        With a message that does not reveal whether the user exists.
    """
    now = utc_now()

    def work(con: duckdb.DuckDBPyConnection) -> tuple[Actor | None, str]:
        row = con.execute(
            "SELECT role, password_hash, disabled, failed_attempts, locked_until FROM users WHERE username = ?",
            [username],
        ).fetchone()
        if row is None:
            _password_matches(None, password)
            audit.record_unknown_sign_in(con, username)
            return None, SIGN_IN_FAILED
        role, hashed, disabled, failures, locked_until = row
        ok = _password_matches(hashed, password)
        if locked_until is not None and locked_until > now:
            audit.record(con, Actor(username, role), "auth.login_failed", "user", username, {"reason": "locked"})
            return None, SIGN_IN_FAILED
        if not ok:
            failures = (failures or 0) + 1
            locked = now + timedelta(minutes=LOCKOUT_MINUTES) if failures >= MAX_FAILED_ATTEMPTS else None
            con.execute("UPDATE users SET failed_attempts = ?, locked_until = ? WHERE username = ?",
                        [0 if locked else failures, locked, username])
            audit.record(con, Actor(username, role), "auth.login_failed", "user", username,
                         {"reason": "wrong password", "failures": failures, "locked": locked is not None})
            return None, SIGN_IN_FAILED
        if disabled:
            audit.record(con, Actor(username, role), "auth.login_failed", "user", username, {"reason": "disabled"})
            return None, "this account is disabled; ask an admin"
        con.execute("UPDATE users SET failed_attempts = 0, locked_until = NULL, last_login_at = ? WHERE username = ?",
                    [now, username])
        actor = Actor(username, role, channel=channel, proof="password")
        audit.record(con, actor, "auth.login", "user", username, {"method": "local"})
        return actor, ""

    actor, message = write(work, db)
    if actor is None:
        if sleep:
            time.sleep(FAILURE_DELAY_SECONDS)
        raise AuthenticationError(message)
    return actor


def record_sign_in(actor: Actor, method: str, *, db: str | Path | None = None) -> None:
    """Audit a sign-in made outside :func:`authenticate` (for example through OIDC)."""
    write(lambda con: audit.record(con, actor, "auth.login", "user", actor.username, {"method": method}), db)


def record_sign_out(actor: Actor, *, db: str | Path | None = None) -> None:
    """Audit a sign-out."""
    write(lambda con: audit.record(con, actor, "auth.logout", "user", actor.username, {}), db)



