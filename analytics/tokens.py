"""Personal API tokens: how a person proves who they are to the ``vigil`` command line.

An admin issues a token for a user (``vigil users token NAME``); it is shown once and only its
sha256 is kept (a token carries 256 random bits, so a fast hash is as safe as a slow one). A token
expires (90 days by default) and can be revoked by an admin or by its holder. A token acts in the
role its user has *now*: a changed role applies to the next command, a disabled user's tokens stop
working.

The text of a token is ``vigil_<id>_<secret>``: the id finds the row, the secret is compared in
constant time. Issuing and revoking are audited; the secret never enters the audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from analytics import audit
from analytics.clock import utc_now
from analytics.errors import AuthenticationError, InvalidInputError, NotFoundError, PermissionDeniedError, Refused
from analytics.roles import Actor, require
from analytics.store import read, write

DEFAULT_DAYS = 90
MAX_DAYS = 366
_TOKEN = re.compile(r"vigil_([0-9]{1,12})_([A-Za-z0-9_-]{32,64})")
_INVALID = ("the API token is not valid (unknown, revoked or mistyped); ask an admin for a new one "
            "('vigil users token NAME')")


@dataclass(frozen=True)
class IssuedToken:
    """A newly issued token: its text (shown once, never stored), id, holder and expiry (UTC)."""

    token_id: int
    username: str
    text: str
    expires_at: datetime


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(con: duckdb.DuckDBPyConnection, actor: Actor, username: str, *, days: int = DEFAULT_DAYS,
                label: str = "", at: datetime | None = None) -> IssuedToken:
    """Issue a personal API token for ``username`` (admins only), valid for ``days`` days.

    Raises
    ------
    PermissionDeniedError
        If the actor may not manage users.
    NotFoundError, InvalidInputError
        For an unknown or disabled user, or a lifetime outside 1 to :data:`MAX_DAYS` days.
    """
    require(actor, "manage_users")
    row = con.execute("SELECT disabled FROM users WHERE username = ?", [username]).fetchone()
    if row is None:
        raise NotFoundError(f"user {username!r} does not exist; add them first with 'vigil users add'")
    if row[0]:
        raise InvalidInputError(f"user {username!r} is disabled; enable them before issuing a token")
    if not 1 <= int(days) <= MAX_DAYS:
        raise InvalidInputError(f"a token lives 1 to {MAX_DAYS} days (got {days})")
    when = at or utc_now()
    expires = when + timedelta(days=int(days))
    token_id = int(con.execute("SELECT nextval('api_token_id_seq')").fetchone()[0])
    secret = secrets.token_urlsafe(32)
    con.execute("INSERT INTO api_tokens (token_id, username, secret_sha256, label, created_at, created_by, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [token_id, username, _digest(secret), label.strip()[:200], when, actor.username, expires])
    audit.record(con, actor, "token.issue", "user", username,
                 {"token_id": token_id, "expires_at": expires.isoformat(), "label": label.strip()[:200]}, at=at)
    return IssuedToken(token_id, username, f"vigil_{token_id}_{secret}", expires)


def revoke_token(con: duckdb.DuckDBPyConnection, actor: Actor, token_id: int) -> None:
    """Revoke a token: an admin may revoke any, a user their own. Revoking twice is refused."""
    row = con.execute("SELECT username, revoked_at FROM api_tokens WHERE token_id = ?", [int(token_id)]).fetchone()
    if row is None:
        raise NotFoundError(f"there is no API token #{token_id}; 'vigil users tokens' lists them")
    if row[0] != actor.username and not actor.can("manage_users"):
        raise PermissionDeniedError(f"{actor.username} may revoke only their own tokens; token #{token_id} "
                                    "belongs to someone else (an admin can revoke it)",
                                    refused=Refused(actor.username, actor.role, "refused.revoke_token", "api_token",
                                                    str(token_id)))
    if row[1] is not None:
        raise InvalidInputError(f"token #{token_id} was already revoked on {row[1]:%Y-%m-%d %H:%M} UTC")
    con.execute("UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE token_id = ?",
                [utc_now(), actor.username, int(token_id)])
    audit.record(con, actor, "token.revoke", "user", row[0], {"token_id": int(token_id)})


def list_tokens(con: duckdb.DuckDBPyConnection, username: str | None = None) -> pd.DataFrame:
    """Tokens (never their hashes), newest first, of one user or of all."""
    clause, params = ("WHERE username = ?", [username]) if username else ("", [])
    return con.execute(f"SELECT token_id, username, label, created_at, created_by, expires_at, revoked_at, revoked_by "
                       f"FROM api_tokens {clause} ORDER BY token_id DESC", params).df()


def authenticate_token(text: str, *, db: str | Path | None = None, channel: str = "cli") -> Actor:
    """The person a token proves, acting in their current role; the token itself is not changed.

    Raises
    ------
    AuthenticationError
        If the token is malformed, unknown, wrong, revoked or expired, or its user is disabled. A
        malformed, unknown and wrong token get the same message.
    """
    match = _TOKEN.fullmatch((text or "").strip())
    token_id = int(match.group(1)) if match else -1
    secret = match.group(2) if match else ""

    def lookup(con: duckdb.DuckDBPyConnection):
        return con.execute(
            "SELECT t.secret_sha256, t.expires_at, t.revoked_at, u.username, u.role, u.disabled FROM api_tokens t "
            "JOIN users u USING (username) WHERE t.token_id = ?", [token_id]).fetchone()

    row = read(lookup, db)
    # Compare against a digest even when there is no row, so that a wrong id answers as fast as a wrong secret.
    stored = row[0] if row else _digest("no such token")
    if not hmac.compare_digest(stored, _digest(secret)) or row is None:
        _refuse(db, token_id, None if row is None else row[3:5], "unknown or wrong token", _INVALID)
    _, expires_at, revoked_at, username, role, disabled = row
    if revoked_at is not None:
        _refuse(db, token_id, (username, role), "revoked",
                f"API token #{token_id} was revoked on {revoked_at:%Y-%m-%d} UTC; ask an admin for a new one")
    if expires_at <= utc_now():
        _refuse(db, token_id, (username, role), "expired",
                f"API token #{token_id} expired on {expires_at:%Y-%m-%d} UTC; ask an admin for a new one "
                "('vigil users token NAME')")
    if disabled:
        _refuse(db, token_id, (username, role), "account disabled",
                f"the account of API token #{token_id} is disabled; ask an admin")
    return Actor(username, role, channel=channel, proof=f"API token #{token_id}")


def _refuse(db: str | Path | None, token_id: int, holder: tuple[str, str] | None, reason: str, message: str) -> None:
    """Record a refused token in the audit trail (rate-limited, as refusals are) and raise ``message``.

    A token whose id names no token is recorded under the actor ``unknown token``; a wrong secret of a
    real token under the token's holder, so that guessing at someone's token shows in their trail.
    """
    username, role = holder or ("unknown token", "viewer")
    attempt = Refused(username, role, "auth.token_refused", "api_token", str(token_id) if token_id >= 0 else "malformed")
    write(lambda con: audit.record_refusal(con, attempt, reason), db)
    raise AuthenticationError(message)
