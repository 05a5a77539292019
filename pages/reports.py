"""Govern > Reports: scheduled report definitions (approvers and admins create, change and remove them;
others read), past reports to download, each verified against the manifest hash kept in the audit trail,
and the retention policy of each model (admins change it). See docs/reports.md."""

from __future__ import annotations

import streamlit as st

from analytics import alerts, config, registry, reports
from analytics.errors import NotFoundError
from app.actions import PageActions
from app import auth, queries, widgets

actor = auth.require("read")
actions = PageActions(config.db_path(), "reports_done")

st.title("Reports")
st.caption("Scheduled reports are rendered by `vigil reports run --due` (cron) for each closed period, once, as "
           "HTML and PDF with a JSON manifest; the manifest's sha256 is recorded in the audit trail. Times are UTC.")
actions.show_done()


definitions_tab, runs_tab, retention_tab = st.tabs(["Definitions", "Past reports", "Retention"])
with definitions_tab, widgets.error_boundary("the report definitions"):
    table = queries.read(reports.definitions_table)
    if table.empty:
        widgets.empty_state("No report is defined yet.",
                            hint="Approvers and admins define one below, or with 'vigil reports add'.")
    else:
        widgets.table(table, hide_index=True, key="reports_definitions",
                      column_config={"updated_at": st.column_config.DatetimeColumn("Changed (UTC)")})
    if actor.can("manage_reports"):
        models = [m.name for m in queries.read(registry.list_models)]
        channels = queries.read(alerts.channels_table, actor)
        email = channels.loc[channels["kind"] == "email", "name"].tolist() if not channels.empty else []
        with st.form("reports_add"):
            cols = st.columns(3)
            name = cols[0].text_input("Name", key="reports_name", placeholder="weekly-portfolio")
            scope = cols[1].selectbox("Scope", [reports.PORTFOLIO, *models], key="reports_scope")
            schedule = cols[2].selectbox("Schedule", list(reports.SCHEDULES), index=1, key="reports_schedule")
            sections = st.multiselect("Sections", list(reports.SECTIONS), default=list(reports.SECTIONS),
                                      format_func=reports.SECTIONS.get, key="reports_sections")
            cols = st.columns(2)
            recipients = cols[0].text_input("Recipients (e-mail addresses, comma-separated)", key="reports_recipients")
            channel = cols[1].selectbox("Send through (an email channel)", ["(none)", *email], key="reports_channel",
                                        help="Admins add email channels under Rules and channels.")
            if st.form_submit_button("Save the definition", type="primary"):
                definition = reports.ReportDefinition(
                    name.strip(), None if scope == reports.PORTFOLIO else scope, schedule, tuple(sections),
                    tuple(r.strip() for r in recipients.split(",") if r.strip()),
                    None if channel == "(none)" else channel)
                actions.act("saving the definition", lambda con: reports.save_definition(con, actor, definition),
                            f"Report {definition.name} saved (audited).")
        if not table.empty:
            cols = st.columns([3, 1])
            chosen = cols[0].selectbox("Definition", table["name"].tolist(), key="reports_pick")
            if cols[1].button("Remove", key="reports_remove"):
                actions.act("removing the definition", lambda con: reports.delete_definition(con, actor, chosen),
                            f"Report {chosen} removed; its past reports are kept.")
    else:
        st.caption("Approvers and admins create and change report definitions.")

with runs_tab, widgets.error_boundary("the past reports"):
    runs = queries.read(reports.runs_table)
    if runs.empty:
        widgets.empty_state("No report has been run yet.", hint="Run 'vigil reports run --due' (for example daily "
                            "from cron).")
    else:
        altered = int((runs["verification"] != reports.VERIFIED).sum())
        st.caption(f"{len(runs):,} reports; {altered} fail verification against the manifest hash in the audit trail.")
        widgets.table(runs.drop(columns=["folder"]), hide_index=True, key="reports_runs",
                      column_config={"generated_at": st.column_config.DatetimeColumn("Generated (UTC)"),
                                     "period_start": st.column_config.DatetimeColumn("Period start (UTC)"),
                                     "period_end": st.column_config.DatetimeColumn("Period end (UTC, excluded)"),
                                     "delivered_at": st.column_config.DatetimeColumn("Delivered (UTC)"),
                                     "verification": st.column_config.TextColumn(
                                         "Verification", help="verified: the manifest's sha256 is the one the audit "
                                         "trail recorded and every file matches its manifest; altered or missing "
                                         "otherwise")})
        labels = [f"{n} {p}" for n, p in zip(runs["name"], runs["period_label"])]
        pick = st.selectbox("Report", range(len(labels)), format_func=labels.__getitem__, key="reports_run_pick")
        row = runs.iloc[pick]
        check = row["verification"]
        (st.success if check == reports.VERIFIED else st.error)(
            f"{row['name']} {row['period_label']}: {check} ({row['verification_detail']})")
        cols = st.columns(3)
        for col, file_name, mime in zip(cols, ("report.html", "report.pdf", reports.MANIFEST),
                                        ("text/html", "application/pdf", "application/json")):
            try:
                data = queries.read(reports.report_file, row["name"], row["period_label"], file_name)
            except NotFoundError:
                col.caption(f"No {file_name}.")
                continue
            col.download_button(f"Download {file_name}", data, file_name=f"{row['name']}-{row['period_label']}-{file_name}",
                                mime=mime, key=f"reports_download_{file_name}")

with retention_tab, widgets.error_boundary("the retention policies"):
    st.caption(f"Prediction logs and outcomes are kept at least {reports.LEGAL_FLOOR_DAYS} days (six months: EU AI "
               "Act Art. 19(1) and 26(6)); `vigil retention apply` removes whole expired segments and records it in "
               "the audit trail, which it never deletes.")
    policies = queries.read(reports.policies_table)
    widgets.table(policies, hide_index=True, key="reports_retention",
                  column_config={"updated_at": st.column_config.DatetimeColumn("Changed (UTC)"),
                                 "stored": st.column_config.CheckboxColumn("Set (else default)")})
    if actor.can("manage_retention") and not policies.empty:
        model = st.selectbox("Model", policies["model"].tolist(), key="retention_model")
        with st.form("retention_set"):
            current = policies.set_index("model").loc[model]
            cols = st.columns(3)
            days = {kind: cols[i].number_input(kind.replace("_", " "), min_value=1, max_value=36_525, step=1,
                                               value=int(current[kind]), key=f"retention_{model}_{kind}")
                    for i, kind in enumerate(("predictions_days", "outcomes_days", "audit_days"))}
            reason = st.text_input("Reason for a period under the legal floor (admins only)", key="retention_reason")
            if st.form_submit_button("Save the policy"):
                actions.act("saving the policy", lambda con: reports.set_policy(
                    con, actor, model, **{k: int(v) for k, v in days.items()}, override_reason=reason or None),
                            f"Retention policy of {model} saved (audited).")
