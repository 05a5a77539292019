"""Fairness: verdicts first (pass, fail, too small to judge), then per-group metrics with intervals,
each disparity per week against its threshold, and a what-if that changes nothing in production."""

from __future__ import annotations

import streamlit as st

from analytics import config, fairness, overview
from analytics.fairness import CONSTRAINTS
from app import auth, context, fairness_views, queries, widgets
from app.actions import PageActions
from app.widgets import fmt_int, fmt_num, fmt_pct

actor = auth.require("read")
ctx = context.current()
actions = PageActions(config.db_path(), "fair_done")

st.title("Fairness")
actions.show_done()
if not ctx.model:
    widgets.empty_state("No model is registered yet.",
                        hint="Register a model with sensitive attributes in its log schema and ingest its "
                             "predictions and outcomes (`vigil ingest`); or build the demo with `vigil demo`.")
    st.stop()

report = queries.query(fairness.assess, ctx.model, window=ctx.as_window().all_rows())
th = report.thresholds
decision = queries.query(overview.model_schema, ctx.model).decision_text(report.favourable)
st.caption(
    f"**{ctx.model}** version **{report.version or 'all'}** ({'the champion' if not ctx.version else 'chosen'}) "
    f"over whole UTC days {report.first_day} to {report.last_day}: {fmt_int(report.rows)} predictions, "
    f"{fmt_int(report.labelled)} with an outcome. Rates are of the favourable decision (decision "
    f"{report.favourable}: {decision}); selection rate uses every prediction, the other rates only labelled ones. "
    f"Thresholds: demographic parity ratio ≥ {th.dp_ratio} ({th.dp_ratio_rule}), equalized odds difference ≤ "
    f"{th.eo_difference}; groups under {th.min_group_size} predictions are too small to judge, under "
    f"{th.suppress_below} suppressed. Segment filters do not apply here. Aggregates only: no single "
    "person's attributes are shown on this page.")
if report.rows == 0 or not report.results:
    widgets.empty_state(f"No predictions of {ctx.model} version {report.version} in the {ctx.window_label}.",
                        hint="Choose a longer window or another version in the sidebar.")
    st.stop()

# ---- verdicts ------------------------------------------------------------------------------------
verdicts = report.verdicts()
counts = verdicts["verdict"].value_counts()
st.subheader("Verdicts")
cards = st.columns(3)
cards[0].metric("Fail", int(counts.get(fairness.FAIL, 0)), border=True,
                help=f"Attributes or intersections failing {th.dp_ratio_rule} (parity ratio below {th.dp_ratio:g}) "
                     f"or the equalized odds threshold ({th.eo_difference:g})")
cards[1].metric("Pass", int(counts.get(fairness.PASS, 0)), border=True)
cards[2].metric("Too small to judge", int(counts.get(fairness.TOO_SMALL, 0)), border=True,
                help=f"Fewer than two groups with {th.min_group_size} predictions")
widgets.table(
    verdicts, hide_index=True,
    column_order=["attribute", "verdict", "four_fifths_verdict", "demographic_parity_ratio",
                   "demographic_parity_difference", "equalized_odds_verdict", "equalized_odds_difference",
                   "equal_opportunity_difference", "judged_groups", "groups"],
    column_config={
        "attribute": st.column_config.TextColumn("Attribute", pinned=True),
        "verdict": st.column_config.TextColumn("Verdict"),
        "four_fifths_verdict": st.column_config.TextColumn("Four-fifths", help=f"Demographic parity ratio ≥ {th.dp_ratio}"),
        "demographic_parity_ratio": st.column_config.NumberColumn("DP ratio", format="%.3f",
                                                                   help="Lowest over highest group selection rate"),
        "demographic_parity_difference": st.column_config.NumberColumn("DP difference", format="%.3f"),
        "equalized_odds_verdict": st.column_config.TextColumn("Equalized odds",
                                                               help=f"Equalized odds difference ≤ {th.eo_difference}"),
        "equalized_odds_difference": st.column_config.NumberColumn("EO difference", format="%.3f",
                                                                    help="Largest gap in TPR or FPR"),
        "equal_opportunity_difference": st.column_config.NumberColumn("EOpp difference", format="%.3f",
                                                                       help="Gap in true-positive rate"),
        "judged_groups": st.column_config.NumberColumn("Judged groups"),
        "groups": st.column_config.NumberColumn("Groups"),
    })

