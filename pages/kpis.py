"""Business > KPIs: is the model earning its keep? KPIs from the value matrix kept in the store, against
the previous period and the business case's targets; by segment; threshold what-if; champion vs challenger."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import business, config, overview
from analytics.fairness import thresholds_for
from app import auth, business_views, context, queries, widgets
from app.actions import PageActions
from app.widgets import fmt_int, fmt_measure, fmt_num, fmt_pct, is_missing

#: Short labels of the cards (long KPI names are cut off on a card); the full name heads the card's help.
CARD_LABELS = {"profit": "Realised profit", "expected_loss": "Expected loss", "expected_profit": "Expected profit",
               "profit_per_decision": "Profit per decision", "opportunity_cost": "Opportunity cost",
               "demographic_parity_ratio": "Parity ratio"}

actor = auth.require("read")
ctx = context.current()
actions = PageActions(config.db_path(), "kpis_done")

st.title("Business KPIs")
actions.show_done()
if not ctx.model:
    widgets.empty_state("No model is registered yet.", hint="Build the demo with `vigil demo`, or register a model "
                        "and ingest its prediction log with the `vigil` command line.")
    st.stop()

parity = queries.read(thresholds_for, ctx.model)
defined = queries.query(business.definition_models)
if ctx.model not in defined:
    widgets.empty_state(
        f"No business KPI definition is stored for {ctx.model}.",
        hint="An admin enters the value of each decision (the value matrix) and the targets of the business case "
             "below, or with `vigil kpis define`. KPIs are computed from it.")
    definition = None
else:
    # Whole UTC hours (KPIs) and days (what-if): answered from the rollups without a partial-hour scan.
    start = ctx.start.replace(minute=0) if ctx.start else None
    end = ctx.end or ctx.now.replace(minute=0)  # the last whole hour; the previous period is whole hours too
    day_start = start.replace(hour=0) if start else None
    hours = ctx.as_window().between(start, end)
    result = queries.query(business.kpis, ctx.model, now=ctx.now, window=hours)
    definition = result.definition
    schema = queries.query(overview.model_schema, ctx.model)
    cur = definition.currency
    rows_label = "every version's decisions except shadow traffic" if not ctx.version else f"version {ctx.version}"
    st.caption(widgets.dollars_as_text(
        f"**{ctx.model}** · {ctx.filter_label} · {ctx.window_label}, as of {ctx.now:%Y-%m-%d %H:%M} UTC · "
        f"{fmt_int(result.rows)} predictions ({rows_label}"
        + (f", {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC" if start else "")
        + f"), {fmt_int(result.labelled)} of them with an outcome. Money in {cur}; value matrix: {definition.unit(schema)}."))
    table = result.table.set_index("key")

    def money(value: float) -> str:
        return fmt_measure(value, cur)

    def money_card(key: str) -> str:
        return fmt_measure(table.loc[key, "value"], cur, compact=True)

    def card(column, key: str, value: str, delta: str | None, *, help_text: str) -> None:
        """A KPI card; a KPI with a target says on the card itself whether it meets it."""
        row = table.loc[key]
        target = row["target"]
        label = CARD_LABELS.get(key, row["kpi"])
        help_text = f"**{row['kpi']}**" + (f": {money(row['value'])}" if row["unit"] == cur else "") + f". {help_text}"
        higher = row["higher_is_better"]
        kwargs = {}
        if delta:
            kwargs = {"delta": delta, "delta_description": ctx.previous_label,
                      "delta_color": "off" if higher is None else ("normal" if higher else "inverse")}
        with column.container(border=True):
            st.metric(label, value, help=widgets.dollars_as_text(help_text), **kwargs)
            if not is_missing(target) and row["meets_target"] is not None:
                shown = widgets.dollars_as_text(fmt_measure(target, row["unit"]))
                if row["meets_target"]:
                    st.badge(f"Meets target {shown}", icon=":material/check:", color="blue")
                else:
                    st.badge(f"Misses target {shown}", icon=":material/flag:", color="orange")

    c = st.columns(4)
    card(c[0], "selection_rate", fmt_pct(table.loc["selection_rate", "value"]),
         widgets.pp_change(table.loc["selection_rate", "value"], table.loc["selection_rate", "previous"]),
         help_text=f"Share of the window's {fmt_int(result.rows)} predictions whose decision was "
                   f"'{definition.selected_label}'.")
    card(c[1], "bad_rate_selected", fmt_pct(table.loc["bad_rate_selected", "value"]),
         widgets.pp_change(table.loc["bad_rate_selected", "value"], table.loc["bad_rate_selected", "previous"]),
         help_text=f"Among {definition.selected_label} cases whose outcome has arrived, the share that turned out "
                   f"'{definition.bad_name}'. Outcomes arrive late: recent windows hold few.")
    card(c[2], "profit", money_card("profit"),
         widgets.pct_change(table.loc["profit", "value"], table.loc["profit", "previous"]),
         help_text="Revenue of good selected cases minus the loss of bad ones, from the value matrix, over the "
                   f"{fmt_int(result.labelled)} predictions with an outcome.")
    card(c[3], "expected_loss", money_card("expected_loss"),
         widgets.pct_change(table.loc["expected_loss", "value"], table.loc["expected_loss", "previous"]),
         help_text="The loss the model itself expects: over every selected prediction, its score (probability "
                   "of the bad outcome) times the loss of a bad case.")
    c = st.columns(4)
    card(c[0], "profit_per_decision", money_card("profit_per_decision"),
         widgets.pct_change(table.loc["profit_per_decision", "value"], table.loc["profit_per_decision", "previous"]),
         help_text="Realised profit divided by the predictions with an outcome.")
    if "demographic_parity_ratio" in table.index:
        card(c[1], "demographic_parity_ratio", fmt_num(table.loc["demographic_parity_ratio", "value"], 2),
             widgets.diff(table.loc["demographic_parity_ratio", "value"],
                          table.loc["demographic_parity_ratio", "previous"], 2),
             help_text=f"Lowest {definition.selected_label} rate of a {schema.display_name(definition.fairness_attribute)} group divided "
                       f"by the highest (fairlearn's demographic parity ratio; below {parity.dp_ratio:g} fails, "
                       f"{parity.dp_ratio_rule}, as on the Fairness page). Groups "
                       "too small to judge (the fairness.min_group_size setting) are left out, as on the Fairness "
                       "page, so both pages show the same ratio.")
    card(c[2], "opportunity_cost", money_card("opportunity_cost"),
         widgets.pct_change(table.loc["opportunity_cost", "value"], table.loc["opportunity_cost", "previous"]),
         help_text="Value forgone on good cases that were rejected (reported beside profit, not netted into it).")
    card(c[3], "expected_profit", money_card("expected_profit"),
         widgets.pct_change(table.loc["expected_profit", "value"], table.loc["expected_profit", "previous"]),
         help_text="Expected revenue minus expected loss over every selected prediction, scores as probabilities.")
    st.caption(widgets.dollars_as_text(
        f"Realised profit ({money(table.loc['profit', 'value'])}) counts only the {fmt_int(result.labelled)} "
        f"predictions whose outcome has arrived; expected profit ({money(table.loc['expected_profit', 'value'])}) "
        f"is what the model's scores predict for all {fmt_int(result.rows)}, so the two differ until every outcome "
        "is in."))
    if result.labelled == 0:
        st.caption("No outcomes yet in this window, so realised KPIs are empty: outcomes arrive weeks after the "
                   "decision; choose a longer or earlier window in the sidebar.")

    st.subheader("All KPIs")
    shown = result.table.copy()
    for col, signed in (("value", False), ("previous", False), ("change", True), ("target", False),
                        ("vs_target", True)):
        shown[col] = [fmt_measure(v, u, signed=signed) for v, u in zip(shown[col], shown["unit"])]
    widgets.table(
        shown, hide_index=True,
        column_order=["kpi", "value", "previous", "change", "target", "vs_target", "meets_target", "basis"],
        column_config={
            "kpi": st.column_config.TextColumn("KPI", pinned=True),
            "value": st.column_config.TextColumn("Window"),
            "previous": st.column_config.TextColumn("Previous period",
                                                    help=f"The window of equal length before ({ctx.previous_label})"),
            "change": st.column_config.TextColumn("Change", help="Window minus previous period (shares in "
                                                                 "percentage points)"),
            "target": st.column_config.TextColumn("Target", help=f"Business case: {definition.source}"),
            "vs_target": st.column_config.TextColumn("vs target", help="Window minus target"),
            "meets_target": st.column_config.CheckboxColumn("Meets target"),
            "basis": st.column_config.TextColumn("Computed over"),
        })

    # ---- by segment ---------------------------------------------------------------------------------
    st.subheader("By segment")
    options = queries.query(business.breakdown_columns, ctx.model)
    by = None
    if options:
        context.adopt("kpis_by", "kpis_by", options[0], options=options)
        by = st.selectbox("Break down by", options, key="kpis_by", format_func=schema.display_name)
        context.remember("kpis_by", by)
    if by:
        seg = queries.query(business.kpis, ctx.model, now=ctx.now, window=hours, by=by).segments
        if seg.empty:
            widgets.empty_state(f"No predictions in the {ctx.window_label}.", hint="Choose a longer window.")
        else:
            seg = seg.assign(selection_change=(seg["selection_rate"] - seg["selection_rate_previous"]) * 100,
                             selection_rate=seg["selection_rate"] * 100, bad_rate_selected=seg["bad_rate_selected"] * 100)
            widgets.table(seg, hide_index=True,
                          column_order=["segment", "predictions", "selection_rate", "selection_change", "bad_rate_selected",
                                        "expected_loss", "profit", "profit_per_decision", "labelled"],
                          column_config={
                              "segment": st.column_config.TextColumn(schema.display_name(by), pinned=True),
                              "predictions": st.column_config.NumberColumn("Predictions", format="localized"),
                              "selection_rate": st.column_config.NumberColumn(
                                  f"{definition.selected_label.capitalize()} rate (%)", format="%.1f"),
                              "selection_change": st.column_config.NumberColumn("Change (pp)", format="%+.1f",
                                                                                help=ctx.previous_label),
                              "bad_rate_selected": st.column_config.NumberColumn(
                                  f"{definition.bad_name.capitalize()} rate among {definition.selected_label} (%)",
                                  format="%.1f"),
                              "expected_loss": st.column_config.NumberColumn(f"Expected loss ({cur})", format="%,.0f"),
                              "profit": st.column_config.NumberColumn(f"Profit ({cur})", format="%,.0f"),
                              "profit_per_decision": st.column_config.NumberColumn(f"Profit per decision ({cur})",
                                                                                   format="%,.0f"),
                              "labelled": st.column_config.NumberColumn("With outcome", format="localized"),
                          })

    # ---- threshold what-if ----------------------------------------------------------------------------
    st.subheader("Threshold what-if")

    @st.fragment
    def whatif() -> None:
        w = queries.query(business.threshold_whatif, ctx.model, window=ctx.as_window().all_rows().between(day_start, ctx.end))
        since = f" (whole UTC days from {day_start:%Y-%m-%d})" if day_start else ""
        st.caption(f"Version {w.version}'s {fmt_int(w.rows)} predictions in the {ctx.window_label}{since} re-decided at "
                   f"each threshold (decline when score ≥ threshold); {fmt_int(w.labelled)} have an outcome. Current "
                   f"threshold {w.current_threshold:.2f}; profit-maximising {w.best_threshold:.2f} "
                   f"({w.best_basis} profit).")
        chosen = st.slider("Threshold", 0.0, 1.0, float(round(w.current_threshold, 2)), 0.01, key="kpis_threshold")
        at, now_row = w.at(chosen), w.at(w.current_threshold)
        m = st.columns(4)
        m[0].metric(f"{definition.selected_label.capitalize()} rate", fmt_pct(at["selection_rate"]),
                    widgets.pp_change(at["selection_rate"], now_row["selection_rate"]), border=True,
                    delta_description="vs current threshold", delta_color="off")
        m[1].metric(f"Expected profit ({cur})", f"{at['expected_profit']:,.0f}",
                    widgets.pct_change(at["expected_profit"], now_row["expected_profit"]), border=True,
                    delta_description="vs current threshold")
        m[2].metric(f"Realised profit ({cur})", "–" if is_missing(at["realised_profit"]) else f"{at['realised_profit']:,.0f}",
                    widgets.pct_change(at["realised_profit"], now_row["realised_profit"]), border=True,
                    delta_description="vs current threshold")
        m[3].metric(f"Parity ratio by {schema.display_name(definition.fairness_attribute or '')}", fmt_num(at["demographic_parity_ratio"], 2),
                    widgets.diff(at["demographic_parity_ratio"], now_row["demographic_parity_ratio"], 2), border=True,
                    delta_description="vs current threshold")
        curve = w.curve
        left, right = st.columns(2)
        with left:
            widgets.plot(business_views.profit_curve(w, chosen=chosen, currency=cur, window_label=ctx.window_label),
                         key="kpis_profit_curve")
        with right:
            widgets.plot(business_views.rate_curve(w, parity, chosen=chosen, selected_label=definition.selected_label,
                                                   window_label=ctx.window_label), key="kpis_rate_curve")
        st.download_button("Download the curve (CSV)", curve.to_csv(index=False).encode(), "threshold_whatif.csv",
                           "text/csv", key="kpis_curve_download")

    whatif()

    # ---- champion vs challenger ---------------------------------------------------------------------
    st.subheader("Champion against challenger")
    comp = queries.query(business.champion_challenger, ctx.model, now=ctx.now, window=ctx.as_window(filtered=False))
    if comp.table.empty:
        widgets.empty_state(f"No champion and challenger both served in the {ctx.window_label}.",
                            hint="A shadow or challenger version appears here once it logs predictions beside the "
                                 "champion; choose a longer window to include its period.")
    else:
        st.caption(f"Same traffic: {comp.start:%Y-%m-%d %H:%M} to {comp.end:%Y-%m-%d %H:%M} UTC, when both logged · "
                   f"{comp.champion}: {fmt_int(comp.rows[comp.champion])} predictions, {comp.challenger}: "
                   f"{fmt_int(comp.rows[comp.challenger])}. A shadow version's decisions are what it would have decided.")
        shown = comp.table.copy()
        for col in ("champion", "challenger", "difference"):
            shown[col] = [v * 100 if u == "%" else v for v, u in zip(shown[col], shown["unit"])]
        widgets.table(shown, hide_index=True, column_order=["measure", "unit", "champion", "challenger", "difference"],
                      column_config={
                          "measure": st.column_config.TextColumn("Measure", pinned=True),
                          "unit": st.column_config.TextColumn("Unit", width="small"),
                          "champion": st.column_config.NumberColumn(f"Champion {comp.champion}", format="%,.4g"),
                          "challenger": st.column_config.NumberColumn(f"Challenger {comp.challenger}", format="%,.4g"),
                          "difference": st.column_config.NumberColumn("Challenger − champion", format="%+,.4g"),
                      })

# ---- the definition (admins change it) -------------------------------------------------------------
st.subheader("Value matrix and targets")
if definition is not None:
    st.caption(f"Kept in the store; source: {definition.source or 'not stated'}")
    widgets.table(pd.DataFrame({
        "cell": [f"{definition.selected_label}, good", f"{definition.selected_label}, {definition.bad_name}",
                  "rejected, good", f"rejected, {definition.bad_name}"],
        "value": [definition.value_selected_good, definition.value_selected_bad, definition.value_rejected_good,
                   definition.value_rejected_bad],
        "unit": definition.unit(schema)}), hide_index=True,
        column_config={"cell": "Decision, outcome", "value": st.column_config.NumberColumn("Value", format="%g"),
                        "unit": "Unit"})
if actor.can("change_settings"):
    with st.expander("Change the value matrix and targets (admin)", expanded=definition is None):
        base = definition
        with st.form("kpis_definition"):
            f = st.columns(3)
            currency = f[0].text_input("Currency", base.currency if base else "USD", key="kpis_def_currency")
            amount = f[1].text_input("Amount column (blank: absolute values)",
                                     (base.amount_column or "") if base else "", key="kpis_def_amount")
            fairness = f[2].text_input("Fairness attribute", (base.fairness_attribute or "") if base else "",
                                       key="kpis_def_fairness")
            f = st.columns(4)
            sel_decision = f[0].selectbox("Selected decision value", [0, 1],
                                          index=base.selected_decision if base else 0, key="kpis_def_sel")
            sel_label = f[1].text_input("Selection is called", base.selected_label if base else "approved",
                                        key="kpis_def_sel_label")
            bad_label = f[2].selectbox("Bad outcome label", [0, 1], index=base.bad_label if base else 1,
                                       key="kpis_def_bad")
            bad_name = f[3].text_input("Bad outcome is called", base.bad_name if base else "default",
                                       key="kpis_def_bad_name")
            f = st.columns(4)
            v_sg = f[0].number_input("Selected, good", value=base.value_selected_good if base else 0.0,
                                     format="%g", key="kpis_def_sg")
            v_sb = f[1].number_input("Selected, bad (≤ 0)", value=base.value_selected_bad if base else 0.0,
                                     format="%g", key="kpis_def_sb")
            v_rg = f[2].number_input("Rejected, good (≤ 0)", value=base.value_rejected_good if base else 0.0,
                                     format="%g", key="kpis_def_rg")
            v_rb = f[3].number_input("Rejected, bad", value=base.value_rejected_bad if base else 0.0,
                                     format="%g", key="kpis_def_rb")
            targets = dict(base.targets) if base else {}
            f = st.columns(len(business.TARGET_KPIS))
            new_targets = {}
            for col, key in zip(f, business.TARGET_KPIS):
                value = col.number_input(f"Target: {key}", value=targets.get(key), format="%g", key=f"kpis_def_t_{key}")
                if value is not None:
                    new_targets[key] = float(value)
            source = st.text_input("Source of the numbers", base.source if base else "", key="kpis_def_source")
            if st.form_submit_button("Save", key="kpis_def_submit"):
                with widgets.error_boundary("the KPI definition"):
                    new = business.KpiDefinition(
                        model=ctx.model, currency=currency.strip(), selected_decision=int(sel_decision),
                        selected_label=sel_label.strip(), bad_label=int(bad_label), bad_name=bad_name.strip(),
                        amount_column=amount.strip() or None, value_selected_good=float(v_sg),
                        value_selected_bad=float(v_sb), value_rejected_good=float(v_rg), value_rejected_bad=float(v_rb),
                        fairness_attribute=fairness.strip() or None, targets=new_targets, source=source.strip())
                    actions.act("the KPI definition", lambda con: business.save_definition(con, actor, new),
                                "Saved; the change is in the audit trail.")
