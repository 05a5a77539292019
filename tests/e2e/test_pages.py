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


def pages_to_open(role: str) -> list[str]:
    """The pages ``role`` opens in the browser, in menu order.

    The admin opens every page. Each page the other roles can see is opened by one of them: the role
    that sees it with the fewest pages given so far (ties in ``ROLES`` order), plus each role's landing
    page. Every page of every role is also rendered by the AppTests (tests/app/test_app_navigation.py),
    at a fraction of the cost of a browser visit.
    """
    menus = {r: menu(f"x.{r}", r) for r in ROLES}
    if role == "admin":
        return menus[role]
    others = [r for r in ROLES if r != "admin"]
    given: dict[str, set[str]] = {r: {menus[r][0]} for r in others}
    for title in dict.fromkeys(t for r in others for t in menus[r]):
        if not any(title in given[r] for r in others):
            seeing = [r for r in others if title in menus[r]]
            given[min(seeing, key=lambda r: len(given[r]))].add(title)
    return [t for t in menus[role] if t in given[role]]


def test_between_them_the_roles_open_every_page_any_of_them_sees():
    """The share-out above leaves no page out, and no role opens more than half its menu again."""
    non_admin = [r for r in ROLES if r != "admin"]
    seen = {t for r in non_admin for t in menu(f"x.{r}", r)}
    assert {t for r in non_admin for t in pages_to_open(r)} == seen
    assert pages_to_open("admin") == menu("x.admin", "admin")
    assert all(len(pages_to_open(r)) <= len(menu(f"x.{r}", r)) // 2 for r in non_admin)


@pytest.mark.parametrize("role", ROLES)
def test_every_page_of_a_role_opens_without_error(role, e2e_store, streamlit_server, page, screenshots):
    username, password = _user(e2e_store.credentials, role)
    expected = menu(username, role)
    log_start = len(streamlit_server.log_text())

    sign_in(page, streamlit_server.url, username, password)
    assert page.get_by_text(f"Signed in as {username}").count() == 1
    assert nav_titles(page) == expected, "the menu must list exactly the pages this role may see"

    for title in pages_to_open(role):
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


def _signed_in(tab, username: str) -> None:
    """Wait until the tab shows who is signed in."""
    tab.get_by_text(f"Signed in as {username}").wait_for()


def _signed_out_because(tab, click: str | None = None) -> str:
    """Click a page in the menu first (one click: one run of the app) if asked; wait for the sign-in form
    and return the reason it gives for the sign-out ("" when none)."""
    if click:
        tab.locator(f'[data-testid="stSidebarNav"] a:has(span[label="{click}"])').click()
    tab.get_by_label(auth.LABEL_USERNAME, exact=True).wait_for()
    return " ".join(tab.locator('[data-testid="stAlertContentWarning"]').all_inner_texts())


def test_a_session_survives_reloads_and_tabs_and_ends_everywhere(e2e_store, streamlit_server, page):
    """Issue 18 section 3, in Chromium: a reload and a new tab stay signed in (HttpOnly cookie); a sign-out in
    another tab, the idle timeout and a disabled account each sign the user out on the next click."""
    name, password, db, url = "session.tester", "a session tester's password", e2e_store.db, streamlit_server.url
    store.write(lambda con: users.add_user(con, ADMIN, name, "viewer", password=password), db)
    sign_in(page, f"{url}/settings", name, password)  # a deep link to a light page: the test is about sessions
    cookie = {c["name"]: c for c in page.context.cookies()}[session_cookie.COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert session_cookie.COOKIE not in page.evaluate("document.cookie"), "page scripts cannot read it"
    page.reload()
    _signed_in(page, name)
    other = page.context.new_page()
    other.goto(f"{url}/settings")  # a light page: the second tab only has to show who is signed in
    _signed_in(other, name)
    page.get_by_role("button", name=auth.BUTTON_SIGN_OUT).click()
    assert _signed_out_because(page) == ""
    assert "another tab" in _signed_out_because(other, click="Drift")

    def resume_in(tab) -> None:
        """Give the browser a new session of the tester (as a sign-in does) and open the app."""
        token = sessions.start(Actor(name, "viewer"), "local", db=db)
        page.context.add_cookies([{"name": session_cookie.COOKIE, "value": token, "url": url, "httpOnly": True}])
        tab.goto(f"{url}/settings")
        _signed_in(tab, name)

    resume_in(other)  # idle for longer than the timeout (1 s here; 8 hours by default): out on the next click
    store.write(lambda con: settings.set_value(con, ADMIN, sessions.IDLE_TIMEOUT.key, 1), db)
    try:
        other.wait_for_timeout(1500)
        assert "idle" in _signed_out_because(other, click="Drift")
    finally:
        store.write(lambda con: settings.unset(con, ADMIN, sessions.IDLE_TIMEOUT.key), db)
    resume_in(other)  # an admin disables the account: out on the next click
    store.write(lambda con: users.set_disabled(con, ADMIN, name, True), db)
    assert "disabled" in _signed_out_because(other, click="Drift")
    other.close()
