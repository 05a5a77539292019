"""Monitor > Alerts: the inbox of every alert on the models, with what to do about each one.

Filter by model, state and severity; pick an alert to see its timeline, the evidence page for its
window, and similar past incidents with what fixed them; acknowledge it (an assignee and a comment),
resolve it (a resolution note, kept in the knowledge base) or silence the model for a while. Every
action goes through analytics.alerts with the signed-in actor and is audited.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from analytics import alerts, config, users
from app.actions import PageActions
from app import auth, navigation, queries, widgets

actor = auth.require("read")
actions = PageActions(config.db_path(), "alerts_done", after=alerts.dispatch)
#: Where the evidence of each rule family is shown.
EVIDENCE = {"drift": "pages/drift.py", "performance": "pages/performance.py", "fairness": "pages/fairness.py",
            "kpi": "pages/kpis.py", "cost": "pages/cost_latency.py", "latency": "pages/cost_latency.py",
            "freshness": "pages/overview.py"}

st.title("Alerts")
st.caption("Alerts raised by `vigil monitor` from the alert rules (see Rules and channels). One alert per rule, "
           "model, version and segment; a critical and a warning of the same rule are one alert. Times are UTC.")
actions.show_done()


def _act(what: str, work, message: str) -> None:
    actions.act(what, work, message)


with widgets.error_boundary("the alerts"):
    inbox = queries.read(alerts.alerts_table)
    if inbox.empty:
        widgets.empty_state("No alert has fired yet.", hint="Alerts appear when `vigil monitor` finds a rule's "
                            "figure past its level; an admin or approver manages the rules.",
                            icon=":material/notifications_off:")
        st.stop()
    left, mid, right = st.columns(3)
    model = left.selectbox("Model", ["All models", *sorted(inbox["model"].unique())], key="alerts_model")
    states = mid.multiselect("State", ["pending", "firing", "acknowledged", "resolved"],
                             default=["pending", "firing", "acknowledged"], key="alerts_states")
    severity = right.selectbox("Severity", ["All", "critical", "warning"], key="alerts_severity")
    shown = inbox[inbox["state"].isin(states)]
    if model != "All models":
        shown = shown[shown["model"] == model]
    if severity != "All":
        shown = shown[shown["severity"] == severity]
    open_count = int(inbox["state"].isin(["firing", "acknowledged", "pending"]).sum())
    st.caption(f"{len(shown):,} of {len(inbox):,} alerts shown; {open_count:,} open, "
               f"{int(((inbox['state'] == 'firing') & (inbox['severity'] == 'critical')).sum()):,} critical firing.")
    widgets.table(shown, hide_index=True, key="alerts_table",
                  column_order=["alert_id", "state", "severity", "model", "version", "segment_value", "rule_id",
                                "value", "bound", "window_end", "fired_at", "assignee", "muted_by", "resolved_at"],
                  column_config={"alert_id": st.column_config.NumberColumn("Alert", format="%d"),
                                 "value": st.column_config.NumberColumn("Value", format="%.4g"),
                                 "bound": st.column_config.NumberColumn("Bound", format="%.4g"),
                                 "window_end": st.column_config.DatetimeColumn("Window ends (UTC)"),
                                 "fired_at": st.column_config.DatetimeColumn("Fired (UTC)"),
                                 "resolved_at": st.column_config.DatetimeColumn("Resolved (UTC)"),
                                 "muted_by": st.column_config.TextColumn("Muted by")})
    if shown.empty:
        st.stop()
    labels = [f"#{a} {s} {sev} {r} ({v})" for a, s, sev, r, v in
              zip(shown["alert_id"], shown["state"], shown["severity"], shown["rule_id"], shown["version"])]
    choice = st.selectbox("Alert", labels, key="alerts_pick")
    alert = shown.iloc[labels.index(choice)]
    alert_id = int(alert["alert_id"])

    rule = queries.read(alerts.get_rule, alert["rule_id"])
    events = queries.read(alerts.timeline, alert_id=alert_id)
    similar = queries.read(alerts.similar_incidents, alert_id)
    people = queries.read(users.list_users) if actor.can("acknowledge_alert") else pd.DataFrame()

st.subheader(f"Alert #{alert_id}: {rule.rule_id}")
st.markdown(f"**{alert['severity'].capitalize()}**, {alert['state']}. {rule.description or rule.metric} "
            f"({rule.metric}{' of ' + rule.column if rule.column else ''}) was **{widgets.fmt_num(alert['value'], 4)}**"
            f" against a bound of {widgets.fmt_num(alert['bound'], 4)} ({rule.direction}) for {alert['model']} "
            f"{alert['version']} in the window ending {pd.Timestamp(alert['window_end']):%Y-%m-%d %H:%M} UTC.")
if rule.runbook:
    st.info(f"Runbook: {rule.runbook}", icon=":material/menu_book:")
spec = navigation.spec_for(EVIDENCE[rule.family])
day_end = pd.Timestamp(alert["window_end"]) - timedelta(seconds=1)
day_start = pd.Timestamp(alert["window_start"])
params = {"model": alert["model"], "version": alert["version"], "window": "custom",
          "start": f"{day_start:%Y-%m-%d}", "end": f"{day_end:%Y-%m-%d}"}
if rule.segment:
    params.update(segment=rule.segment, segment_value=rule.segment_value)
if spec.file.exists() and actor.can(spec.capability):
    st.page_link(str(spec.file), label=f"Evidence: {spec.title} for the alert's window", icon=spec.icon,
                 query_params=params)

left, right = st.columns(2)
with left:
    st.markdown("**Timeline** (UTC)")
    widgets.table(events, hide_index=True, key="alerts_timeline",
                  column_config={"occurred_at": st.column_config.DatetimeColumn("When (UTC)"),
                                 "details": st.column_config.TextColumn("Details", width="large")})
with right:
    st.markdown("**Similar past incidents** and what fixed them")
    if similar.empty:
        st.caption("None resolved before on this model and family.")
    else:
        widgets.table(similar, hide_index=True, key="alerts_similar",
                      column_config={"resolution_note": st.column_config.TextColumn("What fixed it", width="large")})

if not actor.can("acknowledge_alert"):
    st.caption("Your role may read alerts; analysts, reviewers, approvers and admins act on them.")
    st.stop()

ack, res, sil = st.tabs(["Acknowledge", "Resolve", "Silence the model"])
with ack:
    with st.form("alerts_ack"):
        names = people["username"].tolist() if not people.empty else [actor.username]
        assignee = st.selectbox("Assignee", names, index=names.index(actor.username) if actor.username in names else 0,
                                key="alerts_assignee")
        comment = st.text_area("Comment (what you are doing about it)", key="alerts_comment")
        if st.form_submit_button("Acknowledge", disabled=alert["state"] != "firing"):
            _act("acknowledging the alert",
                 lambda con: alerts.acknowledge(con, actor, alert_id, assignee=assignee, comment=comment),
                 f"Alert #{alert_id} acknowledged and assigned to {assignee}.")
with res:
    with st.form("alerts_resolve"):
        note = st.text_area("Resolution note (what fixed it; kept in the knowledge base)", key="alerts_note")
        if st.form_submit_button("Resolve", disabled=alert["state"] == "resolved"):
            _act("resolving the alert", lambda con: alerts.resolve(con, actor, alert_id, note=note),
                 f"Alert #{alert_id} resolved.")
with sil:
    with st.form("alerts_silence"):
        hours = st.number_input("Hours", min_value=1.0, max_value=720.0, value=4.0, step=1.0, key="alerts_hours")
        only_rule = st.checkbox(f"Only rule {rule.rule_id}", value=True, key="alerts_only_rule")
        reason = st.text_input("Reason", key="alerts_reason")
        if st.form_submit_button("Silence"):
            _act("silencing", lambda con: alerts.silence(con, actor, alert["model"], hours=hours, reason=reason,
                                                         rule_id=rule.rule_id if only_rule else None),
                 f"{alert['model']} silenced for {hours:g} h.")
