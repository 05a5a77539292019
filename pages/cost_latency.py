"""Business > Cost and latency: spend per prediction, per 1,000 and per selected decision, the monthly budget
with its month-end forecast, recorded infrastructure costs; latency percentiles against the SLA, breaches, throughput."""

from __future__ import annotations

import streamlit as st

from analytics import business, config, settings
from app import auth, business_views, context, queries, widgets
from app.actions import PageActions
from app.widgets import fmt_int, fmt_pct, is_missing

actor = auth.require("read")
ctx = context.current()
actions = PageActions(config.db_path(), "cost_done")

st.title("Cost and latency")
actions.show_done()
if not ctx.model:
    widgets.empty_state("No model is registered yet.", hint="Build the demo with `vigil demo`, or register a model "
                        "and ingest its prediction log with the `vigil` command line.")
    st.stop()


def usd(value: float, digits: int = 2) -> str:
    return "–" if is_missing(value) else f"USD {value:,.{digits}f}"


costs = queries.query(business.cost, ctx.model, now=ctx.now, window=ctx.as_window())
lat = queries.query(business.latency, ctx.model, window=ctx.as_window())
s, b = costs.summary, costs.budget
st.caption(f"**{ctx.model}** · {ctx.filter_label} · {ctx.window_label}, as of {ctx.now:%Y-%m-%d %H:%M} UTC · "
           f"{fmt_int(s['predictions'])} predictions, shadow traffic included (it is paid for). Cost in USD as "
           "logged per call by the serving gateway; latency in milliseconds.")

# ---- cost cards ---------------------------------------------------------------------------------
st.subheader("Cost")
c = st.columns(4)
c[0].metric("Cost per 1,000 predictions", usd(s["cost_per_1000_usd"], 3),
            widgets.pct_change(s["cost_per_1000_usd"], s["cost_per_1000_usd_previous"]), delta_color="inverse",
            delta_description=ctx.previous_label, border=True,
            help=f"Logged cost of the window's predictions ({usd(s['cost_usd'])}) per 1,000 predictions; per "
                 f"prediction {usd(s['cost_per_prediction_usd'], 6)}.")
c[1].metric(f"Cost per {costs.selected_label} decision", usd(s["cost_per_selected_usd"], 4),
            widgets.pct_change(s["cost_per_selected_usd"], s["cost_per_selected_usd_previous"]), delta_color="inverse",
            delta_description=ctx.previous_label, border=True,
            help=f"Logged cost of every prediction (shadow included) divided by the {fmt_int(s['selected'])} "
                 f"{costs.selected_label} decisions acted on.")
c[2].metric("Spend in the window", usd(s["total_usd"]),
            widgets.pct_change(s["total_usd"], s["total_usd_previous"]), delta_color="inverse",
            delta_description=ctx.previous_label, border=True,
            help=f"Predictions {usd(s['cost_usd'])} plus recorded infrastructure {usd(s['infra_usd'])} (entries spread "
                 "evenly over their days).")
c[3].metric(f"Month-end forecast ({b['month']:%B %Y})", usd(b["forecast_usd"]),
            f"{fmt_pct(b['forecast_share'], 0)} of budget" if not is_missing(b["forecast_share"]) else None,
            delta_color="off", border=True,
            help=f"Spent so far this month {usd(b['spend_usd'])} (predictions {usd(b['log_usd'])}, infrastructure "
                 f"{usd(b['infra_usd'])}), plus {usd(b['run_rate_usd_per_day'])} a day (the last "
                 f"{business.RUN_RATE_DAYS} days' prediction cost) for the {b['days_left']:.1f} days left, plus "
                 f"infrastructure already booked. Monthly budget {usd(b['budget_usd'])} (setting "
                 f"{business.MONTHLY_BUDGET.key}).")
share = b["spend_share"] if not is_missing(b["spend_share"]) else 0.0
st.progress(min(max(share, 0.0), 1.0),
            text=f"Budget {b['month']:%B %Y}: {usd(b['spend_usd'])} spent of {usd(b['budget_usd'])} "
                 f"({fmt_pct(b['spend_share'], 0)}); forecast {usd(b['forecast_usd'])}"
                 + (" — **over budget**" if b["forecast_usd"] > b["budget_usd"] else ""))

daily = costs.daily
if daily.empty:
    widgets.empty_state(f"No predictions in the {ctx.window_label}.", hint="Choose a longer window in the sidebar.")
else:
    widgets.plot(business_views.daily_cost(costs, window_label=ctx.window_label), key="cost_daily")
    widgets.table(costs.by_version, hide_index=True,
                  column_order=["version", "role", "predictions", "cost_usd", "cost_per_1000_usd", "selected",
                                "cost_per_selected_usd"],
                  column_config={
                      "version": st.column_config.TextColumn("Version", pinned=True),
                      "role": "Deployment role",
                      "predictions": st.column_config.NumberColumn("Predictions", format="localized"),
                      "cost_usd": st.column_config.NumberColumn("Cost (USD)", format="%,.2f"),
                      "cost_per_1000_usd": st.column_config.NumberColumn("Per 1,000 (USD)", format="%.4f"),
                      "selected": st.column_config.NumberColumn(f"{costs.selected_label.capitalize()} decisions",
                                                                format="localized"),
                      "cost_per_selected_usd": st.column_config.NumberColumn(
                          f"Per {costs.selected_label} decision (USD)", format="%.5f",
                          help="Empty for a shadow version: its decisions are not acted on"),
                  })

# ---- latency ------------------------------------------------------------------------------------
st.subheader("Latency")
col = f"{lat.sla_percentile}_ms"
if lat.by_version.empty:
    widgets.empty_state(f"No latency logged in the {ctx.window_label}.", hint="Choose a longer window in the sidebar.")
