"""In a real browser: the demo users sign in with the local backend and open the pages of their role.

Every page of the app is opened in Chromium at least once per run, on the demo store: each role other than
the admin checks that its menu lists exactly the pages it may see (app.navigation), that typing the address
of a hidden page does not open it, and opens the pages where its view differs from the admin's
(:data:`OWN_VIEWS`); other browser tests open the pages they are about (:data:`OPENED_ELSEWHERE`); the admin
opens all the others (:data:`ADMIN_WALK`). Every page of every role is also rendered by the AppTests
(tests/app/test_app_navigation.py), at a fraction of the cost of a browser visit. A test signs in on the
first page it opens (a deep link), not on the default page. Each page opened shows no exception box, error
box or the error boundary's apology and draws a heading, the server logs no error while it is shown, and a
screenshot of it goes to ``tests/e2e/screenshots/`` (git-ignored).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import menu, nav_titles, open_page, page_url, problems, screenshot, settle, sign_in

from analytics import sessions, settings, store, users
from analytics.roles import ROLES, Actor
from app import auth, navigation, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

#: Server log lines that mean something went wrong while a page was drawn.
LOG_PROBLEMS = ("Traceback", "unexpected error while showing", "Uncaught app execution")
ADMIN = Actor("cli:e2e", "admin")
#: Pages each role other than the admin opens in the browser, besides its landing page: where its view is not
#: the admin's (read-only alerts, masked sensitive values, the reviewer's recommendation form, the approver's
#: plan approval). The governance browser tests open the Approvals, Registry and Explanations pages as each role.
OWN_VIEWS = {"viewer": ("Alerts", "Settings"), "analyst": ("Counterfactuals",), "reviewer": ("Fairness",),
             "approver": ("Compliance",)}
#: Pages that other browser tests open on a copy of the demo store, and which (the admin's walk leaves them out).
OPENED_ELSEWHERE = {"Overview": "test_oidc.py", "Drift": "test_drift_evidence.py",
                    "Registry": "test_governance_browser.py", "Explanations": "test_governance_browser.py",
                    "Approvals": "test_governance_browser.py"}
#: The pages the admin opens: those no other browser test opens on the demo.
ADMIN_WALK = tuple(title for title in menu("x.admin", "admin") if title not in OPENED_ELSEWHERE
                   and not any(title in views for views in OWN_VIEWS.values()))


def _user(credentials: dict[str, tuple[str, str]], role: str) -> tuple[str, str]:
    users = [(name, password) for name, (r, password) in credentials.items() if r == role]
    assert users, f"the demo has no user with the role {role!r}: {sorted(credentials)}"
    return users[0]


def test_every_page_is_opened_in_chromium_and_each_role_opens_its_own_views():
    """The admin's walk, the roles' own views and the pages other browser tests open make up every page of the
    app, and each role's own views are in its menu."""
    assert menu("x.admin", "admin") == [spec.title for group in navigation.GROUPS for spec in navigation.PAGES
                                        if spec.group == group]
    opened = set(ADMIN_WALK) | set(OPENED_ELSEWHERE) | {title for views in OWN_VIEWS.values() for title in views}
    assert opened == set(menu("x.admin", "admin"))
    assert sorted(OWN_VIEWS) == sorted(r for r in ROLES if r != "admin")
    for role, titles in OWN_VIEWS.items():
        assert set(titles) <= set(menu(f"x.{role}", role)), role
    default = next(spec.title for spec in navigation.PAGES if spec.default)
    for title, module in OPENED_ELSEWHERE.items():  # the module names the page, or lands on the default page
        text = (Path(__file__).parent / module).read_text()
        assert f'"{title}"' in text or (title == default and "page.goto(server.url)" in text), (title, module)


def _walk(role, titles, credentials, server, page, screenshots) -> None:
    """Sign in as ``role`` on the first of ``titles``; check the menu, then open the others from the menu."""
    username, password = _user(credentials, role)
    log_start = len(server.log_text())

    sign_in(page, server.url, username, password, at=titles[0])
    assert page.get_by_text(f"Signed in as {username}").count() == 1
    assert nav_titles(page) == menu(username, role), "the menu must list exactly the pages this role may see"

    landing = page.locator('[data-testid="stSidebarNav"] a[aria-current="page"] span[label]')
    assert landing.count() == 1 and landing.get_attribute("label") == titles[0], "the menu marks the open page"
    for i, title in enumerate(titles):
        if i:
            open_page(page, title)
        shot = screenshot(page, screenshots, f"{role}-{title}")
        assert problems(page) == [], f"{title} as {role} ({shot}): {problems(page)}"
        assert page.locator('[data-testid="stMain"] h1').count() >= 1, f"{title} as {role} drew no heading ({shot})"
    log = server.log_text()[log_start:]
    assert not [line for line in log.splitlines() if any(p in line for p in LOG_PROBLEMS)], log[-4000:]


def test_the_admin_opens_every_page_without_error(e2e_store, streamlit_server, page, screenshots):
    _walk("admin", ADMIN_WALK, e2e_store.credentials, streamlit_server, page, screenshots)


@pytest.mark.parametrize("role", sorted(OWN_VIEWS, key=ROLES.index))
def test_each_role_sees_its_menu_and_its_own_views_and_cannot_reach_another_page(role, e2e_store, streamlit_server,
                                                                                 page, screenshots):
    """Besides the walk: typing the address of the first page of the admin's menu that the role may not see
    lands on the default page, not on that page."""
    _walk(role, OWN_VIEWS[role], e2e_store.credentials, streamlit_server, page, screenshots)
    hidden = next(spec for spec in navigation.visible_pages(ADMIN)
                  if spec.title not in menu(f"x.{role}", role) and not spec.default)
    # A client-side navigation to the URL (a full reload would start a new, signed-out session).
    page.evaluate(f"window.history.pushState({{}}, '', '/{hidden.url_path}')")
    page.evaluate("window.dispatchEvent(new PopStateEvent('popstate'))")
    settle(page)
    shot = screenshot(page, screenshots, f"{role}-{hidden.title}-by-url")
    assert page.get_by_role("heading", name=hidden.title).count() == 0, f"{role} reached {hidden.title} ({shot})"
    assert page.locator('[data-testid="stMain"] h1').count() >= 1, f"{role} landed on no page ({shot})"
    assert problems(page) == [], f"{hidden.title} by URL as {role} ({shot}): {problems(page)}"


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
    sign_in(page, url, name, password, at="Settings")  # a light page: the test is about sessions
    cookie = {c["name"]: c for c in page.context.cookies()}[session_cookie.COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert session_cookie.COOKIE not in page.evaluate("document.cookie"), "page scripts cannot read it"
    page.reload()
    _signed_in(page, name)
    other = page.context.new_page()
    other.goto(page_url(url, "Settings"))  # a light page: the second tab only has to show who is signed in
    _signed_in(other, name)
    page.get_by_role("button", name=auth.BUTTON_SIGN_OUT).click()
    assert _signed_out_because(page) == ""
    assert "another tab" in _signed_out_because(other, click="Drift")

    def resume_in(tab) -> None:
        """Give the browser a new session of the tester (as a sign-in does) and open the app."""
        token = sessions.start(Actor(name, "viewer"), "local", db=db)
        page.context.add_cookies([{"name": session_cookie.COOKIE, "value": token, "url": url, "httpOnly": True}])
        tab.goto(page_url(url, "Settings"))
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
