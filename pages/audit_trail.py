"""Govern > Audit trail: every recorded action, filtered by actor, action, object and time; the hash chain
verified on request; CSV and JSON exports with the hashes. Read-only: nothing here edits or deletes a row."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import streamlit as st

from analytics import audit
from app import auth, queries, widgets

actor = auth.require("view_audit")

st.title("Audit trail")
st.caption("Append-only. Each row carries the sha256 of its content chained to the previous row's hash, so an "
           "edited, deleted, inserted or reordered row is found by the verification below (and by "
           "`vigil audit verify`). Times are UTC.")

with widgets.error_boundary("the audit trail"):
    choices = queries.read(audit.search_choices)
    first, last, total = choices.first, choices.last, choices.rows
    if not total:
        widgets.empty_state("The audit trail is empty.", hint="Every sign-in and change is recorded here.")
        st.stop()

    cols = st.columns([1, 1, 1, 1.4])
    who = cols[0].selectbox("Actor", ["(all)", *choices.actors], key="audit_actor")
    what = cols[1].selectbox("Action", ["(all)", *choices.action_families, *choices.actions], key="audit_action",
                             help="An action, or a family of actions ending in '.'")
    obj = cols[2].text_input("Object id starts with", key="audit_object", placeholder="credit-default:v2")
    days = cols[3].date_input("Days (UTC)", value=(first.date(), last.date()), min_value=first.date(),
                              max_value=last.date(), key="audit_days")
    since = until = None
    if isinstance(days, tuple) and len(days) == 2:
        since, until = datetime.combine(days[0], time()), datetime.combine(days[1], time()) + timedelta(days=1)

    frame = queries.read(audit.search, actor=None if who == "(all)" else who,
                         action=None if what == "(all)" else what, object_id=obj.strip() or None,
                         since=since, until=until)
    st.caption(f"{len(frame):,} of {total:,} rows match, newest first.")
    if frame.empty:
        widgets.empty_state("No audit row matches these filters.", hint="Widen the days or clear a filter.")
    else:
        widgets.table(frame.assign(details=frame["details"].map(audit.details_text)), hide_index=True, key="audit_table",
                      column_config={"seq": st.column_config.NumberColumn("Row", format="%d", pinned=True),
                                     "occurred_at": st.column_config.DatetimeColumn("When (UTC)",
                                                                                    format="YYYY-MM-DD HH:mm:ss"),
                                     "details": st.column_config.TextColumn(
                                         "Details", help="What was recorded with the action; the exports keep the "
                                                         "JSON as stored"),
                                     "prev_hash": st.column_config.TextColumn("Previous hash"),
                                     "row_hash": st.column_config.TextColumn("Row hash")})
        left, right = st.columns(2)
        left.download_button("Export CSV", audit.export(frame, "csv"), file_name="vigil-audit.csv", mime="text/csv",
                             key="audit_csv")
        right.download_button("Export JSON", audit.export(frame, "json"), file_name="vigil-audit.json",
                              mime="application/json", key="audit_json")

    st.subheader("Chain verification")
    if st.button("Verify the whole chain", type="primary", key="audit_verify"):
        status = queries.read(audit.verify)
        if status.intact:
            st.success(f"Intact: {status.rows:,} rows, every hash chained to the previous one; "
                       f"{status.assurance} (see docs/security.md).", icon=":material/verified:")
        else:
            st.error(f"{status.summary()}. {status.rows:,} rows checked.",
                     icon=":material/gpp_bad:")
