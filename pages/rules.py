"""Govern > Rules and channels: the alert rules (add from JSON, a model's defaults, enable or disable), the
notification channels (admins; secrets never shown), the notification outbox and the retraining requests."""

from __future__ import annotations

import json

import streamlit as st

from analytics import alerts, config, registry
from analytics.errors import InvalidInputError
from app.actions import PageActions
from app import auth, queries, widgets

actor = auth.require("manage_rules")
actions = PageActions(config.db_path(), "rules_done")

st.title("Rules and channels")
st.caption("Rules say when an alert fires; channels say who is told. Admins and approvers manage rules, admins "
           "manage channels; every change is audited. The rule file format is in docs/alerts.md. Times are UTC.")
actions.show_done()


def _rules_from_text(text: str) -> list:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"the rule is not valid JSON: {exc}") from None
    return [alerts.Rule.from_dict(d) for d in (data if isinstance(data, list) else [data])]


rules_tab, channels_tab, outbox_tab, retrain_tab = st.tabs(["Rules", "Channels", "Notifications", "Retraining requests"])
with rules_tab, widgets.error_boundary("the rules"):
    table = queries.read(alerts.rules_table)
    widgets.table(table, hide_index=True, key="rules_table",
                  column_config={"updated_at": st.column_config.DatetimeColumn("Changed (UTC)"),
                                 "runbook": st.column_config.TextColumn("Runbook", width="large")})
    if not table.empty:
        cols = st.columns([3, 1, 1])
        rule_id = cols[0].selectbox("Rule", table["rule_id"].tolist(), key="rules_pick")
        if cols[1].button("Disable", key="rules_disable"):
            actions.act("disabling the rule", lambda con: alerts.set_enabled(con, actor, rule_id, False),
                        f"{rule_id} disabled.")
        if cols[2].button("Enable", key="rules_enable"):
            actions.act("enabling the rule", lambda con: alerts.set_enabled(con, actor, rule_id, True),
                        f"{rule_id} enabled.")
        with st.expander(f"Rule {rule_id} as JSON (edit and save below)"):
            st.code(json.dumps(queries.read(alerts.get_rule, rule_id).to_dict(), indent=2), language="json")
    models = [m.name for m in queries.read(registry.list_models)]
    left, right = st.columns(2)
    with left, st.form("rules_add"):
        text = st.text_area("Add or replace rules (a JSON object or list)", height=220, key="rules_json")
        if st.form_submit_button("Save rules"):
            actions.act("saving the rules",
                        lambda con: [alerts.save_rule(con, actor, r) for r in _rules_from_text(text)], "Rules saved.")
    with right, st.form("rules_defaults"):
        model = st.selectbox("Model", models, key="rules_defaults_model")
        st.caption("Drift share, realised and estimated ROC AUC, latency against the SLA, freshness, and the "
                   "four-fifths rule on the first sensitive attribute (docs/alerts.md).")
        if st.form_submit_button("Add the default rules", disabled=not models):
            actions.act("adding the default rules", lambda con: [alerts.save_rule(con, actor, r)
                                                                 for r in alerts.default_rules(con, model)],
                        f"Default rules of {model} saved.")

with channels_tab, widgets.error_boundary("the channels"):
    channels = queries.read(alerts.channels_table, actor)
    if channels.empty:
        st.caption("No channel yet: alerts are only shown in the app.")
    else:
        widgets.table(channels, hide_index=True, key="channels_table",
                      column_config={"has_secret": st.column_config.CheckboxColumn("Secret set"),
                                     "created_at": st.column_config.DatetimeColumn("Added (UTC)")})
    if actor.can("manage_channels"):
        with st.form("channels_add"):
            cols = st.columns(3)
            name = cols[0].text_input("Name", key="channels_name")
            kind = cols[1].selectbox("Kind", list(alerts.KINDS), key="channels_kind")
            target = cols[2].text_input("URL (e-mail address for email)", key="channels_target")
            secret = st.text_input("Secret (HMAC key, routing key or SMTP password; never shown again)",
                                   type="password", key="channels_secret")
            options = st.text_input('Options as JSON, e.g. {"min_severity": "critical", "models": ["credit-default"]}',
                                    value="{}", key="channels_options")
            if st.form_submit_button("Add channel"):
                def add(con):
                    try:
                        parsed = json.loads(options or "{}")
                    except json.JSONDecodeError as exc:
                        raise InvalidInputError(f"options are not valid JSON: {exc}") from None
                    alerts.add_channel(con, actor, name.strip(), kind, target, secret=secret or None, options=parsed)

                actions.act("adding the channel", add, f"Channel {name} added.")
        if not channels.empty:
            cols = st.columns([3, 1, 1])
            chosen = cols[0].selectbox("Channel", channels["name"].tolist(), key="channels_pick")
            if cols[1].button("Send a test", key="channels_test"):
                actions.attempt("the test notification",
                                lambda db: f"{chosen}: {alerts.try_channel(db, actor, chosen)}")
            if cols[2].button("Remove", key="channels_remove"):
                actions.act("removing the channel", lambda con: alerts.remove_channel(con, actor, chosen),
                            f"{chosen} removed.")
    else:
        st.caption("Only admins add, test or remove channels; targets are shown without their path.")

with outbox_tab, widgets.error_boundary("the notifications"):
    outbox = queries.read(alerts.notifications_table)
    st.caption(f"{len(outbox):,} notifications: each firing is sent once, then its escalation and resolution.")
    widgets.table(outbox, hide_index=True, key="rules_outbox",
                  column_config={"queued_at": st.column_config.DatetimeColumn("Queued (UTC)"),
                                 "sent_at": st.column_config.DatetimeColumn("Sent (UTC)")})

with retrain_tab, widgets.error_boundary("the retraining requests"):
    requests = queries.read(alerts.retrain_requests)
    if requests.empty:
        st.caption("No retraining request: rules with action retrain open one when their critical level fires.")
    else:
        widgets.table(requests, hide_index=True, key="rules_retrain",
                      column_config={"opened_at": st.column_config.DatetimeColumn("Opened (UTC)"),
                                     "evidence": st.column_config.TextColumn("Evidence", width="large")})
        open_ids = requests.loc[requests["state"] == "open", "request_id"].tolist()
        if open_ids:
            with st.form("retrain_close"):
                request_id = st.selectbox("Open request", open_ids, key="retrain_pick")
                note = st.text_input("What was done (a new version trained, or why not)", key="retrain_note")
                if st.form_submit_button("Close the request"):
                    actions.act("closing the request",
                                lambda con: alerts.close_retrain_request(con, actor, int(request_id), note),
                                f"Retraining request {request_id} closed.")
