"""AppTest: sign-in, the per-role navigation, every page for every role, friendly errors.

Every test runs the real entry script (app/main.py) against a private copy of a synthetic store.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from app_support import PASSWORD, empty_db, new_app, signed_in, template_store, vigil_db  # noqa: F401 - fixtures

from analytics import audit, store
from analytics.roles import ROLES, Actor
from app import navigation

PAGE_FILES = {spec.path: f"../{spec.path}" for spec in navigation.PAGES}


def _texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def _no_problem(at) -> None:
    assert not at.exception, at.exception
    assert not [e for e in _texts(at.error) if "Sorry" in e or "Traceback" in e], _texts(at.error)


# --------------------------------------------------------------------------------------------------
# The page table


def test_page_table_is_valid():
    """Every page has a known group and capability, a unique URL, an existing file; one is the default."""
    assert len({p.url_path for p in navigation.PAGES}) == len(navigation.PAGES)
    assert sum(p.default for p in navigation.PAGES) == 1
    for spec in navigation.PAGES:
        assert spec.file.is_file(), spec.path
    with pytest.raises(ValueError, match="group"):
        navigation.PageSpec("pages/x.py", "X", ":material/star:", "Elsewhere", "read")
    with pytest.raises(ValueError, match="capability"):
        navigation.PageSpec("pages/x.py", "X", ":material/star:", "Monitor", "fly")


@pytest.mark.parametrize("role", ROLES)
def test_visible_pages_follow_capabilities(role):
    """A role sees exactly the pages whose capability it holds; Users and roles is admin-only."""
    actor = Actor(f"t-{role}", role)
    visible = navigation.visible_pages(actor)
    assert [p.path for p in visible] == [p.path for p in navigation.PAGES if actor.can(p.capability)]
    assert ("pages/users.py" in [p.path for p in visible]) == (role == "admin")
    assert "pages/overview.py" in [p.path for p in visible]


# --------------------------------------------------------------------------------------------------
# Signing in and out


def test_signed_out_visitor_sees_only_the_sign_in_form(vigil_db):
    at = new_app().run()
    _no_problem(at)
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert "Sign in" in [b.label for b in at.button]
    assert not at.metric and not at.dataframe
    for path in PAGE_FILES.values():
        with pytest.raises(ValueError):
            at.switch_page(path)


def test_signed_out_deep_link_shows_the_sign_in_form(vigil_db):
    """A link to a page (and its context) opens the sign-in form, not the page."""
    at = new_app()
    at.query_params.update({"model": "churn", "window": "7d"})
    at.run()
    _no_problem(at)
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert at.query_params.get("model") == "churn"


def test_wrong_password_says_so_without_traceback(vigil_db):
    at = new_app().run()
    at.text_input(key="vigil_sign_in_username").input("admin")
    at.text_input(key="vigil_sign_in_password").input("not-the-password")
    at.button(key="vigil_sign_in_submit").click().run()
    assert not at.exception
    assert any("unknown user or wrong password" in e for e in _texts(at.error))
    assert "vigil_actor" not in at.session_state
    rows = store.read(lambda con: audit.entries(con), vigil_db)
    assert "auth.login_failed" in rows["action"].tolist()


def test_empty_fields_are_refused(vigil_db):
    at = new_app().run()
    at.button(key="vigil_sign_in_submit").click().run()
    assert not at.exception
    assert any("Enter your username and password" in e for e in _texts(at.error))


@pytest.mark.parametrize("role", ROLES)
def test_every_role_lands_on_the_overview(vigil_db, role):
    at = signed_in(role)
    _no_problem(at)
    assert at.session_state["vigil_actor"] == Actor(role, role)
    assert _texts(at.title) == ["Overview"]
    assert any(f"role **{role}**" in c for c in _texts(at.sidebar.caption))


@pytest.mark.parametrize("role", ROLES)
def test_every_page_for_every_role(vigil_db, role):
    """Each page renders without exception for a role that may see it; otherwise it cannot be reached.

    One session per role walks every page, as a user does from the menu (a sign-in per page cost a
    second each, a hundred times over).
    """
    at = signed_in(role)
    for spec in navigation.PAGES:
        if Actor(role, role).can(spec.capability):
            at.switch_page(PAGE_FILES[spec.path]).run()
            assert not at.exception, f"{spec.path} as {role}: {at.exception}"
            errors = [e for e in _texts(at.error) if "Sorry" in e or "Traceback" in e]
            assert not errors, f"{spec.path} as {role}: {errors}"
            assert _texts(at.title), f"{spec.path} drew no title for {role}"
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(PAGE_FILES[spec.path])


def test_sign_out_is_audited_and_returns_to_the_form(vigil_db):
    at = signed_in("analyst")
    at.button(key="vigil_sign_out").click().run()
    _no_problem(at)
    assert "vigil_actor" not in at.session_state
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    actions = store.read(lambda con: audit.entries(con), vigil_db)
    mine = actions[actions["actor"] == "analyst"]["action"].tolist()
    assert mine[:2] == ["auth.logout", "auth.login"]


def test_demo_credentials_hint_only_when_the_file_exists(vigil_db):
    at = new_app().run()
    assert not any("demo-credentials" in c for c in _texts(at.caption))
    (Path(os.environ["VIGIL_DATA_DIR"]) / "demo-credentials.txt").write_text("# test\n")
    at = new_app().run()
    assert any("demo-credentials.txt" in c for c in _texts(at.caption))


# --------------------------------------------------------------------------------------------------
# No database, and friendly errors


def test_missing_database_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_DB", str(tmp_path / "nowhere.duckdb"))
    at = new_app().run()
    assert not at.exception
    assert any("There is no Vigil database" in i for i in _texts(at.info))
    assert not (tmp_path / "nowhere.duckdb").exists(), "the app must not create a database"


def test_unknown_auth_backend_is_explained(vigil_db, monkeypatch):
    monkeypatch.setenv("VIGIL_AUTH", "ldap")
    at = new_app().run()
    assert not at.exception
    assert any("sign-in backend 'ldap' is unknown" in e for e in _texts(at.error))


def test_unexpected_error_shows_an_apology_with_a_reference(vigil_db, monkeypatch):
    from analytics import overview

    def broken(frame):
        raise RuntimeError("secret internals")

    at = signed_in("viewer")
    monkeypatch.setattr(overview, "totals", broken)
    at.run()
    assert not at.exception
    errors = _texts(at.error)
    assert any("Sorry, something went wrong" in e and "reference" in e for e in errors), errors
    assert not any("secret internals" in e for e in errors)


def test_vigil_error_shows_its_message(vigil_db, monkeypatch):
    from analytics import overview
    from analytics.errors import StoreBusyError

    def busy(frame):
        raise StoreBusyError("the store is busy; try again in a moment")

    at = signed_in("viewer")
    monkeypatch.setattr(overview, "totals", busy)
    at.run()
    assert not at.exception
    assert "the store is busy; try again in a moment" in _texts(at.error)


def test_password_is_never_kept_in_the_session(vigil_db):
    at = signed_in("reviewer")
    assert PASSWORD not in [str(v) for v in at.session_state.to_dict().values()]
