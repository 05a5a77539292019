"""Browser end-to-end fixtures: a private demo store, a Streamlit server on it, headless Chromium.

- ``e2e_store``: a private copy of the session's small demo portfolio (``demo_store`` in
  ``tests/conftest.py``: 60,000 credit-default rows and the employment model, built with
  :func:`analytics.demo.build_demo`, window ending 2026-11-01), so the audit rows written by
  signing in never reach the shared store. Its ``credentials`` are the demo users' random
  passwords. ``VIGIL_E2E_DEMO`` names an existing demo store to copy instead (see ``demo_source``).
- ``streamlit_server``: ``streamlit run app/server.py`` on a free localhost port with ``VIGIL_DB``
  pointing at that copy and local sign-in forced; waits for ``/_stcore/health``; stopped at the end.
  :class:`StreamlitServer` starts other servers (the OIDC test starts one with its own secrets).
- ``browser``: Debian's chromium (``/usr/bin/chromium``) driven by Playwright's sync API; no browser
  is ever downloaded. ``scripts/ensure-chromium`` installs it when missing.

Every e2e module sets ``pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(...)]``: under
``pytest -n 3 --dist loadgroup`` one worker runs a group's tests one after the other, and the groups run
beside each other: ``"e2e"`` (every page per role, on the session's server), ``"e2e-governance"`` (its
own server, since it changes statuses) and ``"e2e-own-model"`` (the onboarded model's server, the OIDC
server, and the drift evidence on a session server of that worker), sized to take similar times.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_support import StreamlitServer, private_copy

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


@dataclass(frozen=True)
class E2EStore:
    """A private demo store: its path and the demo users (username -> (role, password))."""

    db: Path
    credentials: dict[str, tuple[str, str]]


def _credentials(file: Path) -> dict[str, tuple[str, str]]:
    """Read a ``demo-credentials.txt`` (``username  role  password`` lines, ``#`` comments)."""
    rows = [line.split() for line in file.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return {name: (role, password) for name, role, password in rows}


@pytest.fixture(scope="session")
def demo_source(request: pytest.FixtureRequest) -> E2EStore:
    """The demo portfolio the browser tests copy: the session's ``demo_store``, built once per worker.

    ``VIGIL_E2E_DEMO=/path/to/vigil.duckdb`` uses an existing demo store instead (it is copied,
    never written; its ``demo-credentials.txt`` must lie beside it), to iterate on the browser
    tests without rebuilding the demo.
    """
    existing = os.environ.get("VIGIL_E2E_DEMO")
    if existing:
        db = Path(existing)
        return E2EStore(db, _credentials(db.parent / "demo-credentials.txt"))
    demo = request.getfixturevalue("demo_store")
    return E2EStore(Path(demo.db), dict(demo.credentials))


@pytest.fixture(scope="session")
def e2e_store(demo_source: E2EStore, tmp_path_factory: pytest.TempPathFactory) -> E2EStore:
    """A private copy of the demo portfolio (sign-ins write audit rows to it)."""
    return E2EStore(private_copy(demo_source.db, tmp_path_factory.mktemp("e2e") / "store"), demo_source.credentials)


@pytest.fixture(scope="session")
def streamlit_server(e2e_store: E2EStore, tmp_path_factory: pytest.TempPathFactory):
    """The app on the private demo store with local sign-in, for the whole session."""
    server = StreamlitServer(e2e_store.db, tmp_path_factory.mktemp("server"), env={"VIGIL_AUTH": "local"}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium through Playwright (never a downloaded browser)."""
    if not CHROMIUM.is_file():
        pytest.fail("the browser tests need Debian's chromium at /usr/bin/chromium: run scripts/ensure-chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) and page, 1400x900, closed after the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(60_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """The (git-ignored) folder the screenshots go to."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
