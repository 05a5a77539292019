"""Monitor > Service levels: per model and UTC month, whether each service-level rule (latency against the SLA,
data freshness) was met, with the windows and minutes in breach, from the monitor's evaluations."""

from __future__ import annotations

import streamlit as st

from analytics import alerts
from app import auth, governance_views, queries, theme, widgets

actor = auth.require("read")

st.title("Service levels")
st.caption("From the windows `vigil monitor` evaluated: a month meets a service level when none of its windows "
           "breached the rule's warning or critical level. Windows without enough data are counted apart. "
           "Months are UTC.")

with widgets.error_boundary("the service levels"):
    families = st.multiselect("Rule families", ["latency", "freshness", "drift", "performance", "fairness", "kpi",
                                                "cost"], default=list(alerts.SLA_FAMILIES), key="sla_families")
    report = queries.read(alerts.service_levels, families=tuple(families))
    if report.empty:
        widgets.empty_state("No evaluated window yet for these families.",
                            hint="Service levels appear once `vigil monitor` has evaluated their rules.",
                            icon=":material/timer:")
        st.stop()
    widgets.table(report, hide_index=True, key="sla_table",
                  column_config={"month": st.column_config.DateColumn("Month (UTC)", format="YYYY-MM"),
                                 "minutes_in_breach": st.column_config.NumberColumn("Minutes in breach",
                                                                                    format="%.0f"),
                                 "met": st.column_config.CheckboxColumn("Met")})
    theme.register()
    widgets.plot(governance_views.breach_minutes(report), key="sla_chart")
