"""Helpers of the browser tests: servers (Streamlit, the OIDC provider) and what is done in the page.

Servers: :class:`StreamlitServer` runs ``streamlit run app/server.py`` (``app/main.py`` with its
session-cookie route) on a free localhost port in its own process group; :func:`wait_until_healthy`
and :func:`stop` serve any server a test starts. In the page: :func:`settle` waits for Streamlit to finish a run, :func:`sign_in` (at a page: :func:`page_url`), :func:`open_page`,
:func:`problems` (exception and error boxes) and :func:`screenshot`.

Not a conftest: test modules import these helpers by name (``from e2e_support import ...``), which
works because pytest puts this rootless folder on ``sys.path``; a second module called ``conftest``
would be shadowed by ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page

from analytics import store
from analytics.roles import Actor
from app import auth, navigation

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0  # seconds for a server to answer its health check (the machine is shared)


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = START_TIMEOUT) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode} before it was healthy:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"{url} did not answer within {timeout:.0f} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.is_file() else "(no log)"


def stop(process: subprocess.Popen) -> None:
    """Stop a server we started (its own process group), politely and then firmly."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@dataclass
class StreamlitServer:
    """``streamlit run app/server.py`` on a free localhost port, in its own process group.

    ``env`` is added to this process's environment; ``secrets`` (a path) replaces
    ``.streamlit/secrets.toml``, so a developer's own secrets never leak into a test.
    """

    db: Path
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    secrets: Path | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / f"streamlit-{self.port}.log"

    def start(self) -> StreamlitServer:
        secrets = self.secrets or self.workdir / "no-secrets.toml"
        if self.secrets is None:
            secrets.write_text("# no secrets: local sign-in\n")
        env = {**os.environ, "VIGIL_DB": str(self.db), "VIGIL_DATA_DIR": str(self.db.parent),
               "VIGIL_LOCK_TIMEOUT": "60", "PYTHONUNBUFFERED": "1", **self.env}
        command = [sys.executable, "-m", "streamlit", "run", str(REPO / "app" / "server.py"),
                   "--server.port", str(self.port), "--server.address", "localhost", "--server.headless", "true",
                   "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
                   "--secrets.files", str(secrets)]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        wait_until_healthy(f"{self.url}/_stcore/health", self.process, self.log)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.is_file() else ""


def private_copy(db: Path, target: Path) -> Path:
    """Copy a store with what lies beside it (log segments, artifacts, demo credentials); re-point its views."""
    target.mkdir(parents=True)
    shutil.copy2(db, target / db.name)
    for name in (f"{db.name}.logs", f"{db.stem}.logs", "artifacts"):
        if (db.parent / name).is_dir():
            shutil.copytree(db.parent / name, target / name)
    if (db.parent / "demo-credentials.txt").is_file():
        shutil.copy2(db.parent / "demo-credentials.txt", target / "demo-credentials.txt")
    store.write(store.rebuild_views, target / db.name)
    return target / db.name


APP = '[data-testid="stApp"]'
NAV = '[data-testid="stSidebarNav"]'
NAV_LINK = '[data-testid="stSidebarNavLink"]'
EXCEPTION = '[data-testid="stException"]'
ERROR_BOX = '[data-testid="stAlertContentError"]'
#: The apology of the app's error boundary (app/widgets.py), in case it is ever drawn another way.
BOUNDARY_TEXT = "something went wrong"


