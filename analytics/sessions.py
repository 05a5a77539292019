"""Browser sessions kept in the store: one per sign-in, shared by the browser's tabs, ended by sign-out.

A sign-in starts a session (:func:`start`) and hands the browser a random token in an HttpOnly cookie
(see ``app/session_cookie.py``); the store keeps only the token's SHA-256, so reading the store file
does not give anyone a usable session. Every run of the app (every click) resumes the session from
its token (:func:`resume`), which reads the account as the store has it *now*:

- a session idle for longer than the ``auth.session_idle_timeout`` setting (default 8 hours) ends;
- a session that was signed out (:func:`end`, from any tab) is over in every tab;
- a local account that was disabled or removed ends its sessions; a changed role applies at once;
- an OIDC identity keeps the role its sign-in mapped, and ends when an admin disables its name or
  e-mail address in Vigil.

Example
-------
>>> token = start(Actor("ada", "analyst"), "local", db=path)                     # doctest: +SKIP
>>> resume(token, db=path).actor                                                 # doctest: +SKIP
Actor(username='ada', role='analyst')
>>> end(token, Actor("ada", "analyst"), db=path)                                  # doctest: +SKIP
>>> resume(token, db=path).reason                                                # doctest: +SKIP
'you signed out'
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from analytics import audit, settings
from analytics.clock import utc_now
from analytics.errors import InvalidInputError
from analytics.roles import Actor, check_role
from analytics.store import read, write

METHODS = ("local", "oidc")
#: How a session's identity was proven at its sign-in, by method (recorded with the actor's audit rows).
PROOFS = {"local": "password", "oidc": "oidc"}

IDLE_TIMEOUT = settings.declare(
    "auth.session_idle_timeout", 8 * 3600,
    "Idle time after which a signed-in browser session ends and its user signs in again",
    unit="seconds", minimum=1, maximum=30 * 24 * 3600)

#: Longest time between two writes of a session's last activity: a session's idle clock runs from
#: its last recorded activity, so it may end up to this much (or a tenth of the timeout) early.
TOUCH_SECONDS = 60

#: Sessions that ended (or went idle) longer ago than this are deleted when a new one starts.
KEEP_ENDED_DAYS = 30

# Why a session is over, in words shown to the user ("You were signed out: ...").
ENDED_SIGNED_OUT = "you signed out"
ENDED_IDLE = "your session was idle for too long"
ENDED_ACCOUNT = "your account was disabled or removed; ask an admin"
ENDED_UNKNOWN = "your session is unknown or has ended"
#: How the store records why a session ended (``sessions.end_reason``), and the text shown for each.
END_REASONS = {"signed_out": ENDED_SIGNED_OUT, "idle": ENDED_IDLE, "account": ENDED_ACCOUNT}


@dataclass(frozen=True)
class SessionStatus:
    """What resuming a session found.

    Attributes
    ----------
    actor : Actor or None
        Who the session acts for, with the role in effect now; None when the session is over.
    reason : str
        Why the session is over (one of the ``ENDED_*`` texts); empty while it is valid.
    method : str
        How its user signed in (``local`` or ``oidc``); empty for an unknown token.
    sign_in_ref : str
        What the sign-in was (for OIDC, the ID token's issue time); empty for a local sign-in.
    """

    actor: Actor | None
    reason: str = ""
    method: str = ""
    sign_in_ref: str = ""

    @property
    def valid(self) -> bool:
        """Whether the session may be used."""
        return self.actor is not None


def token_digest(token: str) -> str:
    """The SHA-256 (hex) of a session token: what the store keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def idle_timeout(con: duckdb.DuckDBPyConnection) -> timedelta:
    """The idle timeout in effect (the ``auth.session_idle_timeout`` setting)."""
    return timedelta(seconds=int(settings.get(con, IDLE_TIMEOUT.key)))


def touch_interval(timeout: timedelta) -> timedelta:
    """How stale a session's recorded activity may get before a click writes it again."""
    return min(timedelta(seconds=TOUCH_SECONDS), timeout / 10)


def start(actor: Actor, method: str, *, sign_in_ref: str = "", db: str | Path | None = None,
          now: datetime | None = None) -> str:
    """Start a session for a signed-in actor and return its token (to be kept only by the browser).

    Parameters
    ----------
    actor : Actor
        Who signed in (already authenticated and audited by the sign-in).
    method : str
        ``local`` or ``oidc``.
    sign_in_ref : str
        For OIDC, what identifies the sign-in (the ID token's issue time), so that a session ended
        in one tab is not started again from the same sign-in by another.
    db : str or Path, optional
        The store (default :func:`analytics.config.db_path`).
    now : datetime, optional
        The time (naive UTC); for tests.

    Returns
    -------
    str
        A random token of 43 URL-safe characters.
    """
    if method not in METHODS:
        raise InvalidInputError(f"sign-in method {method!r} is unknown; use one of {', '.join(METHODS)}")
    check_role(actor.role)
    token = secrets.token_urlsafe(32)
    at = now or utc_now()

    def work(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("DELETE FROM sessions WHERE COALESCE(ended_at, last_seen_at) < ?",
                    [at - timedelta(days=KEEP_ENDED_DAYS)])
        con.execute("INSERT INTO sessions (token_sha256, username, role, method, sign_in_ref, started_at, "
                    "last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [token_digest(token), actor.username, actor.role, method, sign_in_ref, at, at])

    write(work, db)
    return token


def _account_role(con: duckdb.DuckDBPyConnection, username: str, role: str, method: str) -> str | None:
    """The role a session's user acts in now, or None when their account is disabled or removed."""
    if method == "oidc":
        disabled = con.execute("SELECT bool_or(disabled) FROM users WHERE username = ? OR lower(email) = ?",
                               [username, username]).fetchone()[0]
        return None if disabled else role
    row = con.execute("SELECT role, disabled FROM users WHERE username = ?", [username]).fetchone()
    return None if row is None or row[1] else str(row[0])


def account_actor(actor: Actor, method: str, *, db: str | Path | None = None) -> Actor | None:
    """``actor`` as the store sees it now (current role), or None when the account is disabled or removed.

    For a signed-in actor that has no session token (the app's own tests seed one directly).
    """
    role = read(lambda con: _account_role(con, actor.username, actor.role, method), db)
    return None if role is None else Actor(actor.username, role, channel=actor.channel, proof=actor.proof)


def identity_disabled(username: str, *, db: str | Path | None = None) -> bool:
    """Whether an admin disabled a user whose name or e-mail address is ``username`` (an OIDC identity)."""
    return read(lambda con: _account_role(con, username, "viewer", "oidc"), db) is None


def _status(con: duckdb.DuckDBPyConnection, digest: str, at: datetime) -> tuple[SessionStatus, str]:
    """The session's status, and what to write: ``touch`` (activity is stale), ``idle`` or ``account``
    (the session has just ended, for good: a later longer timeout or a re-enabled account does not
    bring it back), or ``""`` (nothing)."""
    row = con.execute("SELECT username, role, method, sign_in_ref, last_seen_at, ended_at, end_reason FROM sessions "
                      "WHERE token_sha256 = ?", [digest]).fetchone()
    if row is None:
        return SessionStatus(None, ENDED_UNKNOWN), ""
    username, role, method, sign_in_ref, last_seen, ended, end_reason = row
    if ended is not None:
        return SessionStatus(None, END_REASONS.get(end_reason, ENDED_UNKNOWN), method, sign_in_ref), ""
    timeout = idle_timeout(con)
    if at - last_seen > timeout:
        return SessionStatus(None, ENDED_IDLE, method, sign_in_ref), "idle"
    current = _account_role(con, username, role, method)
    if current is None:
        return SessionStatus(None, ENDED_ACCOUNT, method, sign_in_ref), "account"
    stale = at - last_seen >= touch_interval(timeout)
    actor = Actor(username, current, channel="app", proof=PROOFS.get(method))
    return SessionStatus(actor, "", method, sign_in_ref), "touch" if stale else ""


def resume(token: str, *, db: str | Path | None = None, now: datetime | None = None) -> SessionStatus:
    """Resume a session from its token (on every run of the app) and record the activity.

    Reads the session and its account; writes only when the recorded activity is older than
    :func:`touch_interval`, or when the session has just ended (idle, account disabled), so most
    clicks only read.

    Returns
    -------
    SessionStatus
        With the actor (role as in the store now) while the session is valid, else the reason it is over.
    """
    if not isinstance(token, str) or not token:
        return SessionStatus(None, ENDED_UNKNOWN)
    digest = token_digest(token)
    at = now or utc_now()
    status, change = read(lambda con: _status(con, digest, at), db)
    if not change:
        return status

    def record(con: duckdb.DuckDBPyConnection) -> SessionStatus:
        fresh, what = _status(con, digest, at)
        if what == "touch":
            con.execute("UPDATE sessions SET last_seen_at = greatest(last_seen_at, ?) WHERE token_sha256 = ?",
                        [at, digest])
        elif what:
            con.execute("UPDATE sessions SET ended_at = ?, end_reason = ? WHERE token_sha256 = ?", [at, what, digest])
        return fresh

    return write(record, db)


def end(token: str | None, actor: Actor, *, db: str | Path | None = None, now: datetime | None = None) -> None:
    """Sign out: end the session (in every tab that shares it) and audit the sign-out in one transaction.

    ``token`` may be None (a session without a token, as the app's tests make): the sign-out is
    still audited.
    """
    at = now or utc_now()

    def work(con: duckdb.DuckDBPyConnection) -> None:
        if token:
            con.execute("UPDATE sessions SET ended_at = ?, end_reason = 'signed_out' WHERE token_sha256 = ? "
                        "AND ended_at IS NULL", [at, token_digest(token)])
        audit.record(con, actor, "auth.logout", "user", actor.username, {}, at=at)

    write(work, db)
