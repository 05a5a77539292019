"""In Chromium, as each of the five roles: governance actions stay on their version and clear their forms
(issue 13 item 10), the demo's versions under review show their stored pack (item 11), and long work
says what it does (item 17: the Explanations steps, the dossier's status).

The module runs its own server on its own copy of the demo store, since it approves and reviews versions.
Each test signs in once and loads few pages; the progress texts are recorded in the page by a
MutationObserver, so a step that ends quickly is still seen.
"""

from __future__ import annotations

import re

import pytest
from e2e_support import StreamlitServer, private_copy, problems, screenshot, settle, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-governance")]  # its own server: runs beside the other groups

LOG_PROBLEMS = ("Traceback", "unexpected error while showing", "Uncaught app execution")
MAIN = '[data-testid="stMain"]'

#: Records, in ``window.__said``, every text a progress bar, spinner or status shows while the page runs: a
#: script run in the page before the app's own, so the steps of the page signed in on are seen too.
WATCH = """
window.__said = [];
document.addEventListener('DOMContentLoaded', () => {
    const note = () => document.querySelectorAll(
        '[data-testid="stProgress"], [data-testid="stSpinner"], [data-testid="stExpander"] summary'
    ).forEach(e => { const t = e.innerText.trim().slice(0, 300);
                     if (t && !window.__said.includes(t)) window.__said.push(t); });
    new MutationObserver(note).observe(document.body, {subtree: true, childList: true, characterData: true});
});
"""


@pytest.fixture(scope="module")
def governance_server(demo_source, tmp_path_factory):
    db = private_copy(demo_source.db, tmp_path_factory.mktemp("e2e-governance") / "store")
    server = StreamlitServer(db, tmp_path_factory.mktemp("server-governance"), env={"VIGIL_AUTH": "local"}).start()
    yield server
    log = server.log_text()
    server.stop()
    assert not [line for line in log.splitlines() if any(p in line for p in LOG_PROBLEMS)], log[-4000:]


def _as(role, demo_source, server, page, at: str):
    """Record progress texts (:data:`WATCH`) and sign in as the demo's user of ``role`` on the page titled ``at``."""
    username, password = next((u, p) for u, (r, p) in demo_source.credentials.items() if r == role)
    page.add_init_script(WATCH)
    sign_in(page, server.url, username, password, at=at)
    return username


def _picker(page):
    """The Approvals page's version picker (the main area's selectbox labelled Version)."""
    box = page.locator(f'{MAIN} [data-testid="stSelectbox"]').filter(
        has=page.locator('[data-testid="stWidgetLabel"]', has_text=re.compile(r"^\s*Version\s*$")))
    assert box.count() == 1, f"expected one Version picker, found {box.count()}"
    return box


def _choose(page, option: str) -> None:
    _picker(page).get_by_role("button", name="Open").click()
    page.get_by_role("option", name=re.compile("^" + re.escape(option))).click()
    settle(page)


def _picked(page) -> str:
    return _picker(page).get_by_role("combobox").input_value()


def _said(page) -> list[str]:
    return page.evaluate("() => window.__said")


def test_viewer_prepares_a_dossier_and_is_told_each_step(demo_source, governance_server, page, screenshots):
    _as("viewer", demo_source, governance_server, page, at="Registry")
    page.get_by_role("button", name="Prepare the dossier").click()
    settle(page)
    shot = screenshot(page, screenshots, "governance-viewer-dossier")
    assert page.get_by_text(re.compile(r"The dossier of \S+ \S+ is ready")).count() == 1, shot
    assert page.get_by_role("button", name="Download PDF").count() == 1, shot
    assert any(t.startswith("Preparing the dossier of") for t in _said(page)), _said(page)
    assert problems(page) == [], shot


def test_analyst_first_visit_of_explanations_names_its_steps(demo_source, governance_server, page, screenshots):
    _as("analyst", demo_source, governance_server, page, at="Explanations")
    shot = screenshot(page, screenshots, "governance-analyst-explanations")
    said = " | ".join(_said(page))
    assert "Step 1 of 2: SHAP values of up to 5,000 predictions sampled from" in said, said
    assert "Step 2 of 2: SHAP values of the reference sample" in said, said
    assert page.locator(f'{MAIN} [data-testid="stProgress"]').count() == 0, "the bar is removed when done"
    assert problems(page) == [], shot


def test_reviewer_starts_a_review_and_stays_on_the_version(demo_source, governance_server, page, screenshots):
    _as("reviewer", demo_source, governance_server, page, at="Approvals")
    _choose(page, "credit-default v4")
    # item 11: the demo's submitted version carries the pack stored at its submission
    assert page.get_by_text(re.compile(r"Pack #\d+, assembled .* when the version was submitted; sha256")).count() == 1
    page.get_by_role("button", name="Start the review of credit-default v4").click()
    settle(page)
    assert _picked(page).startswith("credit-default v4 (in review)"), _picked(page)
    page.get_by_label("Finding", exact=True).fill("calibration drifts in the top decile")
    page.get_by_role("button", name="Record the finding on credit-default v4").click()
    settle(page)
    shot = screenshot(page, screenshots, "governance-reviewer-finding")
    assert page.get_by_text("Finding recorded on credit-default v4.").count() == 1, shot
    assert _picked(page).startswith("credit-default v4"), _picked(page)
    assert page.get_by_label("Finding", exact=True).input_value() == "", "the form is emptied after the action"
    assert problems(page) == [], shot


def test_approver_approves_and_the_page_stays_on_that_version(demo_source, governance_server, page, screenshots):
    _as("approver", demo_source, governance_server, page, at="Approvals")
    _choose(page, "employment v2")
    assert page.get_by_text(re.compile(r"Pack #\d+, assembled .* when the version was submitted")).count() == 1
    page.get_by_label("Comment (required)").fill("stable on the 2016 survey")
    # the stored pack of the demo's employment v2 has a failing check (input drift): an override is asked for
    override = page.get_by_label(re.compile(r"^Override reason \(required to approve: .* failed\)"))
    override.fill("the drift is the survey's known shift between years")
    page.get_by_role("button", name="Approve employment v2").click()
    settle(page)
    shot = screenshot(page, screenshots, "governance-approver-approved")
    assert page.get_by_text("Approved employment v2.").count() == 1, shot
    assert _picked(page).startswith("employment v2 (approved)"), _picked(page)
    assert page.get_by_role("button", name=re.compile("^Approve ")).count() == 0, "nothing left to decide here"
    assert page.get_by_role("button", name="Deploy employment v2 as shadow").count() == 1, shot
    assert problems(page) == [], shot


def test_admin_sees_each_decision_button_name_its_version(demo_source, governance_server, page, screenshots):
    _as("admin", demo_source, governance_server, page, at="Approvals")
    _choose(page, "credit-default v4")
    shot = screenshot(page, screenshots, "governance-admin-approvals")
    status = _picked(page)
    if "in review" in status:        # after the reviewer's test: a decision form naming v4
        assert page.get_by_role("button", name="Approve credit-default v4").count() == 1, shot
        assert page.get_by_role("button", name="Reject credit-default v4").count() == 1, shot
    else:                             # run alone: v4 is still submitted
        assert page.get_by_role("button", name="Start the review of credit-default v4").count() == 1, shot
    assert problems(page) == [], shot
