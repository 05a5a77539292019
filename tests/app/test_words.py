"""Issue 13 item 19: decisions, outcomes, statuses and audit details in words, on a model registered as a
user would (``card-limits``: approved/declined, repaid/defaulted) and on the synthetic store."""

from __future__ import annotations

from app_support import register_card_limits, signed_in, template_store, vigil_db  # noqa: F401 - fixtures

from analytics import audit, governance, registry, store


def test_statuses_and_audit_details_read_as_words():
    assert registry.status_text("in_review") == "in review"
    assert audit.details_text('{"threshold": 0.5, "to_status": "approved", "checks": ["auc"], "override": null}') \
        == "threshold: 0.5 · to status: approved · checks: auc · override: none"
    assert audit.details_text("") == "" and audit.details_text("not json") == "not json"


def test_pages_and_dossier_speak_the_models_words(vigil_db):
    register_card_limits(vigil_db)
    at = signed_in("admin", model="churn")  # churn's only version is in review
    assert "c1 (in review)" in at.selectbox(key="ctx_version").options

    at.switch_page("../pages/audit_trail.py").run()
    assert not at.exception, at.exception
    details = at.dataframe[0].value["details"]
    assert details.str.len().gt(0).any() and not details.str.startswith("{").any()

    at = signed_in("admin", model="card-limits", prediction_id="cl0001")
    at.switch_page("../pages/lookup.py").run()
    assert not at.exception, at.exception
    cards = {m.label: m.value for m in at.metric}
    assert cards["Decision"] in ("approved", "declined")
    assert cards["Outcome"] in ("repaid", "defaulted")

    at = signed_in("admin", model="card-limits")
    at.switch_page("../pages/fairness.py").run()
    assert not at.exception, at.exception
    assert any("decision 0: approved" in c.value for c in at.caption), ([c.value for c in at.caption], [e.value for e in at.error], [i.value for i in at.info], [t.value for t in at.title])

    document = store.read(lambda con: governance.dossier_html(con, "card-limits", "v1"), vigil_db)
    assert "Decisions: 0 = approved, 1 = declined. Outcomes: 0 = repaid, 1 = defaulted." in document


def test_waterfall_labels_use_titles_readable_values_and_fit():
    import pandas as pd

    from analytics.logschema import Column, LogSchema
    from app import explain_views

    schema = LogSchema(columns=(Column("BILL_AMT1", "double", title="bill last month"),
                                Column("note", "categorical")), positive_class="default")
    labels = explain_views.waterfall_labels(pd.Series(["BILL_AMT1", "note", "other inputs"]),
                                            pd.Series([13519.910000000009, "x" * 60, ""]), schema)
    assert labels[0] == "bill last month = 13,519.9"
    assert len(labels[1]) == 32 and labels[1].endswith("…")
    assert labels[2] == "other inputs"
