"""In a real browser: each demo user signs in with the local backend and opens every page of their role.

For each role: the sidebar lists exactly the pages the role may see (app.navigation), each page opens
from the menu without an exception box, an error box or the error boundary's apology, the server
logs no error while it is shown, and a screenshot of it goes to ``tests/e2e/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import pytest
from e2e_support import menu, nav_titles, open_page, problems, screenshot, settle, sign_in

from analytics import sessions, settings, store, users
from analytics.roles import ROLES, Actor
from app import auth, navigation, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

#: Server log lines that mean something went wrong while a page was drawn.
LOG_PROBLEMS = ("Traceback", "unexpected error while showing", "Uncaught app execution")
ADMIN = Actor("cli:e2e", "admin")


def _user(credentials: dict[str, tuple[str, str]], role: str) -> tuple[str, str]:
    users = [(name, password) for name, (r, password) in credentials.items() if r == role]
    assert users, f"the demo has no user with the role {role!r}: {sorted(credentials)}"
    return users[0]


@pytest.mark.parametrize("role", ROLES)
def test_every_page_of_a_role_opens_without_error(role, e2e_store, streamlit_server, page, screenshots):
    username, password = _user(e2e_store.credentials, role)
    expected = menu(username, role)
    log_start = len(streamlit_server.log_text())

    sign_in(page, streamlit_server.url, username, password)
    assert page.get_by_text(f"Signed in as {username}").count() == 1
    assert nav_titles(page) == expected, "the menu must list exactly the pages this role may see"

    for title in expected:
        open_page(page, title)
        shot = screenshot(page, screenshots, f"{role}-{title}")
        assert problems(page) == [], f"{title} as {role} ({shot}): {problems(page)}"
        assert page.locator('[data-testid="stMain"] h1').count() >= 1, f"{title} as {role} drew no heading ({shot})"
    log = streamlit_server.log_text()[log_start:]
    assert not [line for line in log.splitlines() if any(p in line for p in LOG_PROBLEMS)], log[-4000:]


def test_a_page_the_role_may_not_see_is_not_reachable_by_url(e2e_store, streamlit_server, page, screenshots):
    """A viewer who types the Users page's address lands on the default page, not on Users."""
    username, password = _user(e2e_store.credentials, "viewer")
    sign_in(page, streamlit_server.url, username, password)
    users_page = navigation.spec_for("pages/users.py")
    assert users_page.title not in nav_titles(page)
    # A client-side navigation to the URL (a full reload would start a new, signed-out session).
    page.evaluate(f"window.history.pushState({{}}, '', '/{users_page.url_path}')")
    page.evaluate("window.dispatchEvent(new PopStateEvent('popstate'))")
    settle(page)
    screenshot(page, screenshots, "viewer-users-by-url")
    assert page.get_by_role("heading", name=users_page.title).count() == 0
    assert problems(page) == []


def test_wrong_password_is_refused_in_plain_words(e2e_store, streamlit_server, page):
    username, _ = _user(e2e_store.credentials, "analyst")
    page.goto(streamlit_server.url)
    settle(page)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    settle(page)
    errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    assert len(errors) == 1 and "Sign-in failed" in errors[0], errors
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0


def _click_nav(page, title: str) -> None:
    """Click a page in the sidebar menu (a click that runs the app again) and wait for the run."""
    page.locator(f'[data-testid="stSidebarNav"] a:has(span[label="{title}"])').click()
    settle(page)


def _signed_in_as(page, username: str) -> bool:
    return page.get_by_text(f"Signed in as {username}").count() == 1


def _signed_out_because(page) -> str:
    """The reason the sign-in page gives for a sign-out ("" when it shows none); the form must be there."""
    assert page.get_by_label(auth.LABEL_USERNAME, exact=True).count() == 1, "the sign-in form is not shown"
    return " ".join(page.locator('[data-testid="stAlertContentWarning"]').all_inner_texts())


def test_a_session_survives_reloads_and_tabs_and_ends_everywhere(e2e_store, streamlit_server, page):
    """Issue 18 section 3, in Chromium: a reload and a new tab stay signed in (HttpOnly cookie); the idle
    timeout, a sign-out in another tab and a disabled account each sign the user out on the next click."""
    name, password = "session.tester", "a session tester's password"
    db = e2e_store.db
    store.write(lambda con: users.add_user(con, ADMIN, name, "viewer", password=password), db)
    sign_in(page, streamlit_server.url, name, password)
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies[session_cookie.COOKIE]["httpOnly"] and cookies[session_cookie.COOKIE]["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").find(session_cookie.COOKIE) == -1, "scripts cannot read the cookie"
    page.reload()
    settle(page)
    assert _signed_in_as(page, name), "a reload keeps the session"
    other = page.context.new_page()
    other.goto(streamlit_server.url)
    settle(other)
    assert _signed_in_as(other, name), "a new tab shares the session"

    # idle timeout (set to 2 s here; the default is 8 hours): the next click signs out, in every tab
    store.write(lambda con: settings.set_value(con, ADMIN, sessions.IDLE_TIMEOUT.key, 2), db)
    try:
        other.wait_for_timeout(2500)
        _click_nav(other, "Drift")
        assert "idle" in _signed_out_because(other)
    finally:
        store.write(lambda con: settings.unset(con, ADMIN, sessions.IDLE_TIMEOUT.key), db)

    # signing out in one tab ends the session in the other on its next click
    sign_in(page, streamlit_server.url, name, password)
    other.reload()
    settle(other)
    assert _signed_in_as(other, name)
    page.get_by_role("button", name=auth.BUTTON_SIGN_OUT).click()
    settle(page)
    _click_nav(other, "Drift")
    assert "another tab" in _signed_out_because(other)
    other.reload()
    settle(other)
    assert _signed_out_because(other) == "", "a reload after the sign-out stays signed out"

    # an account disabled by an admin is signed out on its next click
    sign_in(page, streamlit_server.url, name, password)
    store.write(lambda con: users.set_disabled(con, ADMIN, name, True), db)
    _click_nav(page, "Drift")
    assert "disabled" in _signed_out_because(page)
    other.close()
