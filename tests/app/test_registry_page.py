"""Govern > Registry: versions with status and lineage, the deployment history, the model card and the dossier."""

from __future__ import annotations

from app_support import signed_in, template_store, vigil_db  # noqa: F401 - fixtures

from analytics import governance, store
from analytics.roles import Actor


def _open(role="viewer"):
    at = signed_in(role)
    at.switch_page("../pages/registry.py").run()
    assert not at.exception, at.exception
    return at


def test_a_viewer_sees_versions_and_deployments(vigil_db):
    at = _open("viewer")
    at.selectbox(key="registry_model").select("loan-risk").run()
    assert not at.exception
    versions = at.dataframe[0].value
    assert versions.set_index("version")["status"].to_dict() == {"v1": "retired", "v2": "champion"}
    assert versions.set_index("version").loc["v2", "parent_version"] == "v1"
    deployments = at.dataframe[1].value
    assert deployments["version"].tolist() == ["v2"] and deployments["role"].tolist() == ["champion"]
    assert any("No model card" in str(m.value) for m in at.info)
    assert not at.button(key="registry_dossier_prepare").disabled


def test_card_and_risk_tier_are_shown(vigil_db):
    admin = Actor("admin", "admin")
    store.write(lambda con: (governance.set_model_card(con, admin, "loan-risk", {"intended_use": "score loans"}),
                             governance.set_risk_tier(con, admin, "loan-risk", "high", "consumer credit")), vigil_db)
    at = _open("analyst")
    at.selectbox(key="registry_model").select("loan-risk").run()
    assert any("score loans" in str(m.value) for m in at.markdown)
    assert any(m.value == "high" for m in at.metric)


def test_the_dossier_is_offered_for_download(vigil_db):
    at = _open("reviewer")
    at.selectbox(key="registry_model").select("loan-risk").run()
    at.selectbox(key="registry_dossier_version").select("v2").run()
    at.button(key="registry_dossier_prepare").click().run()
    assert not at.exception and not at.error
    html_doc = at.session_state["registry_dossier"].html
    assert "Governance dossier: loan-risk v2" in html_doc and "Evidence pack" in html_doc
    # issue 13 item 17: the seconds of work say what they do, and end saying so
    status = at.status[0]
    assert (status.label, status.state) == ("The dossier of loan-risk v2 is ready", "complete")
    said = " ".join(str(m.value) for m in status.markdown)
    assert "verifying the audit chain" in said and "Printing the PDF with headless Chromium" in said


def test_an_admin_edits_the_card_and_tier_as_a_card_file_a_viewer_cannot(vigil_db):
    assert not _open("viewer").text_area  # read-only for roles that may neither register nor approve
    at = _open("admin")
    at.selectbox(key="registry_model").select("loan-risk").run()
    at.text_area(key="registry_card_text_loan-risk").input(
        'intended_use = "score consumer loans"\n[risk]\ntier = "medium"\nrationale = "small loans only"\n')
    at.button(key="registry_card_save").click().run()
    assert not at.exception and not at.error, at.error
    assert any("risk tier of loan-risk: unset -> medium" in str(s.value) for s in at.success)
    assert any("score consumer loans" in str(m.value) for m in at.markdown)
    at.text_area(key="registry_card_text_loan-risk").input('[risk]\ntier = "extreme"\n').run()
    at.button(key="registry_card_save").click().run()
    assert any("tier 'extreme' is unknown" in str(e.value) for e in at.error)
    actions = store.read(lambda con: [r[0] for r in con.execute(
        "SELECT action FROM audit_log WHERE action IN ('card.update', 'model.risk_tier') ORDER BY seq").fetchall()],
        vigil_db)
    assert actions == ["card.update", "model.risk_tier"]
