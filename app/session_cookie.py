"""The session cookie: an HttpOnly cookie holding the browser's session token, set by a small HTTP route.

A Streamlit script cannot set a cookie (it talks to the browser over a WebSocket), and a cookie set
by JavaScript cannot be HttpOnly. So the app is served as an ``st.App`` (``app/server.py``) with one
extra route, :data:`PATH`:

- ``POST`` with a one-time *grant* in the body: the route swaps the grant for the session token it
  stands for and answers with ``Set-Cookie: vigil_session=<token>; HttpOnly; SameSite=Strict; Path=/``
  (``Secure`` as well over HTTPS). The script issues the grant right after a sign-in
  (:func:`issue_grant`) and draws a few lines of JavaScript that post it (:func:`grant_script`);
  the token itself never appears in the page.
- ``DELETE``: the route expires the cookie (after a sign-out; :func:`clear_script`).

Both need the header ``X-Vigil-Session: 1``, which a cross-site form cannot send. Grants live in
this process's memory for :data:`GRANT_SECONDS` and are used once. On every later page load (a
reload, a new tab) the browser sends the cookie with the WebSocket handshake, and the script reads
it from ``st.context.cookies``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COOKIE = "vigil_session"
PATH = "/vigil-session"
HEADER = "X-Vigil-Session"
GRANT_SECONDS = 60.0

_grants_lock = threading.Lock()
_grants: dict[str, tuple[str, float]] = {}  # grant -> (session token, monotonic expiry)


def issue_grant(token: str) -> str:
    """A one-time code that the browser exchanges for the session cookie within :data:`GRANT_SECONDS`."""
    grant = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _grants_lock:
        for stale in [g for g, (_, expiry) in _grants.items() if expiry < now]:
            del _grants[stale]
        _grants[grant] = (token, now + GRANT_SECONDS)
    return grant


def redeem_grant(grant: str) -> str | None:
    """The session token a grant stands for (once), or None for an unknown, used or expired grant."""
    with _grants_lock:
        token, expiry = _grants.pop(grant, ("", 0.0))
    return token if token and expiry >= time.monotonic() else None


def grant_pending(grant: str) -> bool:
    """Whether the browser has not yet exchanged this grant (and it has not expired)."""
    with _grants_lock:
        entry = _grants.get(grant)
    return entry is not None and entry[1] >= time.monotonic()


def _script(method: str, body: str = "") -> str:
    payload = f", body: {json.dumps(body)}" if body else ""
    return (f"<script>fetch({json.dumps(PATH)}, {{method: {json.dumps(method)}, credentials: 'same-origin', "
            f"headers: {{{json.dumps(HEADER)}: '1'}}{payload}}});</script>")


def grant_script(grant: str) -> str:
    """JavaScript (for ``st.html``) that exchanges ``grant`` for the session cookie."""
    return _script("POST", grant)


def clear_script() -> str:
    """JavaScript (for ``st.html``) that has the session cookie expired."""
    return _script("DELETE")


def _secure(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


async def _session_cookie(request: Request) -> Response:
    if request.headers.get(HEADER) != "1":
        return Response("missing header", status_code=400)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    if request.method == "DELETE":
        response.delete_cookie(COOKIE, path="/", secure=_secure(request), httponly=True, samesite="strict")
        return response
    token = redeem_grant((await request.body()).decode(errors="replace").strip())
    if token is None:
        return Response("unknown or expired grant", status_code=403)
    response.set_cookie(COOKIE, token, path="/", secure=_secure(request), httponly=True, samesite="strict")
    return response


def routes() -> list[Route]:
    """The route that sets and clears the session cookie (mounted by ``app/server.py``)."""
    return [Route(PATH, _session_cookie, methods=["POST", "DELETE"])]
