"""Nobody bypasses the lifecycle (issue 18, section 2): each test performs an attack of the review.

Before: ``registry.register_version(status="champion")`` made a second champion at 100% traffic; four
eyes checked only the latest submitter; an analyst could withdraw someone else's submission.
"""

from __future__ import annotations

import inspect
import re
from datetime import datetime
from pathlib import Path

import pytest

from analytics import governance, registry, store
from analytics.errors import PermissionDeniedError
from analytics.governance import FourEyesError, IllegalTransitionError
from analytics.roles import Actor
from gov_support import MODEL, SYSTEM, loan_template, person, private_copy  # noqa: F401 - fixture

ANALYTICS = Path(registry.__file__).parent


@pytest.fixture
def loan(tmp_path, loan_template):
    return private_copy(loan_template, tmp_path)


def _champions(db) -> list[str]:
    return store.read(lambda con: [r[0] for r in con.execute(
        "SELECT version FROM model_versions WHERE model_name = ? AND status = 'champion'", [MODEL]).fetchall()]
        + [r[0] for r in con.execute("SELECT version FROM deployments WHERE model_name = ? AND role = 'champion' "
                                     "AND ended_at IS NULL", [MODEL]).fetchall()], db)


def test_a_version_is_registered_as_a_draft_and_nothing_else():
    """The attack: ``register_version(..., status="champion")``. The parameter no longer exists."""
    assert "status" not in inspect.signature(registry.register_version).parameters
    with pytest.raises(TypeError):
        registry.register_version(None, SYSTEM, MODEL, "v9", threshold=0.5, owner="t", status="champion")


def test_only_the_lifecycle_funnel_writes_a_status():
    """No module but the lifecycle updates a version's status; the registry inserts drafts only."""
    writers, inserts = [], []
    for path in ANALYTICS.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"execute\(\s*f?[\"']\s*UPDATE\s+model_versions\b", text, re.I):
            writers.append(path.relative_to(ANALYTICS).as_posix())
        for match in re.finditer(r"INSERT\s+INTO\s+model_versions\b[^;]*?VALUES\s*\(([^)]*)\)", text, re.I | re.S):
            inserts.append((path.relative_to(ANALYTICS).as_posix(), match.group(1)))
    assert writers == ["governance/_lifecycle.py"]
    assert [(p, "'draft'" in values) for p, values in inserts] == [("registry.py", True)]


def test_no_public_function_makes_a_second_champion(loan):
    """Every public function that writes a status, asked for a second champion, refuses and changes nothing."""
    store.write(lambda con: governance.onboard(con, person("adm"), MODEL, "v1", datetime(2026, 1, 1)), loan)
    store.write(lambda con: [governance.transition(con, who, MODEL, "v2", to, details={"comment": "ok"})
                             for who, to in ((person("ana"), "submitted"), (person("rob"), "in_review"),
                                             (person("pat"), "approved"))], loan)
    attempts = {
        "governance.transition": lambda con: governance.transition(con, person("adm"), MODEL, "v2", "champion"),
        "governance.onboard": lambda con: governance.onboard(con, person("adm"), MODEL, "v3", datetime(2026, 1, 1)),
    }
    for name, attempt in attempts.items():
        with pytest.raises(IllegalTransitionError, match="already has a champion"):
            store.write(attempt, loan)
        assert _champions(loan) == ["v1", "v1"], name
    store.write(lambda con: governance.promote(con, person("pat"), MODEL, "v2"), loan)  # the legal way: one at a time
    assert _champions(loan) == ["v2", "v2"]


def test_the_onboarding_declaration_is_admin_only_and_never_an_approval(loan):
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: governance.onboard(con, person("pat"), MODEL, "v1", datetime(2026, 1, 1)), loan)
    store.write(lambda con: governance.onboard(con, person("adm"), MODEL, "v1", datetime(2026, 1, 1)), loan)
    history = store.read(lambda con: governance.approval_history(con, MODEL, "v1"), loan)
    assert history["to_status"].tolist() == ["champion"] and "approved" not in history["to_status"].tolist()
    action = store.read(lambda con: con.execute("SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()[0],
                        loan)
    assert action == "version.onboard"


def test_four_eyes_hold_across_the_whole_history(loan):
    """The attack: adm submits, the review returns it, pia re-submits; adm then approves. Only pia was checked."""
    adm, rob, pia, pat = person("adm"), person("rob"), person("pia"), person("pat")
    store.write(lambda con: governance.transition(con, adm, MODEL, "v2", "submitted"), loan)
    store.write(lambda con: governance.transition(con, rob, MODEL, "v2", "in_review"), loan)
    store.write(lambda con: governance.transition(con, rob, MODEL, "v2", "draft"), loan)  # returned for changes
    store.write(lambda con: governance.transition(con, pia, MODEL, "v2", "submitted"), loan)
    store.write(lambda con: governance.transition(con, rob, MODEL, "v2", "in_review"), loan)
    for who in (adm, pia):
        with pytest.raises(FourEyesError, match=f"{who.username} submitted loan:v2"):
            store.write(lambda con: governance.approve(con, who, MODEL, "v2", "ok"), loan)
    assert store.read(lambda con: governance.authors(con, MODEL, "v2"), loan) == {
        "adm": "submitted", "pia": "submitted", SYSTEM.username: "registered", "ana": "owns"}
    store.write(lambda con: governance.approve(con, pat, MODEL, "v2", "ok"), loan)


def test_whoever_registered_or_owns_a_version_does_not_review_it(loan):
    store.write(lambda con: governance.transition(con, person("ann"), MODEL, "v3", "submitted"), loan)
    with pytest.raises(FourEyesError, match=f"{SYSTEM.username} registered loan:v3"):
        store.write(lambda con: governance.start_review(con, SYSTEM, MODEL, "v3"), loan)
    with pytest.raises(FourEyesError, match="ana owns loan:v3"):
        store.write(lambda con: governance.start_review(con, Actor("ana", "reviewer"), MODEL, "v3"), loan)


def test_only_the_submitter_or_an_approver_withdraws(loan):
    """The attack: analyst ann withdraws ana's submission."""
    store.write(lambda con: governance.transition(con, person("ana"), MODEL, "v3", "submitted"), loan)
    with pytest.raises(PermissionDeniedError, match=r"only its submitter \(ana\) or an approver"):
        store.write(lambda con: governance.transition(con, person("ann"), MODEL, "v3", "draft"), loan)
    store.write(lambda con: governance.transition(con, person("pat"), MODEL, "v3", "draft"), loan)
    store.write(lambda con: governance.transition(con, person("ana"), MODEL, "v3", "submitted"), loan)
    store.write(lambda con: governance.transition(con, person("ana"), MODEL, "v3", "draft"), loan)
    assert store.read(lambda con: registry.get_version(con, MODEL, "v3")["status"], loan) == "draft"
