"""Prediction lookup: find a prediction by id or filters, and trace it: inputs, version and role,
score, threshold and decision, latency and cost, outcome, explanation, counterfactuals, audit."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import audit, explain, overview, registry
from app import auth, context, explain_views, queries, widgets
from app.widgets import fmt_num

actor = auth.require("investigate")
ctx = context.current()
st.title("Prediction lookup")
if not ctx.model:
    widgets.empty_state("No model is registered yet.", hint="Build the demo with `vigil demo`.")
    st.stop()

with widgets.error_boundary("the prediction lookup"):
    context.adopt("prediction_id", "lk_id", "")
    pid = st.text_input("Prediction id", key="lk_id", placeholder="e.g. cd-000000042").strip()
    context.remember("prediction_id", pid or None)
    if not pid:
        st.caption(f"Or filter the {ctx.model} predictions of the {ctx.window_label} ({ctx.filter_label}); newest "
                   "first, at most 200.")
        cols = st.columns(4)
        schema = queries.query(overview.model_schema, ctx.model)
        decision = cols[0].selectbox("Decision", ["any", "0", "1"], key="lk_decision",
                                     format_func=lambda d: d if d == "any" else schema.decision_text(int(d)))
        low, high = cols[1].slider("Score", 0.0, 1.0, (0.0, 1.0), step=0.01, key="lk_score")
        outcome = cols[2].selectbox("Outcome", ["any", "known", "not yet known"], key="lk_outcome")
        found = queries.query(explain.find_predictions, ctx.model, version=ctx.version, start=ctx.start, end=ctx.end,
                              decision=None if decision == "any" else int(decision),
                              score_min=low if low > 0 else None, score_max=high if high < 1 else None,
                              labelled={"any": None, "known": True, "not yet known": False}[outcome], limit=200)
        cols[3].metric("Found", f"{len(found):,}" + ("+" if len(found) == 200 else ""), border=True)
        if found.empty:
            widgets.empty_state("No prediction matches these filters.", hint="Widen the filters or the time window.")
            st.stop()
        words = found.assign(decision=found["decision"].map(schema.decision_text)) if "decision" in found else found
        picked = widgets.table(words, hide_index=True, key="lk_found", on_select="rerun", selection_mode="single-row",
                               column_config={
                                   "predicted_at": st.column_config.DatetimeColumn("Predicted (UTC)",
                                                                                   format="YYYY-MM-DD HH:mm:ss"),
                                   "score": st.column_config.NumberColumn("Score", format="%.4f"),
                                   "latency_ms": st.column_config.NumberColumn("Latency (ms)", format="%.1f")})
        rows = picked.selection.rows if picked is not None else []
        if not rows:
            st.caption("Select a row to trace it.")
            st.stop()
        pid = str(found["prediction_id"].iloc[rows[0]])
        context.remember("prediction_id", pid)  # a copied link opens this prediction

    traced = queries.query(explain.trace, ctx.model, pid, actor=actor)
    lookup_schema = queries.query(overview.model_schema, ctx.model)
    record = traced.record
    st.subheader(f"Prediction {pid}")
    cols = st.columns(4)
    cols[0].metric("Score", fmt_num(record["score"], 4), border=True,
                   help=f"Probability of '{record['positive_class']}' as logged")
    cols[1].metric("Threshold", fmt_num(record["threshold"], 3), border=True, help="The version's threshold (registry)")
    cols[2].metric("Decision", record["decision_text"], border=True,
                   help=f"Logged decision {record['decision']}. {record['decision_note']}".strip())
    cols[3].metric("Outcome", "not yet known" if record["label"] is None else record["outcome_text"], border=True,
                   help="The true label, once it arrived" + (f" ({record['observed_at']:%Y-%m-%d} UTC)"
                                                             if record["observed_at"] is not None else ""))
    if record["decision"] != record["decision_at_threshold"]:
        st.warning("The logged decision differs from score ≥ threshold at today's threshold: the threshold has changed "
                   "since, or the serving system applied another rule.", icon=":material/info:")
    facts = pd.DataFrame([
        ("Model version", f"{record['model_version']} ({registry.status_text(traced.version['status'])})"),
        ("Deployment role", record["deployment_role"]),
        ("Predicted at (UTC)", f"{record['predicted_at']:%Y-%m-%d %H:%M:%S}"),
        ("Latency", f"{record['latency_ms']:.1f} ms"), ("Cost", f"{record['cost']:.5f}"),
        ("Business value", "–" if record["business_value"] is None else f"{record['business_value']:,.2f}"),
        ("Re-scored by the registered model", fmt_num(record.get("rescored_score"), 6)),
        ("Artifact sha256", str(traced.version.get("artifact_sha256") or "–")),
    ], columns=["fact", "value"])
    left, right = st.columns(2)
    left.dataframe(facts, hide_index=True, key="lk_facts", column_config={"fact": "", "value": ""})
    right.dataframe(traced.inputs.assign(value=traced.inputs["value"].astype(str)), hide_index=True, key="lk_inputs",
                    column_config={"column": "Input", "role": "Role", "sensitive": st.column_config.CheckboxColumn(
                        "Sensitive"), "value": "Value"})
    if traced.masked:
        right.caption("Sensitive values are hidden (•••) for your role.")

    tab_why, tab_cf, tab_audit = st.tabs(["Explanation", "Counterfactuals", "Audit of this version"])
    with tab_why:
        st.caption(traced.explanation_note)
        if traced.explanation is not None:
            explain_views.waterfall(traced.explanation, key="lk_waterfall", schema=lookup_schema,
                                    title=f"Why prediction {pid} scored {record['score']:.3f}<br><sup>SHAP, log-odds · 1 row</sup>")
            explain_views.contributions_table(traced.explanation, key="lk_contrib")
    with tab_cf:
        st.caption(traced.counterfactual_note)
        if traced.counterfactuals is not None:
            explain_views.counterfactual_tables(traced.counterfactuals, key="lk_cf", schema=lookup_schema)
    with tab_audit:
        if traced.audit.empty:
            widgets.empty_state("No audit entry for this version.")
        else:
            widgets.table(traced.audit.assign(details=traced.audit["details"].map(audit.details_text)),
                          hide_index=True, key="lk_audit", column_config={
                              "occurred_at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm")})
