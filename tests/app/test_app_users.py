"""Admin > Users and roles: list, add (password shown once), set role, disable and enable, refusals."""

from __future__ import annotations

from app_support import signed_in, template_store, vigil_db  # noqa: F401 - fixtures

from analytics import audit, store, users


def _admin_on_users_page():
    at = signed_in("admin")
    at.switch_page("../pages/users.py").run()
    assert not at.exception
    return at


def _users(db):
    return store.read(users.list_users, db).set_index("username")


def test_lists_users_without_hashes(vigil_db):
    at = _admin_on_users_page()
    table = at.dataframe[0].value
    assert sorted(table["username"]) == sorted(["viewer", "analyst", "reviewer", "approver", "admin"])
    assert "password_hash" not in table.columns


def test_add_user_shows_the_password_once(vigil_db):
    at = _admin_on_users_page()
    at.text_input(key="users_add_username").input("new.person")
    at.text_input(key="users_add_email").input("new@example.com")
    at.selectbox(key="users_add_role").select("reviewer")
    at.button(key="users_add_submit").click().run()
    assert not at.exception and not at.error
    assert any("new.person" in str(s.value) and "shown only once" in str(s.value) for s in at.success)
    password = at.code[0].value
    assert len(password) >= 12
    row = _users(vigil_db).loc["new.person"]
    assert row["role"] == "reviewer" and row["email"] == "new@example.com"
    assert users.authenticate("new.person", password, db=vigil_db, sleep=False).role == "reviewer"
    at.run()  # the next run no longer shows it
    assert not at.code and not at.success
    log = store.read(lambda con: audit.entries(con, object_type="user"), vigil_db)
    assert ((log["action"] == "user.add") & (log["object_id"] == "new.person") & (log["actor"] == "admin")).any()


def test_invalid_username_is_explained(vigil_db):
    at = _admin_on_users_page()
    at.text_input(key="users_add_username").input("Not Valid!")
    at.button(key="users_add_submit").click().run()
    assert not at.exception
    assert any("is not allowed" in str(e.value) for e in at.error)
    assert not at.code


def test_set_role(vigil_db):
    at = _admin_on_users_page()
    at.selectbox(key="users_role_user").select("viewer")
    at.selectbox(key="users_role_role").select("approver")
    at.button(key="users_role_submit").click().run()
    assert not at.exception and not at.error
    assert _users(vigil_db).loc["viewer", "role"] == "approver"


def test_an_admin_cannot_demote_themself(vigil_db):
    at = _admin_on_users_page()
    at.selectbox(key="users_role_user").select("admin")
    at.selectbox(key="users_role_role").select("viewer")
    at.button(key="users_role_submit").click().run()
    assert not at.exception
    assert any("cannot remove your own admin role" in str(e.value) for e in at.error)
    assert _users(vigil_db).loc["admin", "role"] == "admin"


def test_disable_and_enable(vigil_db):
    at = _admin_on_users_page()
    at.selectbox(key="users_access_user").select("analyst")
    at.button(key="users_disable_submit").click().run()
    assert not at.exception and not at.error
    assert bool(_users(vigil_db).loc["analyst", "disabled"])
    at.selectbox(key="users_access_user").select("analyst")
    at.button(key="users_enable_submit").click().run()
    assert not bool(_users(vigil_db).loc["analyst", "disabled"])


def test_a_disabled_user_cannot_sign_in(vigil_db):
    at = _admin_on_users_page()
    at.selectbox(key="users_access_user").select("viewer")
    at.button(key="users_disable_submit").click().run()
    from app_support import PASSWORD, new_app

    other = new_app().run()
    other.text_input(key="vigil_sign_in_username").input("viewer")
    other.text_input(key="vigil_sign_in_password").input(PASSWORD)
    other.button(key="vigil_sign_in_submit").click().run()
    assert not other.exception
    assert any("this account is disabled" in str(e.value) for e in other.error)


def test_the_page_itself_refuses_other_roles(vigil_db):
    """Run the page script directly (bypassing the navigation) as an analyst: it refuses to draw."""
    from app_support import REPO, TIMEOUT
    from streamlit.testing.v1 import AppTest

    from analytics.roles import Actor

    at = AppTest.from_file(str(REPO / "pages" / "users.py"), default_timeout=TIMEOUT)
    at.session_state["vigil_actor"] = Actor("analyst", "analyst")
    at.run()
    assert not at.exception
    assert any("may not open this page" in str(e.value) for e in at.error)
    assert not at.dataframe and not at.button


def test_analytics_checks_the_role_again(vigil_db):
    """A write through analytics.users by a non-admin is refused whatever the UI shows."""
    import pytest

    from analytics.errors import PermissionDeniedError
    from analytics.roles import Actor

    with pytest.raises(PermissionDeniedError, match="may not manage users"):
        store.write(lambda con: users.set_role(con, Actor("analyst", "analyst"), "viewer", "admin"), vigil_db)


def test_a_role_change_applies_to_a_live_session_and_disabling_ends_it(vigil_db):
    """Roles are re-read from the store on the next run (no cache): a demoted admin loses the page, a
    disabled user is signed out."""
    from app_support import SYSTEM

    at = signed_in("admin")
    store.write(lambda con: users.set_role(con, SYSTEM, "admin", "analyst"), vigil_db)
    at.run()
    assert at.session_state["vigil_actor"].role == "analyst"
    import pytest

    with pytest.raises(ValueError):
        at.switch_page("../pages/users.py")
    store.write(lambda con: users.set_disabled(con, SYSTEM, "admin", True), vigil_db)
    at.run()
    assert not at.exception
    assert "vigil_actor" not in at.session_state
    assert any("disabled or removed" in str(w.value) for w in at.warning)
    assert [t.label for t in at.text_input] == ["Username", "Password"]
