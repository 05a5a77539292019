"""Single sign-on end to end: ``st.login`` against a local OIDC provider started by the test.

The provider is ``oidc-provider-mock`` (a real OpenID Connect provider for tests: discovery, JWKS,
authorisation-code flow, signed ID tokens) on a free localhost port, with predefined identities
and their claims. The app runs with a secrets file written for the test (``--secrets.files``): the
``oidc`` backend, an ``[auth.mock]`` provider and role rules in ``[vigil.oidc_roles]``, as in
``.streamlit/secrets.toml.example``. The browser clicks the sign-in button, picks the identity on
the provider's page, comes back through ``/oauth2callback`` and must land with the mapped role.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_support import (StreamlitServer, free_port, menu, nav_titles, private_copy, problems, screenshot, settle,
                         stop, wait_until_healthy)

from analytics.store import read
from app import auth

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-own-model")]  # beside the own-model test: balances the browser groups

#: Identities the provider knows: (sub, claims). Rules below map them to roles.
IDENTITIES = {
    "rita": {"email": "rita.okafor@bank.example", "email_verified": True, "name": "Rita Okafor",
             "groups": ["model-risk", "staff"]},
    "ada": {"email": "Ada.Brennan@bank.example", "email_verified": True, "name": "Ada Brennan", "groups": ["staff"]},
    "mallory": {"email": "mallory@elsewhere.example", "email_verified": True, "groups": ["contractors"]},
}

SECRETS = """
[vigil]
auth = "oidc"
oidc_provider = "mock"
oidc_groups_claim = "groups"
oidc_default_role = ""

[vigil.oidc_roles]
"ada.brennan@bank.example" = "admin"
"group:model-risk" = "reviewer"
"@bank.example" = "viewer"

[auth]
redirect_uri = "{app}/oauth2callback"
cookie_secret = "{cookie_secret}"

[auth.mock]
client_id = "vigil-e2e"
client_secret = "{client_secret}"
server_metadata_url = "{provider}/.well-known/openid-configuration"
client_kwargs = {{ scope = "openid profile email" }}
"""


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory):
    """``oidc-provider-mock`` on a free localhost port, with :data:`IDENTITIES` predefined."""
    port = free_port()
    log = tmp_path_factory.mktemp("oidc-provider") / "provider.log"
    command = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port), "--host", "localhost"]
    for sub, claims in IDENTITIES.items():
        command += ["--user-claims", json.dumps({"sub": sub, **claims})]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://localhost:{port}"
    try:
        wait_until_healthy(f"{url}/.well-known/openid-configuration", process, log)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def oidc_server(demo_source, provider, tmp_path_factory: pytest.TempPathFactory):
    """The app on its own copy of the demo store, signing in through the provider."""
    workdir = tmp_path_factory.mktemp("oidc-app")
    db = private_copy(demo_source.db, workdir / "store")
    server = StreamlitServer(db, workdir, env={"VIGIL_AUTH": "oidc"}, secrets=workdir / "secrets.toml")
    server.secrets.write_text(SECRETS.format(app=server.url, provider=provider,
                                             cookie_secret=secrets.token_hex(32), client_secret=secrets.token_hex(16)))
    server.start()
    yield server
    server.stop()


def _sso(page, server: StreamlitServer, sub: str) -> None:
    """Click single sign-on in the app, pick ``sub`` on the provider's page, come back to the app."""
    page.goto(server.url)
    settle(page)
    page.get_by_role("button", name=auth.BUTTON_SSO).click()
    page.wait_for_url("**/oauth2/authorize**")
    page.get_by_role("button", name=sub, exact=True).click()
    page.wait_for_url(f"{server.url}/**")
    settle(page)


def _audit(db: Path, username: str) -> list[tuple[str, str, dict]]:
    rows = read(lambda con: con.execute(
        "SELECT action, role, details FROM audit_log WHERE actor = ? AND starts_with(action, 'auth.') ORDER BY seq",
        [username]).fetchall(), db)
    return [(action, role, json.loads(details)) for action, role, details in rows]


@pytest.mark.parametrize(("sub", "username", "role"), [
    ("rita", "rita.okafor@bank.example", "reviewer"),  # a group rule wins over the domain rule
    ("ada", "ada.brennan@bank.example", "admin"),  # an e-mail rule, matched case-insensitively
])
def test_sign_in_through_st_login_lands_with_the_mapped_role(sub, username, role, oidc_server, page, screenshots):
    _sso(page, oidc_server, sub)
    screenshot(page, screenshots, f"oidc-{sub}")

    assert problems(page) == []
    assert page.get_by_text(f"Signed in as {username} · role {role}").count() == 1
    expected = menu(username, role)
    assert nav_titles(page) == expected
    via = {"channel": "app", "proof": "oidc"}
    assert _audit(oidc_server.db, username) == [("auth.login", role, {"method": "oidc", "via": via})]

    # Signing out ends the provider's session too (st.logout follows its end_session_endpoint).
    page.get_by_role("button", name=auth.BUTTON_SIGN_OUT).click()
    page.wait_for_url("**/oauth2/end_session**")
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{oidc_server.url}/**")
    page.get_by_role("button", name=auth.BUTTON_SSO).wait_for()
    settle(page)
    assert page.get_by_text("Signed in as").count() == 0
    assert problems(page) == []
    assert [a for a, _, _ in _audit(oidc_server.db, username)] == ["auth.login", "auth.logout"]


def test_an_identity_without_a_role_is_refused(oidc_server, page, screenshots):
    _sso(page, oidc_server, "mallory")
    screenshot(page, screenshots, "oidc-refused")

    errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    assert len(errors) == 1 and "no Vigil role is configured" in errors[0], errors
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0
    assert _audit(oidc_server.db, "mallory@elsewhere.example") == []
