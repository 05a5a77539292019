"""Govern > Compliance: the post-market monitoring plan of a model (EU AI Act Art. 72), serious incidents
with their reporting clocks and the draft report to the authority (Art. 73), the model-risk pack
(back-testing, benchmark against the challenger, human overrides) and the review calendar by risk tier.

Everything is computed by analytics.compliance; writes (recording a plan, classifying an incident,
recording a review) go through it with the signed-in actor and are audited.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime, time, timezone

import pandas as pd
import streamlit as st

from analytics import alerts, compliance, config, governance
from app.actions import PageActions
from app import auth, context, governance_views, queries, widgets

actor = auth.require("read")
ctx = context.current()
actions = PageActions(config.db_path(), "compliance_done")
UTC = {"format": "YYYY-MM-DD HH:mm"}

st.title("Compliance")
st.caption("The post-market monitoring plan of each model, serious incidents and their reporting clocks, the "
           "model-risk pack and the review calendar. See docs/compliance.md. Times are UTC.")
actions.show_done()


def _act(what: str, work, message: str) -> None:
    actions.act(what, work, message)


with widgets.error_boundary("compliance"):
    models = sorted(queries.read(governance.registry_table)["model"].unique())
    if not models:
        widgets.empty_state("No model is registered yet.", hint="Build the demo with `vigil demo`.",
                            icon=":material/gavel:")
        st.stop()
    model = st.selectbox("Model", models, index=models.index(ctx.model) if ctx.model in models else 0,
                         key="compliance_model")

SECTIONS = ("Monitoring plan", "Serious incidents", "Model-risk pack", "Review calendar")
# One section at a time (not tabs): the model-risk pack runs tests on the log, and only when asked for.
section = st.segmented_control("Section", SECTIONS, default=SECTIONS[0], key="compliance_section") or SECTIONS[0]

if section == "Monitoring plan":
    with widgets.error_boundary("the monitoring plan"):
        plan = queries.read(compliance.monitoring_plan, model)
        kept = queries.read(governance.recorded_plan, model, plan.version)
        st.markdown(f"Plan of **{model} {plan.version}**, generated now from the live alert rules, service levels and "
                    f"report schedule. sha256 `{plan.sha256[:16]}…`")
        if kept is None:
            st.caption("No plan has been recorded for this version yet.")
        elif kept["sha256"] == plan.sha256:
            st.caption(f"Recorded with the version by {kept['recorded_by']} on "
                       f"{kept['recorded_at']:%Y-%m-%d %H:%M} UTC (unchanged since).")
        else:
            st.warning(f"The rules changed since the plan recorded on {kept['recorded_at']:%Y-%m-%d %H:%M} UTC; record "
                       "the new one so the dossier shows what is monitored now.", icon=":material/update:")
        for gap in plan.gaps:
            st.warning(gap, icon=":material/report:")
        items = pd.DataFrame([asdict(i) for i in plan.items], columns=[f.name for f in fields(governance.PlanItem)])
        widgets.table(items, hide_index=True, key="compliance_plan_items",
                      column_order=["rule_id", "what", "scope", "frequency", "warning", "critical", "minimum_rows",
                                    "responder", "runbook", "action", "enabled"],
                      column_config={"what": st.column_config.TextColumn("What is monitored", width="large"),
                                     "runbook": st.column_config.TextColumn("Runbook", width="large")})
        left, mid, right = st.columns(3)
        left.download_button("Plan (Markdown)", plan.to_markdown(), file_name=f"{model}-{plan.version}-plan.md",
                             mime="text/markdown", key="compliance_plan_md")
        mid.download_button("Plan (JSON)", plan.to_json(), file_name=f"{model}-{plan.version}-plan.json",
                            mime="application/json", key="compliance_plan_json")
        if actor.can("approve") and (kept is None or kept["sha256"] != plan.sha256):
            if right.button("Record with the version", key="compliance_plan_record"):
                _act("recording the plan", lambda con: governance.record_plan(con, actor, plan),
                     f"Monitoring plan of {model} {plan.version} recorded (sha256 {plan.sha256[:16]}…).")
        with st.expander("The plan as a reviewer reads it"):
            st.markdown(widgets.dollars_as_text(plan.to_markdown()))

if section == "Serious incidents":
    with widgets.error_boundary("the serious incidents"):
        clocks = queries.read(compliance.reporting_clocks)
        st.caption("EU AI Act Art. 73: report a serious incident within 15 days of becoming aware of it (73(2)); "
                   "within 2 days for a widespread infringement or a serious and irreversible disruption of critical "
                   "infrastructure (73(3)); within 10 days after a death (73(4)). Deadlines in UTC.")
        if clocks.empty:
            st.caption("No incident is classified as serious.")
        else:
            widgets.table(clocks, hide_index=True, key="compliance_clocks",
                          column_config={"deadline_at": st.column_config.DatetimeColumn("Deadline (UTC)", **UTC),
                                         "aware_at": st.column_config.DatetimeColumn("Aware (UTC)", **UTC),
                                         "classified_at": st.column_config.DatetimeColumn("Classified (UTC)", **UTC),
                                         "reported_at": st.column_config.DatetimeColumn("Reported (UTC)", **UTC),
                                         "hours_left": st.column_config.NumberColumn("Hours left", format="%.1f")})
            chosen = st.selectbox("Draft the report of incident", clocks["incident_id"].tolist(),
                                  key="compliance_report_pick")
            report = queries.read(compliance.draft_report, int(chosen))
            cols = st.columns(3)
            formats = (("Markdown", "md", "text/markdown"), ("HTML", "html", "text/html"),
                       ("JSON", "json", "application/json"))
            for col, (label, fmt, mime) in zip(cols, formats):
                text = {"md": report.to_markdown, "html": report.to_html, "json": report.to_json}[fmt]()
                col.download_button(f"Report (draft, {label})", text, file_name=f"incident-{chosen}-report.{fmt}",
                                    mime=mime, key=f"compliance_report_{fmt}")
        incidents = queries.read(alerts.incidents_table, model=model)
        if actor.can("approve") and not incidents.empty:
            with st.form("compliance_serious"):
                st.markdown(f"**Classify an incident of {model} as serious** (starts the reporting clock; audited)")
                labels = [f"#{i} {t}" for i, t in zip(incidents["incident_id"], incidents["title"])]
                pick = st.selectbox("Incident", labels, key="compliance_serious_incident")
                category = st.selectbox("Category", list(compliance.CATEGORIES), key="compliance_serious_category",
                                        format_func=lambda k: f"{compliance.CATEGORIES[k].label} — "
                                                              f"{compliance.CATEGORIES[k].days} days "
                                                              f"({compliance.CATEGORIES[k].article})")
                now = datetime.now(timezone.utc).replace(tzinfo=None)
                c1, c2 = st.columns(2)
                day = c1.date_input("Aware since (UTC day)", value=now.date(), key="compliance_serious_day")
                hour = c2.time_input("Aware since (UTC time)", value=time(now.hour, now.minute),
                                     key="compliance_serious_time")
                rationale = st.text_area("Rationale (the harm and the suspected causal link)",
                                         key="compliance_serious_why")
                if st.form_submit_button("Classify as serious"):
                    incident_id = int(incidents.iloc[labels.index(pick)]["incident_id"])
                    _act("classifying the incident", lambda con: compliance.classify_serious(
                        con, actor, incident_id, category=category, rationale=rationale,
                        aware_at=datetime.combine(day, hour)), f"Incident #{incident_id} classified as serious.")

if section == "Model-risk pack":
    with widgets.error_boundary("the model-risk pack"):
        pack = queries.query(compliance.model_risk_pack, model)
        st.subheader("Back-testing")
        bt = pack.backtest
        if bt is None or bt.table.empty:
            st.caption(pack.backtest_note or "Nothing to back-test.")
        else:
            st.caption(f"Champion {bt.version}: expected rate of the positive class (mean score) against the realised "
                       f"rate per {bt.period} of prediction time, with a binomial and a "
                       f"Hosmer-Lemeshow test at alpha {bt.alpha:g}; {bt.labelled:,} labelled of {bt.predictions:,} "
                       f"predictions; {bt.flagged} period(s) flagged.")
            widgets.plot(governance_views.backtest(bt), key="compliance_backtest_chart")
            widgets.table(bt.table, hide_index=True, key="compliance_backtest",
                          column_config={"period": st.column_config.DatetimeColumn("Period (UTC)", format="YYYY-MM-DD"),
                                         "expected_rate": st.column_config.NumberColumn(format="%.4f"),
                                         "realised_rate": st.column_config.NumberColumn(format="%.4f"),
                                         "binomial_p": st.column_config.NumberColumn(format="%.3g"),
                                         "hl_p": st.column_config.NumberColumn("HL p", format="%.3g")})
        st.subheader("Benchmark against the challenger")
        st.caption(pack.benchmark.note)
        if pack.benchmark.comparison is not None:
            widgets.table(pack.benchmark.comparison.table[["measure", "method", "baseline", "candidate", "difference",
                                                           "ci_low", "ci_high", "p_value", "verdict"]],
                          hide_index=True, key="compliance_benchmark")
        st.subheader("Human overrides")
        st.caption(pack.overrides.note)
        if pack.overrides.available:
            widgets.table(pack.overrides.table, hide_index=True, key="compliance_overrides")

if section == "Review calendar":
    with widgets.error_boundary("the review calendar"):
        calendar = queries.read(compliance.review_calendar)
        st.caption("Each model is reviewed again within the interval of its risk tier: high (tier 1) every 12 months, "
                   "medium 24, low 36; a model without a tier counts as high. Reminders go out through the alert "
                   "channels (`vigil compliance remind`).")
        widgets.table(calendar, hide_index=True, key="compliance_calendar",
                      column_config={"last_review_at": st.column_config.DatetimeColumn("Last review (UTC)", **UTC),
                                     "due_at": st.column_config.DatetimeColumn("Due (UTC)", format="YYYY-MM-DD"),
                                     "days_left": st.column_config.NumberColumn("Days left", format="%.0f")})
        if actor.can("review"):
            with st.form("compliance_review"):
                st.markdown(f"**Record a periodic review of {model}** (audited)")
                outcome = st.selectbox("Outcome", list(compliance.OUTCOMES), key="compliance_review_outcome")
                note = st.text_area("What was reviewed and found", key="compliance_review_note")
                if st.form_submit_button("Record the review"):
                    _act("recording the review",
                         lambda con: compliance.record_review(con, actor, model, outcome=outcome, note=note),
                         f"Review of {model} recorded.")
