"""Browser sessions in the store: resumed from their token, ended by sign-out, idle timeout, account state.

The browser round trip (cookie, reload, new tab) is in tests/e2e/test_governance_browser.py.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta


import pytest
from starlette.applications import Starlette

from analytics import audit, sessions, settings, store, users
from analytics.errors import InvalidInputError
from analytics.roles import Actor
from app import session_cookie

ADMIN = Actor("root-admin", "admin")
BOB = Actor("bob", "analyst")
T0 = datetime(2026, 12, 1, 9, 0, 0)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One store for the module (a fresh store takes a while to build)."""
    return tmp_path_factory.mktemp("sessions") / "vigil.duckdb"


@pytest.fixture
def bob(shared):
    """The module's store with a fresh analyst 'bob' (e-mail bob@example.org; no password) for this test."""
    def work(con):
        con.execute("DELETE FROM users WHERE username = 'bob'")
        users.add_user(con, ADMIN, "bob", "analyst", password="", email="bob@example.org")
    store.write(work, shared)
    return shared


def _set(db, key, value):
    store.write(lambda con: settings.set_value(con, ADMIN, key, value), db)


def test_only_the_token_digest_is_stored(bob):
    token = sessions.start(BOB, "local", db=bob, now=T0)
    assert len(token) >= 43
    rows = store.read(lambda con: con.execute("SELECT * FROM sessions WHERE token_sha256 = ?",
                                              [sessions.token_digest(token)]).fetchall(), bob)
    assert len(rows) == 1 and not any(token in str(value) for value in rows[0])
    assert rows[0][0] == sessions.token_digest(token)


def test_a_session_resumes_until_it_is_signed_out_everywhere(bob):
    token = sessions.start(BOB, "local", db=bob, now=T0)
    assert sessions.resume(token, db=bob, now=T0 + timedelta(minutes=5)) == sessions.SessionStatus(BOB, "", "local")
    sessions.end(token, BOB, db=bob, now=T0 + timedelta(minutes=6))
    ended = sessions.resume(token, db=bob, now=T0 + timedelta(minutes=7))
    assert not ended.valid and ended.reason == sessions.ENDED_SIGNED_OUT
    log = store.read(lambda con: audit.entries(con), bob)
    assert ((log["action"] == "auth.logout") & (log["actor"] == "bob")).sum() >= 1
    assert log.iloc[0]["action"] == "auth.logout" and log.iloc[0]["actor"] == "bob"


def test_unknown_or_forged_tokens_are_refused(bob):
    real = sessions.start(BOB, "local", db=bob, now=T0)
    for token in ("", "x" * 43, sessions.token_digest(real)):
        status = sessions.resume(token, db=bob, now=T0)
        assert status.actor is None and status.reason == sessions.ENDED_UNKNOWN


def test_idle_timeout_is_a_setting_and_activity_extends_it(bob):
    assert sessions.IDLE_TIMEOUT.default == 8 * 3600
    token = sessions.start(BOB, "local", db=bob, now=T0)
    assert sessions.resume(token, db=bob, now=T0 + timedelta(hours=7, minutes=59)).valid  # activity recorded
    assert sessions.resume(token, db=bob, now=T0 + timedelta(hours=15, minutes=58)).valid
    assert sessions.resume(token, db=bob, now=T0 + timedelta(hours=24)).reason == sessions.ENDED_IDLE
    _set(bob, "auth.session_idle_timeout", 3)
    try:
        short = sessions.start(BOB, "local", db=bob, now=T0)
        assert sessions.resume(short, db=bob, now=T0 + timedelta(seconds=2)).valid
        assert sessions.resume(short, db=bob, now=T0 + timedelta(seconds=4, microseconds=500_000)).valid
        assert sessions.resume(short, db=bob, now=T0 + timedelta(seconds=8)).reason == sessions.ENDED_IDLE
        with pytest.raises(InvalidInputError, match="auth.session_idle_timeout"):
            _set(bob, "auth.session_idle_timeout", 0)
    finally:
        store.write(lambda con: settings.unset(con, ADMIN, sessions.IDLE_TIMEOUT.key), bob)
    # an idle session stays over when the timeout is made longer again
    assert sessions.resume(short, db=bob, now=T0 + timedelta(seconds=9)).reason == sessions.ENDED_IDLE


