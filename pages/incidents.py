"""Monitor > Incidents: alerts grouped per model and rule family, each with its timeline, and the knowledge
base of resolved incidents (searchable by model, rule, column and text) with what fixed them. A serious
incident (EU AI Act Art. 73) shows its reporting deadline (classified on the Compliance page)."""

from __future__ import annotations

import streamlit as st

from analytics import alerts, compliance
from app import auth, queries, widgets

actor = auth.require("read")

st.title("Incidents")
st.caption("An incident groups the alerts of one model and rule family while any of them is open; it closes when "
           "the last one resolves. Resolved incidents form the knowledge base. Times are UTC.")

with widgets.error_boundary("the incidents"):
    everything = queries.read(alerts.incidents_table)
    if everything.empty:
        widgets.empty_state("No incident yet.", hint="An incident opens when an alert fires.",
                            icon=":material/emergency:")
        st.stop()
    inbox, knowledge = st.tabs(["Incidents", "Knowledge base"])
    with inbox:
        open_only = st.toggle("Open incidents only", value=False, key="incidents_open_only")
        shown = everything[everything["resolved_at"].isna()] if open_only else everything
        widgets.table(shown.drop(columns=["notes"]), hide_index=True, key="incidents_table",
                      column_config={"opened_at": st.column_config.DatetimeColumn("Opened (UTC)"),
                                     "resolved_at": st.column_config.DatetimeColumn("Resolved (UTC)"),
                                     "resolution_note": st.column_config.TextColumn("Resolution", width="large")})
        if not shown.empty:
            labels = [f"#{i} {t} (opened {o:%Y-%m-%d %H:%M})" for i, t, o in
                      zip(shown["incident_id"], shown["title"], shown["opened_at"])]
            choice = st.selectbox("Incident", labels, key="incidents_pick")
            incident_id = int(shown.iloc[labels.index(choice)]["incident_id"])
            events = queries.read(alerts.timeline, incident_id=incident_id)
            clock = queries.read(compliance.reporting_clocks, incident_id=incident_id)
            if not clock.empty:
                c = clock.iloc[0]
                say = st.info if str(c["status"]).startswith("reported") else st.error
                say(f"**Serious incident** ({c['article']}, {c['days']} days): report to the authority due by "
                    f"**{c['deadline_at']:%Y-%m-%d %H:%M} UTC** — {c['status']}. Draft the report on the Compliance "
                    "page.", icon=":material/gavel:")
            st.markdown(f"**Timeline of incident #{incident_id}**: alerts, notifications, acknowledgements, "
                        "actions taken and resolution ({:,} events)".format(len(events)))
            widgets.table(events, hide_index=True, key="incidents_timeline",
                          column_config={"occurred_at": st.column_config.DatetimeColumn("When (UTC)"),
                                         "details": st.column_config.TextColumn("Details", width="large")})
    with knowledge:
        cols = st.columns(4)
        text = cols[0].text_input("Text (notes, comments, runbooks)", key="kb_text")
        model = cols[1].selectbox("Model", ["Any", *sorted(everything["model"].unique())], key="kb_model")
        rules = sorted({r for rs in everything["rules"] for r in rs})
        rule = cols[2].selectbox("Rule", ["Any", *rules], key="kb_rule")
        column = cols[3].text_input("Column", key="kb_column")
        found = queries.read(alerts.incidents_table, model=None if model == "Any" else model,
                             rule_id=None if rule == "Any" else rule, column=column.strip() or None,
                             text=text.strip() or None, resolved_only=True)
        st.caption(f"{len(found):,} resolved incidents match.")
        widgets.table(found.drop(columns=["notes"]), hide_index=True, key="kb_table",
                      column_config={"resolution_note": st.column_config.TextColumn("What fixed it", width="large"),
                                     "runbooks": st.column_config.TextColumn("Runbooks", width="large")})