def settle(page: Page, timeout: float = 90.0, quiet_checks: int = 4) -> None:
    """Wait until the app is connected, its script has finished and nothing on screen is stale.

    "Settled" must hold for ``quiet_checks`` polls in a row (150 ms apart), since a rerun can
    start a moment after a click. Plotly charts draw after the script ends, so the SVG of every
    visible chart is waited for too.
    """
    page.wait_for_selector(f'{APP}[data-test-connection-state="CONNECTED"]', timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < quiet_checks:
        if time.monotonic() > deadline:
            raise AssertionError(f"the app did not settle within {timeout:.0f} s at {page.url}")
        busy = page.evaluate(
            """() => {
                const app = document.querySelector('[data-testid="stApp"]');
                const state = app ? app.getAttribute('data-test-script-state') : 'none';
                const stale = document.querySelectorAll('[data-stale="true"]').length;
                const skeleton = document.querySelectorAll('[data-testid="stSkeleton"]').length;
                // a visible chart (not in a closed expander or another tab) must have drawn its SVG
                const undrawn = Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
                    .filter(c => c.getClientRects().length > 0 && !c.querySelector('.main-svg')).length;
                return state === 'running' || state === 'initial' || state === 'none' || stale > 0
                       || skeleton > 0 || undrawn > 0;
            }""")
        quiet = 0 if busy else quiet + 1
        page.wait_for_timeout(150)


def page_url(base_url: str, title: str) -> str:
    """The address of the page called ``title`` (a deep link: signing in there opens that page, not the default)."""
    spec = next((spec for spec in navigation.PAGES if spec.title == title), None)
    assert spec is not None, f"no page is called {title!r}"
    return base_url if spec.default else f"{base_url}/{spec.url_path}"  # Streamlit serves the default page at /


def sign_in(page: Page, base_url: str, username: str, password: str, *, at: str | None = None) -> None:
    """Open the app (at the page titled ``at``, or its default page), fill the local sign-in form and wait for
    the navigation to appear.

    Signing in at the page a test is about saves a visit of the default page (the Overview, among the
    costliest pages to draw), which the OIDC tests and the admin's walk open.
    """
    page.goto(page_url(base_url, at) if at else base_url)
    settle(page)
    page.get_by_label(auth.LABEL_USERNAME, exact=True).fill(username)
    page.get_by_label(auth.LABEL_PASSWORD, exact=True).fill(password)
    page.get_by_role("button", name=auth.BUTTON_SIGN_IN, exact=True).click()
    page.get_by_role("button", name=auth.BUTTON_SIGN_OUT).wait_for()
    settle(page)


def menu(username: str, role: str) -> list[str]:
    """The page titles a role's menu lists, in menu order (groups in ``GROUPS`` order, as ``navigation.build``)."""
    visible = navigation.visible_pages(Actor(username, role))
    return [spec.title for group in navigation.GROUPS for spec in visible if spec.group == group]


def nav_titles(page: Page) -> list[str]:
    """The page titles in the sidebar navigation, in menu order.

    Streamlit draws no menu when a role sees one page only; then this is that page's title (the
    open page, read from its heading), or an empty list when no page is drawn.
    """
    if page.locator(NAV).count() == 0:
        return page.locator('[data-testid="stMain"] h1').all_inner_texts()[:1]
    return page.locator(f"{NAV} a{NAV_LINK} span[label]").evaluate_all("els => els.map(e => e.getAttribute('label'))")


def open_page(page: Page, title: str) -> None:
    """Click a page in the sidebar navigation (a client-side switch: the session stays signed in).

    Without a menu (a role with one page) the page is already open: only check its heading.
    """
    if page.locator(NAV).count() == 0:
        assert nav_titles(page) == [title], f"{title!r} is not the open page at {page.url}"
        return
    link = page.locator(f'{NAV} a{NAV_LINK}:has(span[label="{title}"])')
    assert link.count() == 1, f"expected one navigation link {title!r}, found {link.count()}: {nav_titles(page)}"
    link.click()
    settle(page)
    active = page.locator(f'{NAV} a{NAV_LINK}[aria-current="page"] span[label]')
    assert active.count() == 1 and active.get_attribute("label") == title, \
        f"{title!r} is not the open page at {page.url}"


def problems(page: Page) -> list[str]:
    """Exception boxes, error boxes and the error boundary's apology on screen, as text."""
    found = [f"exception: {t}" for t in page.locator(EXCEPTION).all_inner_texts()]
    found += [f"error box: {t}" for t in page.locator(ERROR_BOX).all_inner_texts()]
    if BOUNDARY_TEXT in page.locator(APP).inner_text().lower() and not found:
        found.append("the error boundary's apology is on screen")
    return found


def screenshot(page: Page, folder: Path, name: str) -> Path:
    """Save the viewport and return the file."""
    path = folder / f"{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.png"
    page.screenshot(path=str(path))
    return path