# ---- per-group metrics ---------------------------------------------------------------------------
st.subheader("Groups")
names = [r.name for r in report.results]
METRICS = fairness_views.METRICS
left, right = st.columns(2)
context.adopt("fairness_attribute", "fair_attr", names[0], options=names)
name = left.selectbox("Attribute or intersection", names, key="fair_attr")
context.adopt("fairness_metric", "fair_metric", "selection_rate", options=list(METRICS))
metric = right.selectbox("Metric", list(METRICS), format_func=METRICS.get, key="fair_metric")
context.remember("fairness_attribute", name)
context.remember("fairness_metric", metric)
result = report.result(name)
groups = result.groups
shown = groups[groups["status"] != "suppressed"]
if shown.empty:
    widgets.empty_state("Every group is suppressed (too few predictions to show).")
else:
    widgets.plot(fairness_views.groups(report, name, metric), key="fair_groups")
    st.caption("Blue bars: groups judged; orange: too small to judge. Intervals: percentile bootstrap "
               f"({fairness.N_BOOT} resamples of the window's predictions, seed 0).")
ci_cols = {f"{m}_{e}": st.column_config.NumberColumn(f"{METRICS[m]} {'low' if e == 'low' else 'high'}",
                                                      format="%.3f") for m in METRICS for e in ("low", "high")}
widgets.table(
    groups, hide_index=True,
    column_order=["group", "status", "count", "labelled", "selection_rate", "selection_rate_low",
                   "selection_rate_high", "true_positive_rate", "true_positive_rate_low", "true_positive_rate_high",
                   "false_positive_rate", "false_positive_rate_low", "false_positive_rate_high", "precision",
                   "accuracy"],
    column_config={
        "group": st.column_config.TextColumn("Group", pinned=True),
        "status": st.column_config.TextColumn("Status"),
        "count": st.column_config.NumberColumn("Predictions", format="localized"),
        "labelled": st.column_config.NumberColumn("Labelled", format="localized"),
        **{m: st.column_config.NumberColumn(label, format="%.3f") for m, label in METRICS.items()},
        **ci_cols,
    })

# ---- over time -----------------------------------------------------------------------------------
st.subheader("Over time")
trend = result.over_time
TREND = fairness_views.disparity_trends(report)
which = st.radio("Disparity", list(TREND), format_func=lambda k: TREND[k].label, horizontal=True, key="fair_trend")
if trend.empty or trend[which].isna().all():
    widgets.empty_state(f"No week has two groups of {name} large enough to judge"
                        + (" with outcomes" if which != "demographic_parity_ratio" else "") + ".",
                        hint="Outcomes arrive weeks after predictions; choose a longer or earlier window.")
else:
    widgets.plot(fairness_views.trend(report, name, which), key="fair_trend_chart")

# ---- what-if -------------------------------------------------------------------------------------
st.subheader("What-if: per-group thresholds")
st.caption("Per-group score thresholds that would equalise a rate across the groups of one attribute, searched "
           "on the window's labelled predictions. **Nothing changes in production.** Business value after the "
           "change is an estimate: a decision that would flip takes its group's mean realised value for that "
           "decision and outcome.")
