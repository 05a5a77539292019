"""Admin > Settings: every setting with meaning, default, global value and per-model values; admins change
and reset them (audited), others only read (issue 14, section 3)."""

from __future__ import annotations

from app_support import signed_in, template_store, vigil_db  # noqa: F401 - fixtures

from analytics import store


def _open(role: str):
    at = signed_in(role)
    at.switch_page("../pages/settings.py").run()
    assert not at.exception, at.exception
    return at


def test_a_viewer_reads_every_setting_and_cannot_change_one(vigil_db):
    at = _open("viewer")
    table = at.dataframe[0].value.set_index("key")
    row = table.loc["fairness.dp_ratio_threshold"]
    assert (row["default"], row["global_value"], row["allowed"]) == ("0.8", "0.8", "a number from 0 to 1")
    assert "ingest.role_mismatch_policy" in table.index
    assert not any(t.key == "settings_value" for t in at.text_input)


def test_an_admin_sets_a_model_value_and_resets_it_audited(vigil_db):
    at = _open("admin")
    at.selectbox(key="settings_key").select("drift.psi_threshold").run()
    at.selectbox(key="settings_scope").select("loan-risk").run()
    at.text_input(key="settings_value").input("7").run()
    at.button(key="settings_save").click().run()
    assert not at.error, at.error  # PSI has no upper bound
    assert any("drift.psi_threshold = 7 for loan-risk (audited)" in str(s.value) for s in at.success)
    table = at.dataframe[0].value.set_index("key")
    assert table.loc["drift.psi_threshold", "overrides"] == "loan-risk: 7"
    at.selectbox(key="settings_key").select("fairness.dp_ratio_threshold").run()
    at.text_input(key="settings_value").input("1.2").run()
    at.button(key="settings_save").click().run()
    assert any("allowed: a number from 0 to 1" in str(e.value) for e in at.error)
    at.selectbox(key="settings_key").select("drift.psi_threshold").run()
    at.button(key="settings_unset").click().run()
    assert any("reset for loan-risk; now 0.25" in str(s.value) for s in at.success)
    actions = store.read(lambda con: [r[0] for r in con.execute(
        "SELECT action FROM audit_log WHERE action LIKE 'setting.%' ORDER BY seq").fetchall()], vigil_db)
    assert actions == ["setting.change", "setting.unset"]
