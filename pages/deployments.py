"""Govern > Deployments: a baseline version against a candidate (shadow, canary, challenger, A/B arm) with
significance and a verdict per measure, and the guarded rollout of a canary (timeline, step, promote, cancel)."""

from __future__ import annotations

import streamlit as st

from analytics import config, deployments
from app import auth, context, governance_views, queries, widgets
from app.actions import PageActions
from app.widgets import fmt_int

actor = auth.require("read")
ctx = context.current()
actions = PageActions(config.db_path(), "dep_done")

st.title("Deployments")
actions.show_done()
if not ctx.model:
    widgets.empty_state("No model is registered yet.", hint="Build the demo with `vigil demo`, or register a model.")
    st.stop()

versions = queries.query(deployments.deployable_versions, ctx.model)
served = versions[versions["predictions"] > 0]
if len(served) < 2:
    widgets.empty_state(f"{ctx.model} has fewer than two versions with logged predictions: nothing to compare.",
                        hint="Deploy a shadow or a canary; its predictions appear here once they are ingested.")
    st.stop()
labels = {r.version: f"{r.version} ({r.status}, {fmt_int(r.predictions)} predictions)" for r in served.itertuples()}
names = list(labels)
c = st.columns([2, 2, 1])
baseline = c[0].selectbox("Baseline", names, index=0, format_func=labels.get, key="dep_baseline")
others = [v for v in names if v != baseline]
candidate = c[1].selectbox("Candidate", others, index=0, format_func=labels.get, key="dep_candidate")
fixed = c[2].toggle("Fixed horizon", value=False, key="dep_fixed",
                    help="Off (default): always-valid intervals and p-values, safe to look at on every refresh "
                         "(a confidence sequence, Waudby-Smith et al. 2023, as GrowthBook). On: the fixed-horizon "
                         "test, valid only when the sample size was fixed in advance.")

with st.spinner(f"Comparing {candidate} with {baseline} in DuckDB…"):
    r = queries.query(deployments.compare, ctx.model, baseline=baseline, candidate=candidate,
                      window=ctx.as_window(filtered=False), sequential=not fixed)

period = (f"{r.start:%Y-%m-%d %H:%M} to {r.end:%Y-%m-%d %H:%M} UTC" if r.start and r.end else ctx.window_label)
st.caption(f"**{ctx.model}** · {candidate} against {baseline} · "
           f"{'paired by request (the same requests)' if r.design == 'paired' else 'unpaired (different requests)'} · "
           f"{period} · " + ", ".join(f"{k} {fmt_int(v)} rows" for k, v in r.rows.items())
           + f" · {'fixed-horizon' if fixed else 'sequential, always-valid'} at alpha {r.alpha:g}")

words = {"better": st.success, "not worse": st.info, "worse": st.error, "keep collecting": st.warning,
         "blocked": st.error}
words.get(r.verdict, st.info)(f"**Verdict: {r.verdict}** — {r.reason}.")
if r.coverage is not None and r.coverage.low:
    st.warning(f"**Low shadow coverage**: {r.coverage.message()}.")

m = st.columns(3)
if r.ratio is not None:
    m[0].metric("Sample ratio", " / ".join(fmt_int(o) for o in r.ratio.observed),
                f"planned {' / '.join(f'{s:.0%}' for s in r.ratio.expected_share)}", delta_color="off", border=True,
                help=f"Chi-square goodness of fit p = {r.ratio.p_value:.3g}; below {deployments.SRM_P} it is a "
                     "sample-ratio mismatch, which blocks every verdict.")
elif r.coverage is not None:
    share = r.coverage.share
    m[0].metric("Shadow coverage", "—" if share != share else f"{share:.1%}",
                f"{fmt_int(r.coverage.pairs)} of {fmt_int(r.coverage.baseline_rows)} baseline rows",
                delta_color="off", border=True,
                help="Share of the baseline's requests (from the shadow's first to its last row in the window) that "
                     f"the shadow also scored; below {r.coverage.minimum:.0%} (setting "
                     "`deployments.shadow_coverage_min`) the page warns.")
else:
    m[0].metric("Sample ratio", "not applicable" if r.design == "paired" else "no planned split", border=True,
                help="A paired comparison uses the same requests; an unpaired one is checked against the "
                     "deployment history's traffic shares when there is one.")
if r.power.get("rows_needed_baseline"):
    days = r.power.get("days_needed_at_current_traffic")
    m[1].metric("Rows to detect the margin", fmt_int(r.power["rows_needed_baseline"]),
                f"about {days:,.1f} days at this traffic" if days else None, delta_color="off", border=True,
                help=f"Baseline rows needed to detect a difference of {r.power['detectable_difference']:.4g} in "
                     f"{r.power['measure']} (its non-inferiority margin) with power {r.power['power']:g} at alpha {r.alpha:g} "
                     "(two-sided normal test, as statsmodels' NormalIndPower).")
m[2].metric("Measures judged", fmt_int(sum(1 for x in r.measures if x.verdict)), border=True,
            help="Measures with a direction get a verdict; Holm's correction across them.")

table = r.table
if table.empty:
    widgets.empty_state("No rows of both versions in this window.", hint="Choose a longer window in the sidebar.")
else:
    diffs = governance_views.differences(r, window_label=period)
    if diffs is not None:
        widgets.plot(diffs, key="dep_diffs")
    widgets.table(table.drop(columns=["key"]), column_config={
        "ci_low": st.column_config.NumberColumn("Interval low", format="%.4g"),
        "ci_high": st.column_config.NumberColumn("Interval high", format="%.4g"),
        "p_value": st.column_config.NumberColumn("p-value", format="%.3g"),
        "adjusted_p": st.column_config.NumberColumn("Holm-adjusted p", format="%.3g")})
    st.caption("Verdicts: **better** when the whole interval is on the better side of 0 (Holm-adjusted p below "
               "alpha); **not worse** when it stays within the margin; **worse** when it is on the worse side of 0 "
               "and reaches past the margin; otherwise **keep collecting**. Percentiles above p90 get no verdict "
               f"on fewer than {deployments.PERCENTILE_MIN_ROWS:,} rows per arm. Margins: settings "
               "`deployments.noninferiority_margin` and `deployments.margins`.")

# ---- guarded rollout ------------------------------------------------------------------------------
st.subheader("Guarded rollout")
timeline = queries.query(deployments.rollout_timeline, ctx.model)
if timeline.empty:
    st.caption("No rollout plan for this model. Start one with `vigil deployments plan MODEL VERSION --steps ...`.")
else:
    widgets.table(timeline)
    active = timeline[timeline["plan_status"].isin(["active", "ready"])]
    if not active.empty and actor.can("deploy"):
        b = st.columns(3)
        if b[0].button("Evaluate and apply the current step", key="dep_step", type="primary"):
            with widgets.error_boundary("the rollout step"):
                evaluation = queries.read(deployments.evaluate, ctx.model)
                actions.act("the rollout step", lambda con: deployments.step(con, actor, evaluation), str)
        with b[1].popover("Promote"):
            comment = st.text_input("Why promote", key="dep_promote_comment")
            if st.button("Promote the candidate", key="dep_promote"):
                actions.act("the promotion", lambda con: deployments.promote(con, actor, ctx.model,
                                                                             comment=comment), "Promoted.")
        with b[2].popover("Cancel the rollout"):
            reason = st.text_input("Why cancel", key="dep_cancel_reason")
            if st.button("Cancel the rollout", key="dep_cancel"):
                actions.act("the cancellation", lambda con: deployments.cancel(con, actor, ctx.model, reason=reason),
                            "Cancelled: the champion serves all traffic.")
