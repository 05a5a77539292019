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

Sign-out is audited with :func:`analytics.users.record_sign_out` for both backends.
"""

from __future__ import annotations

import dataclasses

import os
import threading
from collections.abc import Mapping
from typing import Any

import streamlit as st

from analytics import config, users
from analytics.errors import AuthenticationError, InvalidInputError, VigilError
from analytics.roles import ROLES, Actor, check_role
from analytics.store import read

SESSION_ACTOR = "vigil_actor"
SESSION_METHOD = "vigil_auth_method"
SESSION_PROBLEM = "vigil_auth_problem"
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
    """Whether an admin disabled a user with this name or e-mail address in the store."""
    return any(disabled for name, email, _, disabled in _stored_users(str(config.db_path()))
               if username in (name, email))


def _oidc_actor() -> Actor | None:
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
    marker = (str(config.db_path()), username, str(claims.get("iat") or claims.get("nonce") or ""))
    with _audited_lock:
        first = marker not in _audited
        _audited.add(marker)
    if first:
        users.record_sign_in(actor, "oidc", db=config.db_path())
    return actor


# --------------------------------------------------------------------------------------------------
# Session


ACCOUNT_CHECK_SECONDS = 10


@st.cache_data(ttl=ACCOUNT_CHECK_SECONDS, show_spinner=False, max_entries=16)
def _stored_users(db: str) -> list[tuple[str, str, str, bool]]:
    """(username, lower-case e-mail, role, disabled) of every stored user, re-read every few seconds."""
    frame = read(users.list_users, db)
    return [(str(u), str(e or "").lower(), str(r), bool(d))
            for u, e, r, d in zip(frame["username"], frame["email"], frame["role"], frame["disabled"])]


def _account_state(db: str, username: str) -> tuple[str, bool] | None:
    """(role, disabled) of a stored user, or None when there is no such user."""
    for name, _, role, disabled in _stored_users(db):
        if name == username:
            return role, disabled
    return None


def _still_valid(actor: Actor) -> Actor | None:
    """The session's actor as the store sees it now: a changed role applies, a disabled account ends.

    Local accounts are re-read (at most every :data:`ACCOUNT_CHECK_SECONDS`); an OIDC identity keeps
    its configured role but ends when an admin disabled it in Vigil.
    """
    if st.session_state.get(SESSION_METHOD) == "oidc":
        return None if _disabled_locally(actor.username) else actor
    state = _account_state(str(config.db_path()), actor.username)
    if state is None or state[1]:
        return None
    return actor if state[0] == actor.role else dataclasses.replace(actor, role=state[0])


def current_actor() -> Actor | None:
    """The signed-in actor of this session, or None.

    With the OIDC backend a session whose browser holds the identity cookie is signed in on its
    first run. A problem (no role mapped, account disabled) is kept for the sign-in page. A session
    whose account was disabled since is signed out; a changed role applies on the next run.
    """
    actor = st.session_state.get(SESSION_ACTOR)
    if isinstance(actor, Actor):
        current = _still_valid(actor)
        if current is None:
            st.session_state.clear()
            st.session_state[SESSION_PROBLEM] = "your account was disabled or removed; ask an admin"
            return None
        if current != actor:
            st.session_state[SESSION_ACTOR] = current
        return current
    if auth_mode() != "oidc":
        return None
    try:
        actor = _oidc_actor()
    except VigilError as exc:
        st.session_state[SESSION_PROBLEM] = str(exc)
        return None
    if actor is not None:
        st.session_state[SESSION_ACTOR] = actor
        st.session_state[SESSION_METHOD] = "oidc"
        st.session_state.pop(SESSION_PROBLEM, None)
    return actor


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
    """Audit the sign-out, forget the session, and return to the sign-in page."""
    actor = st.session_state.get(SESSION_ACTOR)
    method = st.session_state.get(SESSION_METHOD, "local")
    if isinstance(actor, Actor):
        users.record_sign_out(actor, db=config.db_path())
    st.session_state.clear()
    if method == "oidc":
        st.logout()
    else:
        st.rerun()


def render_account(actor: Actor) -> None:
    """Who is signed in, and the sign-out button, at the foot of the sidebar."""
    with st.sidebar:
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
    st.session_state[SESSION_ACTOR] = actor
    st.session_state[SESSION_METHOD] = "local"
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
