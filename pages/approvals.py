"""Govern > Approvals: the versions waiting on you (a queue per role), the evidence pack, and the decision form.

Every action goes through analytics.governance with the signed-in actor: the state machine, the role,
four eyes and the override rule are checked there, and each step is written with its audit row.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import config, governance
from analytics.registry import get_version, status_text
from app.actions import PageActions
from app import auth, governance_views, queries, theme, widgets

actor = auth.require("submit_for_review")
actions = PageActions(config.db_path(), "approvals_done")
_FOCUS = "approvals_focus"    # (model, version) the page stays on, across actions and reruns
_CLEAR = "approvals_clear"    # set by an action: the next run empties the forms before drawing them
_PICKER = "approvals_item"
#: The typed fields of the forms, emptied after any action and when another version is chosen, so no
#: text written for one version (or one step) is ever sent with the next.
_FORM_FIELDS = ("approvals_justification", "approvals_topic", "approvals_finding_text", "approvals_comment",
                "approvals_override", "approvals_rollback_reason")

QUEUE_TITLES = {"submit_for_review": "Drafts to submit", "review": "To review", "approve": "To decide",
                "deploy": "Approved, to deploy"}

st.title("Approvals")
st.caption(f"Signed in as **{actor.username}** ({actor.role}). The queues show what waits on your role; nobody "
           "reviews or decides a version they submitted (four eyes). Every step is recorded in the audit trail. "
           "Times are UTC.")


def _clear_forms() -> None:
    for key in _FORM_FIELDS:
        st.session_state[key] = ""


def _chosen() -> None:
    st.session_state[_FOCUS] = st.session_state[_PICKER]
    _clear_forms()


if st.session_state.pop(_CLEAR, False):
    _clear_forms()
actions.show_done()


def _act(what: str, work, message: str) -> None:
    actions.act(what, work, message, remember={_FOCUS: item, _CLEAR: True})


with widgets.error_boundary("the approval queues"):
    queue = queries.read(governance.queue, actor)
    focus = st.session_state.get(_FOCUS)
    if queue.empty and focus is None:
        widgets.empty_state("Nothing waits on your role right now.",
                            hint="Versions appear here when they are drafted, submitted, in review or approved.",
                            icon=":material/inbox:")
        st.stop()
    if not queue.empty:
        tabs = st.tabs([f"{QUEUE_TITLES[q]} ({(queue['queue'] == q).sum()})" for q in queue["queue"].unique()])
        for tab, name in zip(tabs, queue["queue"].unique()):
            with tab:
                shown = queue[queue["queue"] == name].assign(status=lambda f: f["status"].map(status_text))
                widgets.table(shown, hide_index=True, key=f"approvals_queue_{name}",
                              column_order=["model", "version", "status", "submitted_by", "since", "owner",
                                            "own_submission"],
                              column_config={"since": st.column_config.DatetimeColumn("Last step (UTC)"),
                                             "own_submission": st.column_config.CheckboxColumn(
                                                 "Yours", help="You submitted it: four eyes forbid you to review "
                                                               "or decide it")})
    else:
        st.info("Nothing else waits on your role; the version you last acted on stays below.",
                icon=":material/inbox:")

    # The picker holds (model, version), never a position in the queue, so an action that moves the
    # version out of the queue (or reorders it) leaves the page on the same version.
    statuses = {(m, v): s for m, v, s in zip(queue["model"], queue["version"], queue["status"])}
    if focus is not None and tuple(focus) not in statuses:
        statuses[tuple(focus)] = queries.read(get_version, *focus)["status"]
    options = list(statuses)
    if focus is not None:
        st.session_state[_PICKER] = tuple(focus)
    item = st.selectbox("Version", options, key=_PICKER, on_change=_chosen,
                        format_func=lambda o: f"{o[0]} {o[1]} ({status_text(statuses[o])})",
                        help="The page stays on this version after each action; another choice empties the forms")
    model, version = item
    st.session_state[_FOCUS] = item
    subject = f"{model} {version}"

    info = queries.read(get_version, model, version)
    stored = queries.read(governance.latest_pack, model, version)
    found = queries.read(governance.findings, model, version)
    history = queries.read(governance.approval_history, model, version)
    status = info["status"]

# ---- the evidence pack ---------------------------------------------------------------------------
failing: list[str] = []
st.subheader(f"Evidence pack: {subject}")
with widgets.error_boundary("the evidence pack"):
    if stored is not None:
        results = stored["results"]
        st.caption(f"Pack #{stored['pack_id']}, assembled {stored['assembled_at']:%Y-%m-%d %H:%M} UTC by "
                   f"{stored['assembled_by']} when the version was submitted; sha256 `{stored['sha256'][:16]}…`.")
    else:
        pack = queries.query(governance.evidence_for, model, version)
        results = pack.results
        st.caption(f"Not submitted yet: the pack below is assembled now, at {pack.assembled_at:%Y-%m-%d %H:%M} UTC; "
                   "it is stored when the version is submitted.")
    frame = pd.DataFrame([{"check": r.title, "status": r.status.replace("_", " "), "scope": r.scope,
                           "value": r.value, "threshold": r.threshold, "rows": r.rows, "detail": r.detail}
                          for r in results])
    failing = [r.title for r in results if r.status == governance.FAIL]
    widgets.table(frame, hide_index=True, key="approvals_evidence",
                  column_config={"value": st.column_config.NumberColumn("Value", format="%.4f"),
                                 "threshold": st.column_config.NumberColumn("Threshold", format="%.4f"),
                                 "rows": st.column_config.NumberColumn("Rows", format="localized"),
                                 "detail": st.column_config.TextColumn("Detail", width="large")})
    if failing:
        st.warning(f"Failing checks: {', '.join(failing)}. Approval needs an explicit override reason, which is "
                   "recorded.", icon=":material/warning:")
    theme.register()
    charts = [r for r in results if r.chart]
    for col, result in zip(st.columns(max(len(charts), 1)), charts):
        with col:
            widgets.plot(governance_views.evidence_chart(result), key=f"approvals_chart_{result.key}")
    for result in results:
        if result.table:
            with st.expander(f"{result.title}: details ({len(result.table)} rows)"):
                widgets.table(pd.DataFrame(result.table), hide_index=True, key=f"approvals_table_{result.key}")

st.subheader("Review findings and history")
left, right = st.columns(2)
with left:
    if found.empty:
        st.caption("No findings recorded yet.")
    else:
        widgets.table(found, hide_index=True, key="approvals_findings",
                      column_order=["recorded_at", "reviewer", "severity", "topic", "finding"])
with right:
    words = {c: history[c].map(lambda s: status_text(s) if isinstance(s, str) else s) for c in ("from_status", "to_status")}
    widgets.table(history.assign(**words), hide_index=True, key="approvals_history",
                  column_order=["occurred_at", "actor", "from_status", "to_status", "comment"],
                  column_config={"occurred_at": st.column_config.DatetimeColumn("When (UTC)")})

# ---- the decision form ---------------------------------------------------------------------------
st.subheader("Act")
st.caption(f"{subject} is **{status_text(status)}**. Steps open from here: "
           f"{', '.join(map(status_text, governance.next_states(status))) or 'none (final)'}.")

if status == "draft" and actor.can("submit_for_review"):
    with st.form("approvals_submit"):
        justification = st.text_area("Justification", key="approvals_justification",
                                     help="Why this version should replace or join what serves now")
        if st.form_submit_button(f"Submit {subject} for review with this evidence", type="primary",
                                 key="approvals_submit_go"):
            _act("submitting", lambda con: governance.submit(con, actor, model, version, justification),
                 f"Submitted {subject} for review; its evidence pack is stored.")

if status == "submitted" and actor.can("review"):
    if st.button(f"Start the review of {subject}", type="primary", key="approvals_start_review"):
        _act("starting the review", lambda con: governance.start_review(con, actor, model, version),
             f"{subject} is in review.")

if status == "in_review" and actor.can("review"):
    with st.form("approvals_finding"):
        st.markdown(f"**Record a finding on {subject}**")
        severity = st.selectbox("Severity", governance.SEVERITIES, key="approvals_severity")
        topic = st.text_input("Topic (optional)", key="approvals_topic")
        finding = st.text_area("Finding", key="approvals_finding_text")
        if st.form_submit_button(f"Record the finding on {subject}", key="approvals_finding_go"):
            _act("recording the finding", lambda con: governance.record_finding(
                con, actor, model, version, finding, severity=severity, topic=topic),
                f"Finding recorded on {subject}.")

if status == "in_review" and actor.can("approve"):
    with st.form("approvals_decide"):
        st.markdown(f"**Decision on {subject}**")
        comment = st.text_area("Comment (required)", key="approvals_comment")
        if failing:
            override = st.text_area(f"Override reason (required to approve: {', '.join(failing)} failed)",
                                    key="approvals_override")
        else:
            override = ""
            st.caption("No check of the evidence pack failed, so there is nothing to override.")
        approve_col, reject_col = st.columns(2)
        if approve_col.form_submit_button(f"Approve {subject}", type="primary", key="approvals_approve_go"):
            _act("approving", lambda con: governance.approve(con, actor, model, version, comment,
                                                             override_reason=override or None),
                 f"Approved {subject}.")
        if reject_col.form_submit_button(f"Reject {subject}", key="approvals_reject_go"):
            _act("rejecting", lambda con: governance.reject(con, actor, model, version, comment),
                 f"Rejected {subject}.")

if status in ("approved", "shadow", "canary") and actor.can("deploy"):
    st.markdown(f"**Deploy {subject}**")
    cols = st.columns(3)
    if status == "approved" and cols[0].button(f"Deploy {subject} as shadow", key="approvals_shadow"):
        _act("deploying", lambda con: governance.deploy_shadow(con, actor, model, version),
             f"{subject} runs as shadow.")
    if status in ("approved", "shadow"):
        share = cols[1].slider("Canary share of traffic", 0.01, 0.5, 0.1, 0.01, key="approvals_share")
        if cols[1].button(f"Start the canary of {subject}", key="approvals_canary"):
            _act("starting the canary", lambda con: governance.start_canary(con, actor, model, version, share),
                 f"{subject} serves {share:.0%} of traffic as canary.")
    if cols[2].button(f"Promote {subject} to champion", type="primary", key="approvals_promote"):
        _act("promoting", lambda con: governance.promote(con, actor, model, version),
             f"{subject} is the champion; the previous champion is retired.")

if actor.can("deploy"):
    with st.expander(f"Roll back {model} to its previous champion"):
        with st.form("approvals_rollback"):
            reason = st.text_input("Reason (required)", key="approvals_rollback_reason")
            if st.form_submit_button(f"Roll back {model}", key="approvals_rollback_go"):
                _act("rolling back", lambda con: governance.rollback(con, actor, model, reason=reason),
                     f"Rolled {model} back to its previous champion.")