attrs = [r.name for r in report.results if len(r.keys) == 1]
with st.form("fair_whatif"):
    c1, c2, c3 = st.columns(3)
    w_attr = c1.selectbox("Attribute", attrs, key="fair_w_attr")
    w_constraint = c2.selectbox("Equalise", list(CONSTRAINTS), format_func=CONSTRAINTS.get, key="fair_w_constraint")
    w_objective = c3.selectbox("Keep the best", list(fairness.OBJECTIVES),
                               format_func=lambda o: o.replace("_", " "), key="fair_w_objective")
    run = st.form_submit_button("Run the what-if", icon=":material/science:")
params = (ctx.model, w_attr, ctx.start, ctx.end, report.version, w_constraint, w_objective)
if run:
    st.session_state["fair_whatif_params"] = params
if st.session_state.get("fair_whatif_params") == params:
    with st.spinner("Searching per-group thresholds on the window's labelled predictions…"):
        whatif = queries.query(fairness.what_if, ctx.model, w_attr, window=ctx.as_window().all_rows(),
                               constraint=w_constraint, objective=w_objective)
    cards = st.columns(3)
    cards[0].metric("Accuracy", fmt_pct(whatif.accuracy_after, 2),
                    widgets.pp_change(whatif.accuracy_after, whatif.accuracy_before), border=True,
                    help=f"Before: {fmt_pct(whatif.accuracy_before, 2)} on {fmt_int(whatif.rows)} labelled predictions")
    cards[1].metric("Business value (estimated)", f"{whatif.value_after:,.0f}",
                    f"{whatif.value_after - whatif.value_before:+,.0f}", border=True,
                    help=f"Before (realised): {whatif.value_before:,.0f}")
    cards[2].metric(f"Gap in {CONSTRAINTS[w_constraint]}", fmt_num(whatif.disparity_after),
                    widgets.diff(whatif.disparity_after, whatif.disparity_before), delta_color="inverse",
                    border=True, help="Largest minus smallest rate among the judged groups")
    widgets.table(whatif.groups, hide_index=True, column_config={
        "group": st.column_config.TextColumn("Group", pinned=True),
        "labelled": st.column_config.NumberColumn("Labelled", format="localized"),
        "judged": st.column_config.CheckboxColumn("New threshold", help="Too-small groups keep their decisions"),
        "threshold": st.column_config.NumberColumn("Threshold", format="%.3f",
                                                    help="Score at or above which the decision is 1"),
        "rate_before": st.column_config.NumberColumn("Rate before", format="%.3f"),
        "rate_after": st.column_config.NumberColumn("Rate after", format="%.3f"),
        "accuracy_before": st.column_config.NumberColumn("Accuracy before", format="%.3f"),
        "accuracy_after": st.column_config.NumberColumn("Accuracy after", format="%.3f"),
        "value_before": st.column_config.NumberColumn("Value before", format="localized"),
        "value_after": st.column_config.NumberColumn("Value after (est.)", format="localized"),
    })
    if actor.can("review"):
        with st.form("fair_attach"):
            note = st.text_area("Note for the review", max_chars=2000, key="fair_note")
            if st.form_submit_button(f"Attach to the review of {report.version} as a recommendation",
                                     icon=":material/attach_file:"):
                actions.act("attaching the recommendation", lambda con: fairness.attach_recommendation(
                    con, actor, ctx.model, report.version, {**whatif.to_dict(), "attribute": w_attr}, note=note),
                    f"Attached to {ctx.model} {report.version} as a recommendation (audited).")
    else:
        st.caption("Reviewers can attach this result to a review as a recommendation.")

recs = queries.query(fairness.recommendations, ctx.model)
if not recs.empty:
    with st.expander(f"Recommendations attached to {ctx.model} ({len(recs)})"):
        widgets.table(recs[["occurred_at", "actor", "role", "object_id", "details"]], hide_index=True,
                      column_config={"occurred_at": st.column_config.DatetimeColumn("When (UTC)",
                                                                                    format="YYYY-MM-DD HH:mm"),
                                     "object_id": st.column_config.TextColumn("Version"),
                                     "details": st.column_config.JsonColumn("Recommendation")})
