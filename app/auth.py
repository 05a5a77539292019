"""Sign-in and sign-out: the local backend (users in the store) or OIDC through ``st.login``.

The signed-in :class:`~analytics.roles.Actor` lives in ``st.session_state["vigil_actor"]``; pages
read it with :func:`require_actor`.

Choosing the backend
--------------------
``VIGIL_AUTH`` (environment) or ``auth`` in the ``[vigil]`` section of ``.streamlit/secrets.toml``:
``local`` (the default) or ``oidc``.

``local``
    A form checks the user name and password with :func:`analytics.users.authenticate`, which
    audits successes and failures, slows down repeated failures and locks the account.
``oidc``
    A button calls ``st.login`` (provider settings in the ``[auth]`` section of the secrets;
    ``[vigil] oidc_provider`` names an ``[auth.<name>]`` sub-section, empty for ``[auth]`` itself).
    The identity's role comes from ``[vigil.oidc_roles]``, see :func:`map_oidc_role`; an identity
    that maps to no role is refused. Each sign-in is audited once with
    :func:`analytics.users.record_sign_in`.

Sessions
--------
Each sign-in starts a session in the store (:mod:`analytics.sessions`) whose token the browser keeps
in an HttpOnly cookie (:mod:`app.session_cookie`): a reload or a new tab resumes it, for as long as
it is not idle for longer than the ``auth.session_idle_timeout`` setting. Every run (every click)
re-reads the session and the account, so a sign-out in one tab, a disabled account or a changed
role takes effect on the next click everywhere. Sign-out ends the session and is audited in the same
transaction, for both backends.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any

import streamlit as st

from analytics import config, sessions, users
from analytics.errors import AuthenticationError, InvalidInputError, VigilError
from analytics.roles import ROLES, Actor, check_role
from app import session_cookie

SESSION_ACTOR = "vigil_actor"
SESSION_METHOD = "vigil_auth_method"
SESSION_PROBLEM = "vigil_auth_problem"
SESSION_TOKEN = "vigil_session_token"        # this tab's session token (the cookie's value)
SESSION_GRANT = "vigil_session_grant"        # a grant the browser has yet to exchange for the cookie
SESSION_CLEAR_COOKIE = "vigil_clear_cookie"  # the browser's cookie names an ended session: expire it
SESSION_STALE_COOKIE = "vigil_stale_cookie"  # a cookie token already found ended (not read again)
SESSION_ENDED_SIGN_IN = "vigil_ended_sign_in"  # OIDC: the sign-in whose session ended (not resumed)
ENDED_ELSEWHERE = "you signed out in another tab or window"
MODES = ("local", "oidc")

# Field labels and button texts (the browser tests find the form by these).
LABEL_USERNAME = "Username"
LABEL_PASSWORD = "Password"
BUTTON_SIGN_IN = "Sign in"
BUTTON_SSO = "Sign in with single sign-on"
BUTTON_SIGN_OUT = "Sign out"

_audited_lock = threading.Lock()
_audited: set[tuple[str, str, str]] = set()  # (store, user, token issue time): sign-ins already audited


# --------------------------------------------------------------------------------------------------
# Settings


def settings() -> dict[str, Any]:
    """The ``[vigil]`` section of the Streamlit secrets (empty when there are no secrets)."""
    try:
        section = st.secrets.get("vigil", {})
    except Exception:  # noqa: BLE001 - no secrets file, or an unreadable one: no settings
        return {}
    return _plain(section) if isinstance(section, Mapping) else {}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def auth_mode() -> str:
    """``local`` or ``oidc``: ``VIGIL_AUTH``, else ``[vigil] auth`` in the secrets, else ``local``."""
    mode = (os.environ.get("VIGIL_AUTH") or str(settings().get("auth") or "") or "local").strip().lower()
    if mode not in MODES:
        raise InvalidInputError(f"sign-in backend {mode!r} is unknown: set VIGIL_AUTH (or [vigil] auth) to "
                                "'local' or 'oidc'")
    return mode


# --------------------------------------------------------------------------------------------------
# OIDC role mapping (pure: claims and settings in, role out)


def _groups(claims: Mapping[str, Any], claim: str) -> list[str]:
    value = claims.get(claim)
    if value is None:
        return []
    if isinstance(value, str):
        return [g.strip() for g in value.replace(",", " ").split() if g.strip()]
    return [str(g) for g in value]


def map_oidc_role(claims: Mapping[str, Any], vigil_settings: Mapping[str, Any]) -> str | None:
    """Return the Vigil role of an OIDC identity, or None when no rule matches.

    Rules live in ``[vigil.oidc_roles]`` as ``key = "role"`` where the key is

    - an e-mail address (``"alice@example.com"``): that person;
    - ``"group:<name>"``: members of a group, read from the claim named by
      ``[vigil] oidc_groups_claim`` (default ``groups``);
    - ``"@<domain>"`` (``"@example.com"``): everyone whose e-mail is in that domain.

    An e-mail rule wins over group rules, which win over domain rules; among several matching
    groups the most trusted role wins. E-mail and domain rules apply only when the provider
    does not say the address is unverified (``email_verified = false``). Without a match,
    ``[vigil] oidc_default_role`` applies if set; otherwise the identity is refused.
    Keys and e-mail addresses are compared case-insensitively.

    Raises
    ------
    InvalidInputError
        When a rule names a role that does not exist.
    """
    rules = {str(k).strip().lower(): check_role(str(v)) for k, v in (vigil_settings.get("oidc_roles") or {}).items()}
    email = str(claims.get("email") or "").strip().lower()
    verified = claims.get("email_verified", True) not in (False, "false", "False")
    if email and verified and email in rules:
        return rules[email]
    claim = str(vigil_settings.get("oidc_groups_claim") or "groups")
    matched = [rules[f"group:{g.lower()}"] for g in _groups(claims, claim) if f"group:{g.lower()}" in rules]
    if matched:
        return max(matched, key=ROLES.index)
    if email and verified and "@" in email:
        domain = "@" + email.rsplit("@", 1)[1]
        if domain in rules:
            return rules[domain]
    default = vigil_settings.get("oidc_default_role")
    return check_role(str(default)) if default else None


def oidc_username(claims: Mapping[str, Any]) -> str:
    """The name an OIDC identity acts under: its e-mail address, else ``oidc:<sub>``."""
    email = str(claims.get("email") or "").strip().lower()
    if email:
        return email
    sub = str(claims.get("sub") or "").strip()
    if not sub:
        raise AuthenticationError("the identity provider sent neither an e-mail address nor a subject")
    return f"oidc:{sub}"


def _disabled_locally(username: str) -> bool:
    """Whether an admin disabled a user with this name or e-mail address in the store (read now)."""
    return sessions.identity_disabled(username, db=config.db_path())


@dataclass(frozen=True)
class OidcSignIn:
    """An OIDC identity signed in through ``st.login``: who, and which sign-in (the ID token's issue time)."""

    actor: Actor
    sign_in_ref: str


def _oidc_actor() -> OidcSignIn | None:
    """The actor of a session signed in through ``st.login``, audited once per sign-in."""
    if not st.user.get("is_logged_in", False):
        return None
    claims = st.user.to_dict()
    username = oidc_username(claims)
    role = map_oidc_role(claims, settings())
    if role is None:
        raise AuthenticationError(
            f"you are signed in as {username}, but no Vigil role is configured for this identity; "
            "ask an admin to add you to [vigil.oidc_roles]")
    if _disabled_locally(username):
        raise AuthenticationError(f"the account {username} is disabled in Vigil; ask an admin")
    actor = Actor(username, role, channel="app", proof="oidc")
    # One audit row per sign-in, not per browser tab or reload: the ID token's issue time tells them apart.
    sign_in_ref = str(claims.get("iat") or claims.get("nonce") or "")
    marker = (str(config.db_path()), username, sign_in_ref)
    with _audited_lock:
        first = marker not in _audited
        _audited.add(marker)
    if first:
        users.record_sign_in(actor, "oidc", db=config.db_path())
    return OidcSignIn(actor, sign_in_ref)


# --------------------------------------------------------------------------------------------------
# Session


def _begin(actor: Actor, method: str, sign_in_ref: str = "") -> None:
    """Start a session for a new sign-in in this tab and have the browser keep its cookie."""
    token = sessions.start(actor, method, sign_in_ref=sign_in_ref, db=config.db_path())
    st.session_state[SESSION_ACTOR] = actor
    st.session_state[SESSION_METHOD] = method
    st.session_state[SESSION_TOKEN] = token
    st.session_state[SESSION_GRANT] = session_cookie.issue_grant(token)
    st.session_state.pop(SESSION_PROBLEM, None)


def _forget(status: sessions.SessionStatus) -> None:
    """This tab's session is over: sign the tab out and keep the reason for the sign-in page."""
    st.session_state.clear()
    st.session_state[SESSION_PROBLEM] = ENDED_ELSEWHERE if status.reason == sessions.ENDED_SIGNED_OUT else status.reason
    if status.method == "oidc" and status.sign_in_ref:
        st.session_state[SESSION_ENDED_SIGN_IN] = status.sign_in_ref


def _recheck(actor: Actor) -> Actor | None:
    """The signed-in actor of this tab as the store sees it now, or None (and the tab signed out)."""
    token = st.session_state.get(SESSION_TOKEN)
    if token:
        status = sessions.resume(token, db=config.db_path())
    else:  # a session seeded without a token (the app's tests): only the account is checked
        method = st.session_state.get(SESSION_METHOD, "local")
        current = sessions.account_actor(actor, method, db=config.db_path())
        status = sessions.SessionStatus(current, "" if current else sessions.ENDED_ACCOUNT, method)
    if not status.valid:
        _forget(status)
        return None
    if status.actor != actor:
        st.session_state[SESSION_ACTOR] = status.actor
    return status.actor


def _cookie() -> str:
    """The session token the browser sent when this tab connected (empty without one)."""
    token = st.context.cookies.get(session_cookie.COOKIE)
    return token if isinstance(token, str) else ""


def _from_cookie() -> Actor | None:
    """Resume the session named by the browser's cookie (a reload or a new tab), once per cookie."""
    token = _cookie()
    if not token or token == st.session_state.get(SESSION_STALE_COOKIE):
        return None
    status = sessions.resume(token, db=config.db_path())
    if status.valid:
        st.session_state[SESSION_ACTOR] = status.actor
        st.session_state[SESSION_METHOD] = status.method
        st.session_state[SESSION_TOKEN] = token
        st.session_state.pop(SESSION_PROBLEM, None)
        return status.actor
    st.session_state[SESSION_STALE_COOKIE] = token
    st.session_state[SESSION_CLEAR_COOKIE] = True
    if status.reason in (sessions.ENDED_IDLE, sessions.ENDED_ACCOUNT):
        st.session_state[SESSION_PROBLEM] = status.reason
    if status.method == "oidc" and status.sign_in_ref:
        st.session_state[SESSION_ENDED_SIGN_IN] = status.sign_in_ref
    return None


def current_actor() -> Actor | None:
    """The signed-in actor of this session, or None.

    Checked on every run: a tab's session ends when it was signed out in another tab, went idle
    past the timeout, or its account was disabled; a changed role applies at once. A new tab or a
    reload resumes the session named by the browser's cookie. With the OIDC backend a browser that
    holds the identity cookie is signed in on its first run (unless that very sign-in's session
    has ended); a problem (no role mapped, account disabled) is kept for the sign-in page.
    """
    actor = st.session_state.get(SESSION_ACTOR)
    if isinstance(actor, Actor):
        return _recheck(actor)
    resumed = _from_cookie()
    if resumed is not None or auth_mode() != "oidc":
        return resumed
    try:
        signed_in = _oidc_actor()
    except VigilError as exc:
        st.session_state[SESSION_PROBLEM] = str(exc)
        return None
    if signed_in is None:
        return None
    if signed_in.sign_in_ref and signed_in.sign_in_ref == st.session_state.get(SESSION_ENDED_SIGN_IN):
        st.session_state.setdefault(SESSION_PROBLEM, "your session has ended; sign in again")
        return None
    _begin(signed_in.actor, "oidc", signed_in.sign_in_ref)
    return signed_in.actor


def require_actor() -> Actor:
    """The signed-in actor; stops the page when nobody is signed in (pages call this first)."""
    actor = st.session_state.get(SESSION_ACTOR)
    if not isinstance(actor, Actor):
        st.warning("Please sign in.", icon=":material/login:")
        st.stop()
    return actor


def require(capability: str) -> Actor:
    """The signed-in actor if they hold ``capability``; otherwise say so and stop the page."""
    actor = require_actor()
    if not actor.can(capability):
        st.error(f"Your role ({actor.role}) may not open this page.", icon=":material/block:")
        st.stop()
    return actor


def sign_out() -> None:
    """End the session in every tab (audited), expire the cookie, and return to the sign-in page."""
    actor = st.session_state.get(SESSION_ACTOR)
    method = st.session_state.get(SESSION_METHOD, "local")
    if isinstance(actor, Actor):
        sessions.end(st.session_state.get(SESSION_TOKEN), actor, db=config.db_path())
    st.session_state.clear()
    st.session_state[SESSION_CLEAR_COOKIE] = True
    st.session_state[SESSION_STALE_COOKIE] = _cookie()
    if method == "oidc":
        st.logout()
    else:
        st.rerun()


def _browser_script(html: str) -> None:
    """Run a few lines of JavaScript in the page (they draw nothing)."""
    st.html(html, unsafe_allow_javascript=True, width="content")


def render_account(actor: Actor) -> None:
    """Who is signed in, and the sign-out button, at the foot of the sidebar.

    Right after a sign-in it also has the browser exchange the session's grant for its cookie.
    """
    with st.sidebar:
        grant = st.session_state.get(SESSION_GRANT)
        if grant and session_cookie.grant_pending(grant):
            _browser_script(session_cookie.grant_script(grant))
        elif grant:
            del st.session_state[SESSION_GRANT]
        st.divider()
        st.caption(f"Signed in as **{actor.username}** · role **{actor.role}**")
        if st.button(BUTTON_SIGN_OUT, key="vigil_sign_out", icon=":material/logout:"):
            sign_out()


# --------------------------------------------------------------------------------------------------
# The sign-in page


def _local_form() -> None:
    with st.form("vigil_sign_in", border=True):
        username = st.text_input(LABEL_USERNAME, key="vigil_sign_in_username", autocomplete="username")
        password = st.text_input(LABEL_PASSWORD, type="password", key="vigil_sign_in_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button(BUTTON_SIGN_IN, type="primary", key="vigil_sign_in_submit")
    if not submitted:
        return
    if not username or not password:
        st.error("Enter your username and password.", icon=":material/error:")
        return
    try:
        actor = users.authenticate(username.strip(), password, db=config.db_path())
    except AuthenticationError as exc:
        st.error(f"Sign-in failed: {exc}.", icon=":material/error:")
        return
    _begin(actor, "local")
    st.rerun()


def _oidc_button() -> None:
    provider = str(settings().get("oidc_provider") or "").strip()
    if st.button(BUTTON_SSO, type="primary", key="vigil_sso", icon=":material/key:"):
        st.login(provider or None)
    problem = st.session_state.get(SESSION_PROBLEM)
    if problem:
        st.error(problem, icon=":material/error:")
        if st.button(BUTTON_SIGN_OUT, key="vigil_sso_sign_out"):
            st.session_state.clear()
            st.logout()


def sign_in_page() -> None:
    """The only page a signed-out visitor sees (registered under every page's URL)."""
    if st.session_state.pop(SESSION_CLEAR_COOKIE, False):
        _browser_script(session_cookie.clear_script())
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("Vigil")
        st.caption("Governance and monitoring of machine-learning models in production.")
        st.subheader("Sign in")
        try:
            mode = auth_mode()
        except VigilError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        if mode == "oidc":
            _oidc_button()
        else:
            problem = st.session_state.pop(SESSION_PROBLEM, None)
            if problem:
                st.warning(f"You were signed out: {problem}.", icon=":material/logout:")
            _local_form()
            credentials = config.data_dir() / "demo-credentials.txt"
            if credentials.is_file():
                st.caption(f"Demo: the users created by `vigil demo` and their passwords are in "
                           f"`{credentials.name}` in the data folder on the server.")