else:
    cards = st.columns(4)
    for i, (_, row) in enumerate(lat.by_version.head(2).iterrows()):
        cards[2 * i].metric(f"{lat.sla_percentile} latency of {row['version']}", f"{row[col]:,.1f} ms",
                            f"{row[col] - lat.sla_ms:+,.1f} ms vs SLA {lat.sla_ms:g} ms", delta_color="inverse",
                            border=True,
                            help=f"p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms "
                                 f"over {fmt_int(row['predictions'])} predictions (DuckDB quantile_cont: linear "
                                 "interpolation, as numpy's default).")
        cards[2 * i + 1].metric(f"Throughput of {row['version']}", f"{row['mean_per_second']:.3f} /s",
                                f"peak hour {row['peak_per_second']:.3f} /s", delta_color="off", border=True,
                                help="Mean predictions per second over the days with traffic; the busiest UTC hour.")
    widgets.plot(business_views.daily_latency(lat, window_label=ctx.window_label), key="latency_daily")
    widgets.table(lat.by_version, hide_index=True,
                  column_order=["version", "role", "predictions", "p50_ms", "p95_ms", "p99_ms", "max_ms",
                                "mean_per_second", "peak_per_second", "breach"],
                  column_config={
                      "version": st.column_config.TextColumn("Version", pinned=True),
                      "predictions": st.column_config.NumberColumn("Predictions", format="localized"),
                      **{k: st.column_config.NumberColumn(f"{k[:3]} (ms)", format="%.1f") for k in
                         ("p50_ms", "p95_ms", "p99_ms", "max_ms")},
                      "mean_per_second": st.column_config.NumberColumn("Mean /s", format="%.4f"),
                      "peak_per_second": st.column_config.NumberColumn("Peak hour /s", format="%.4f"),
                      "breach": st.column_config.CheckboxColumn(f"{lat.sla_percentile} over SLA"),
                  })
    st.markdown(f"**SLA breaches** — UTC days whose {lat.sla_percentile} exceeded {lat.sla_ms:g} ms")
    if lat.breaches.empty:
        st.caption(f"None in the {ctx.window_label}.")
    else:
        widgets.table(lat.breaches, hide_index=True,
                      column_order=["day", "version", "predictions", col, "over_ms"],
                      column_config={"day": st.column_config.DateColumn("Day (UTC)"),
                                     "predictions": st.column_config.NumberColumn("Predictions", format="localized"),
                                     col: st.column_config.NumberColumn(f"{lat.sla_percentile} (ms)", format="%.1f"),
                                     "over_ms": st.column_config.NumberColumn("Over SLA (ms)", format="%+.1f")})

# ---- infrastructure costs -----------------------------------------------------------------------
st.subheader("Infrastructure costs")
entries = queries.query(business.infra_costs, ctx.model)
if entries.empty:
    widgets.empty_state("No infrastructure cost is recorded for this model.",
                        hint="An admin records compute, storage and other costs below; they count against the budget.")
else:
    widgets.table(entries, hide_index=True, column_config={
        "entry_id": st.column_config.NumberColumn("Entry", width="small"),
        "model_name": "Model (blank: shared)", "category": "Category",
        "amount_usd": st.column_config.NumberColumn("Amount (USD)", format="%,.2f"),
        "period_start": st.column_config.DateColumn("From (UTC)"),
        "period_end": st.column_config.DateColumn("To (UTC)"),
        "days": st.column_config.NumberColumn("Days"), "description": "Description",
        "entered_at": st.column_config.DatetimeColumn("Entered (UTC)", format="YYYY-MM-DD HH:mm"),
        "entered_by": "Entered by"})

if actor.can("change_settings"):
    with st.expander("Record an infrastructure cost (admin)"):
        with st.form("infra_add"):
            f = st.columns(4)
            category = f[0].selectbox("Category", business.INFRA_CATEGORIES, key="infra_category")
            amount = f[1].number_input("Amount (USD)", min_value=0.0, value=0.0, key="infra_amount")
            first = f[2].date_input("From (UTC)", ctx.now.date().replace(day=1), key="infra_from")
            last = f[3].date_input("To (UTC)", ctx.now.date(), key="infra_to")
            text = st.text_input("Description", key="infra_description")
            if st.form_submit_button("Record", key="infra_submit"):
                actions.act("recording the cost", lambda con: business.add_infra_cost(
                    con, actor, model=ctx.model, category=category, amount_usd=float(amount), period_start=first,
                    period_end=last, description=text), "Recorded; the entry is in the audit trail.")
    with st.expander("Budget and SLA (admin)"):
        with st.form("budget_sla"):
            f = st.columns(3)
            budget = f[0].number_input("Monthly budget (USD)", min_value=0.0, value=float(b["budget_usd"]),
                                       key="budget_value")
            target = f[1].number_input("Latency SLA (ms)", min_value=0.0, value=float(lat.sla_ms), key="sla_value")
            which = f[2].selectbox("SLA percentile", ["p50", "p95", "p99"],
                                   index=["p50", "p95", "p99"].index(lat.sla_percentile), key="sla_percentile")
            if st.form_submit_button("Save for this model", key="budget_sla_submit"):
                def work(con):
                    settings.set_value(con, actor, business.MONTHLY_BUDGET.key, budget, model=ctx.model)
                    settings.set_value(con, actor, business.SLA_MS.key, target, model=ctx.model)
                    settings.set_value(con, actor, business.SLA_PERCENTILE.key, which, model=ctx.model)
                actions.act("the budget and SLA", work, "Saved; the changes are in the audit trail.")