def test_role_change_applies_and_disabling_ends_the_session_at_once(bob):
    token = sessions.start(BOB, "local", db=bob, now=T0)
    store.write(lambda con: users.set_role(con, ADMIN, "bob", "reviewer"), bob)
    assert sessions.resume(token, db=bob, now=T0).actor == Actor("bob", "reviewer")
    store.write(lambda con: users.set_disabled(con, ADMIN, "bob", True), bob)
    assert sessions.resume(token, db=bob, now=T0).reason == sessions.ENDED_ACCOUNT
    assert sessions.account_actor(BOB, "local", db=bob) is None
    store.write(lambda con: users.set_disabled(con, ADMIN, "bob", False), bob)
    assert sessions.account_actor(BOB, "local", db=bob) == Actor("bob", "reviewer")
    assert sessions.resume(token, db=bob, now=T0).reason == sessions.ENDED_ACCOUNT, "re-enabling signs in afresh"


def test_an_oidc_session_keeps_its_role_and_ends_when_its_email_is_disabled(bob):
    carol = Actor("bob@example.org", "approver")
    token = sessions.start(carol, "oidc", sign_in_ref="1780000000", db=bob, now=T0)
    assert sessions.resume(token, db=bob, now=T0) == sessions.SessionStatus(carol, "", "oidc", "1780000000")
    store.write(lambda con: users.set_disabled(con, ADMIN, "bob", True), bob)
    status = sessions.resume(token, db=bob, now=T0)
    assert status.reason == sessions.ENDED_ACCOUNT and status.sign_in_ref == "1780000000"


def test_unknown_method_or_role_is_refused(bob):
    with pytest.raises(InvalidInputError, match="method 'magic'"):
        sessions.start(BOB, "magic", db=bob)
    with pytest.raises(InvalidInputError):
        sessions.start(Actor("bob", "superuser"), "local", db=bob)


# --------------------------------------------------------------------------------------------------
# The cookie route (app/session_cookie.py), through Starlette's test client


@dataclass(frozen=True)
class Answer:
    """What the route answered: status and headers (lower-case names)."""

    status: int
    headers: dict[str, str]


def _call(method: str, body: str = "", *, header: bool = True, scheme: str = "https") -> Answer:
    """One request to the cookie route through its ASGI interface (no network, no HTTP client)."""
    app = Starlette(routes=session_cookie.routes())
    headers = [(session_cookie.HEADER.lower().encode(), b"1")] if header else []
    scope = {"type": "http", "method": method, "path": session_cookie.PATH, "headers": headers, "scheme": scheme,
             "query_string": b"", "server": ("vigil.test", 443), "root_path": "", "http_version": "1.1"}
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body.encode(), "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    # In a thread of its own: a worker that also runs the browser tests has Playwright's loop running here.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, app(scope, receive, send)).result()
    start = sent[0]
    return Answer(start["status"], {k.decode(): v.decode() for k, v in start["headers"]})


def test_a_grant_sets_an_httponly_cookie_once():
    grant = session_cookie.issue_grant("the-token")
    assert session_cookie.grant_pending(grant)
    answer = _call("POST", grant)
    assert answer.status == 204
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("vigil_session=the-token;")
    assert all(flag in cookie for flag in ("HttpOnly", "Path=/", "SameSite=strict", "Secure"))
    assert not session_cookie.grant_pending(grant)
    again = _call("POST", grant)
    assert again.status == 403 and "set-cookie" not in again.headers
    assert "Secure" not in _call("POST", session_cookie.issue_grant("t"), scheme="http").headers["set-cookie"]


def test_the_route_refuses_requests_without_its_header_or_with_a_forged_grant():
    grant = session_cookie.issue_grant("the-token")
    assert _call("POST", grant, header=False).status == 400
    assert _call("POST", "forged").status == 403
    assert session_cookie.grant_pending(grant)


def test_an_expired_grant_is_refused(monkeypatch):
    grant = session_cookie.issue_grant("the-token")
    monkeypatch.setattr(session_cookie, "GRANT_SECONDS", -1.0)
    stale = session_cookie.issue_grant("other-token")
    assert session_cookie.redeem_grant(stale) is None
    assert session_cookie.redeem_grant(grant) == "the-token"


def test_delete_expires_the_cookie():
    answer = _call("DELETE")
    assert answer.status == 204
    assert "vigil_session=" in answer.headers["set-cookie"] and "Max-Age=0" in answer.headers["set-cookie"]


def test_a_resumed_actor_says_it_acts_in_the_app_with_its_sign_in_proof(bob):
    token = sessions.start(BOB, "local", db=bob, now=T0)
    actor = sessions.resume(token, db=bob, now=T0).actor
    assert (actor.channel, actor.proof) == ("app", "password")
