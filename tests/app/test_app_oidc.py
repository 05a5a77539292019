"""OIDC sign-in: role mapping from e-mail, group and domain claims; sessions signed in by st.login.

The real browser round trip through a provider is an end-to-end test; here ``st.user`` is seeded
through AppTest, which is what Streamlit fills from the provider's ID token.
"""

from __future__ import annotations

import pytest
from app_support import new_app, template_store, vigil_db  # noqa: F401 - fixtures

from analytics import audit, store, users
from analytics.errors import AuthenticationError, InvalidInputError
from analytics.roles import Actor
from app import auth

SETTINGS = {
    "oidc_groups_claim": "groups",
    "oidc_roles": {
        "Alice@Example.com": "admin",
        "group:model-risk": "reviewer",
        "group:approvers": "approver",
        "group:ds": "analyst",
        "@example.com": "viewer",
    },
}


@pytest.mark.parametrize("claims, role", [
    ({"email": "alice@example.com"}, "admin"),                                  # e-mail rule, any case
    ({"email": "ALICE@EXAMPLE.COM", "groups": ["ds"]}, "admin"),                # e-mail wins over groups
    ({"email": "bob@example.com", "groups": ["ds", "approvers"]}, "approver"),  # most trusted group
    ({"email": "bob@example.com", "groups": "model-risk ds"}, "reviewer"),      # groups as one string
    ({"email": "carol@example.com"}, "viewer"),                                 # domain rule
    ({"email": "dave@elsewhere.org"}, None),                                    # no rule: refused
    ({"email": "dave@elsewhere.org", "groups": ["ds"]}, "analyst"),
    ({"email": "alice@example.com", "email_verified": False}, None),            # unverified: no e-mail rules
    ({"email": "alice@example.com", "email_verified": False, "groups": ["ds"]}, "analyst"),
    ({}, None),
])
def test_map_oidc_role(claims, role):
    assert auth.map_oidc_role(claims, SETTINGS) == role


def test_default_role_and_custom_groups_claim():
    settings = {"oidc_default_role": "viewer", "oidc_groups_claim": "roles", "oidc_roles": {"group:ops": "admin"}}
    assert auth.map_oidc_role({"email": "x@y.z"}, settings) == "viewer"
    assert auth.map_oidc_role({"email": "x@y.z", "roles": ["ops"]}, settings) == "admin"
    assert auth.map_oidc_role({"email": "x@y.z", "groups": ["ops"]}, settings) == "viewer"


def test_misconfigured_role_is_refused():
    with pytest.raises(InvalidInputError, match="role 'superuser' is unknown"):
        auth.map_oidc_role({"email": "a@b.c"}, {"oidc_roles": {"a@b.c": "superuser"}})


def test_oidc_username():
    assert auth.oidc_username({"email": " Alice@Example.com ", "sub": "1"}) == "alice@example.com"
    assert auth.oidc_username({"sub": "abc"}) == "oidc:abc"
    with pytest.raises(AuthenticationError):
        auth.oidc_username({})


# --------------------------------------------------------------------------------------------------
# In the app


def _oidc_app(monkeypatch, user: dict):
    monkeypatch.setenv("VIGIL_AUTH", "oidc")
    at = new_app()
    at.secrets["vigil"] = {"oidc_roles": dict(SETTINGS["oidc_roles"]), "oidc_groups_claim": "groups"}
    at.user = user
    return at


def _logins(db):
    log = store.read(lambda con: audit.entries(con), db)
    return log[log["action"] == "auth.login"]


def test_signed_out_sees_the_single_sign_on_button(vigil_db, monkeypatch):
    at = _oidc_app(monkeypatch, {"is_logged_in": False}).run()
    assert not at.exception
    assert auth.BUTTON_SSO in [b.label for b in at.button]
    assert not at.text_input


def test_identity_is_signed_in_with_its_mapped_role_and_audited_once(vigil_db, monkeypatch):
    at = _oidc_app(monkeypatch, {"is_logged_in": True, "email": "bob@example.com", "groups": ["approvers"],
                                 "iat": 1780000000, "name": "Bob"}).run()
    assert not at.exception and not at.error
    assert at.session_state["vigil_actor"] == Actor("bob@example.com", "approver")
    assert [str(t.value) for t in at.title] == ["Overview"]
    at.run()
    at.switch_page("../pages/overview.py").run()
    logins = _logins(vigil_db)
    mine = logins[logins["actor"] == "bob@example.com"]
    assert len(mine) == 1 and '"method":"oidc"' in mine.iloc[0]["details"] and mine.iloc[0]["role"] == "approver"
    with pytest.raises(ValueError):
        at.switch_page("../pages/users.py")


def test_admin_by_email_sees_users_page(vigil_db, monkeypatch):
    at = _oidc_app(monkeypatch, {"is_logged_in": True, "email": "alice@example.com", "iat": 1}).run()
    at.switch_page("../pages/users.py").run()
    assert not at.exception
    assert [str(t.value) for t in at.title] == ["Users and roles"]


def test_unmapped_identity_is_refused_with_a_reason(vigil_db, monkeypatch):
    at = _oidc_app(monkeypatch, {"is_logged_in": True, "email": "mallory@elsewhere.org", "iat": 2}).run()
    assert not at.exception
    assert "vigil_actor" not in at.session_state
    assert any("no Vigil role is configured" in str(e.value) for e in at.error)
    assert auth.BUTTON_SIGN_OUT in [b.label for b in at.button]
    assert _logins(vigil_db)["actor"].eq("mallory@elsewhere.org").sum() == 0


def test_identity_disabled_in_vigil_is_refused(vigil_db, monkeypatch):
    system = Actor("cli:t", "system")
    store.write(lambda con: users.set_disabled(con, system, "viewer", True), vigil_db)  # viewer@example.com
    at = _oidc_app(monkeypatch, {"is_logged_in": True, "email": "viewer@example.com", "iat": 3}).run()
    assert not at.exception
    assert "vigil_actor" not in at.session_state
    assert any("is disabled in Vigil" in str(e.value) for e in at.error)


def test_oidc_sign_out_is_audited(vigil_db, monkeypatch):
    at = _oidc_app(monkeypatch, {"is_logged_in": True, "email": "carol@example.com", "iat": 4}).run()
    at.button(key="vigil_sign_out").click().run()
    assert not at.exception
    log = store.read(lambda con: audit.entries(con), vigil_db)
    assert ((log["actor"] == "carol@example.com") & (log["action"] == "auth.logout")).any()
    assert "vigil_actor" not in at.session_state


def test_an_ended_oidc_session_is_not_started_again_from_the_same_id_token(vigil_db, monkeypatch):
    """Signed out in another tab: this tab is out on its next run, although st.user still holds the ID
    token; a new sign-in with the provider (a new ID token) starts a new session."""
    from analytics import sessions

    at = _oidc_app(monkeypatch, {"is_logged_in": True, "email": "bob@example.com", "iat": 5}).run()
    token = at.session_state[auth.SESSION_TOKEN]
    assert sessions.resume(token, db=vigil_db).actor == Actor("bob@example.com", "viewer")
    sessions.end(token, Actor("bob@example.com", "viewer"), db=vigil_db)
    at.run()
    assert "vigil_actor" not in at.session_state
    assert any("another tab" in str(e.value) for e in at.error)
    at.run()
    assert "vigil_actor" not in at.session_state, "not signed in again from the same ID token"
    at.user = {"is_logged_in": True, "email": "bob@example.com", "iat": 6}
    at.run()
    assert at.session_state["vigil_actor"] == Actor("bob@example.com", "viewer")
