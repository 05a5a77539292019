"""Drift: verdicts per column, each column's distributions side by side, drift over time, multivariate view."""

from __future__ import annotations

import streamlit as st

from analytics import drift, settings_catalog
from app import auth, context, drift_views, queries, widgets
from app.widgets import fmt_int

auth.require("read")
ctx = context.current()

st.title("Drift")
if not ctx.model:
    widgets.empty_state("No model is registered yet.", hint="Build the demo with `vigil demo`, or register a model.")
    st.stop()

st.caption(f"**{ctx.model}** · {ctx.filter_label} · {ctx.window_label}. Each column of the log and the score, "
           "compared with a baseline; heavy work runs inside DuckDB. All times UTC.")

BASELINES = {"reference": "Reference data of the version (its validation set)",
             "previous": "The window of the same length just before"}
context.adopt("drift_baseline", "drift_baseline", "reference", options=list(BASELINES))
baseline = st.segmented_control("Compare against", list(BASELINES), format_func=BASELINES.get,
                                key="drift_baseline") or "reference"
context.remember("drift_baseline", baseline)
window = ctx.as_window()
earlier = window.previous(ctx.now) if baseline == "previous" else None
if baseline == "previous" and earlier is None:
    widgets.empty_state("'All time' has no window before it.",
                        hint="Choose a bounded window in the sidebar, or compare against the reference data.")
    st.stop()

filters = dict(window=window, baseline=earlier)
result = queries.query(drift.drift_summary, ctx.model, **filters)
if result.table.empty:
    widgets.empty_state(f"No predictions of {ctx.model} ({ctx.filter_label}) in the {ctx.window_label}.",
                        hint="Choose a longer time window, or another version or segment, in the sidebar.")
    st.stop()

table = result.table.copy()
table["verdict"] = table["drifted"].map(drift.verdict_word)
drifted = result.drifted_columns

# ---- headline -----------------------------------------------------------------------------------
cards = st.columns(3)
cards[0].metric("Columns drifted", f"{len(drifted)} of {len(table)}", border=True,
                help="Columns whose statistic crossed its threshold (see the Method column).")
cards[1].metric("Current rows", fmt_int(result.n_current_rows), border=True, help=result.current_label)
cards[2].metric("Baseline rows", fmt_int(result.n_reference_rows), border=True, help=result.reference_label)
st.caption(f"Baseline: {result.reference_label}. Current: {result.current_label}.")
if result.summary_note:
    st.caption(result.summary_note)
for column, why in result.left_out.items():
    st.info(f"**{column}** is left out: {why}.", icon=":material/filter_alt:")

# ---- summary table ------------------------------------------------------------------------------
st.subheader("Verdicts per column")
widgets.table(
    table.assign(_order=table["verdict"].map({w: i for i, w in enumerate(drift.VERDICT_WORDS.values())}))
    .sort_values(["_order", "column"]).drop(columns="_order"),
    hide_index=True,
    column_order=["column", "verdict", "kind", "role", "method", "statistic", "tolerance", "p_value", "threshold",
                   "n_reference", "n_current", "missing_reference", "missing_current", "unseen_categories", "note"],
    column_config={
        "column": st.column_config.TextColumn("Column", pinned=True),
        "verdict": st.column_config.TextColumn("Verdict"),
        "kind": st.column_config.TextColumn("Kind", help="numerical: numeric with more than 5 distinct values"),
        "role": st.column_config.TextColumn("Role"),
        "method": st.column_config.TextColumn(
            "Method", help="Chosen as Evidently does: numerical -> KS up to 1,000 baseline rows, normalised "
                            "Wasserstein above; categorical -> chi-square up to 1,000, Jensen-Shannon above."),
        "statistic": st.column_config.NumberColumn("Statistic", format="%.4f"),
        "tolerance": st.column_config.NumberColumn(
            "± tolerance", format="%.4f",
            help="KS and Wasserstein are computed on 1,000 fine bins per column: the exact value is within this "
                  "of the statistic (KS: at most this much above it). 0 means exact."),
        "p_value": st.column_config.NumberColumn("p-value", format="%.4g", help="KS and chi-square only"),
        "threshold": st.column_config.NumberColumn(
            "Threshold", format="%.3g", help="p-value methods drift below it, distances at or above it"),
        "n_reference": st.column_config.NumberColumn("Baseline values", format="localized"),
        "n_current": st.column_config.NumberColumn("Current values", format="localized"),
        "missing_reference": st.column_config.NumberColumn("Missing (baseline)", format="localized"),
        "missing_current": st.column_config.NumberColumn("Missing (current)", format="localized"),
        "unseen_categories": st.column_config.TextColumn("Not in baseline"),
        "note": st.column_config.TextColumn("Note"),
    }
)
st.download_button("Download verdicts (CSV)", table.drop(columns=["period"]).to_csv(index=False),
                   file_name=f"drift-{ctx.model}.csv", mime="text/csv", icon=":material/download:")

# ---- distributions side by side -----------------------------------------------------------------
st.subheader("Distributions")
columns = list(table["column"])
context.adopt("drift_column", "drift_column", drifted[0] if drifted else columns[0], options=columns)
picked = st.selectbox("Column", columns, key="drift_column")
context.remember("drift_column", picked)
distribution = drift_views.distribution(result, picked, window_label=ctx.window_label)
if distribution is None:
    widgets.empty_state(f"{picked} has no values to draw.")
else:
    widgets.plot(distribution, key="drift_hist")

# ---- drift over time ----------------------------------------------------------------------------


@st.fragment
def over_time() -> None:
    st.subheader("Drift over time")
    left, right = st.columns([3, 1])
    chosen = left.multiselect("Columns", columns, default=(drifted or columns)[:3], key="drift_time_columns",
                              max_selections=6)
    context.adopt("drift_per", "drift_freq", "week", options=["day", "week"])
    freq = right.segmented_control("Per", ["day", "week"], key="drift_freq") or "week"
    context.remember("drift_per", freq)
    if not chosen:
        widgets.empty_state("Choose at least one column.")
        return
    over = queries.query(drift.drift_over_time, ctx.model, freq=freq, columns=tuple(chosen), **filters)
    if over.table.empty:
        widgets.empty_state("No rows in this window.")
        return
    for method, fig in drift_views.over_time(over, freq=freq, window_label=ctx.window_label).items():
        widgets.plot(fig, key=f"drift_time_{method}")


over_time()

# ---- multivariate -------------------------------------------------------------------------------


@st.fragment
def multivariate() -> None:
    st.subheader("Multivariate drift")
    st.caption("A classifier trained to tell baseline rows from current rows (5-fold cross-validated ROC AUC; "
               "0.5 = indistinguishable) and the PCA reconstruction error, as NannyML computes it. Both use "
               "deterministic samples of at most 5,000 rows per side, stated below.")
    if not st.toggle("Compute (takes a few seconds)", key="drift_mv"):
        return
    with st.spinner("Training the domain classifier (5 folds) and fitting the PCA reconstruction on samples of "
                    "the baseline and current rows…", show_time=True):
        mv = queries.query(drift.multivariate_drift, ctx.model, **filters)
    widgets.table(mv.as_frame(), hide_index=True, column_config={
        "method": st.column_config.TextColumn("Method"),
        "statistic": st.column_config.NumberColumn("Value", format="%.4f"),
        "threshold": st.column_config.TextColumn("Drift when"),
        "drifted": st.column_config.CheckboxColumn("Drifted")})
    st.caption(f"Samples: {fmt_int(mv.n_reference_sample)} of {fmt_int(mv.n_reference_rows)} baseline rows and "
               f"{fmt_int(mv.n_current_sample)} of {fmt_int(mv.n_current_rows)} current rows (seed {mv.seed}); "
               f"{len(mv.columns)} input columns. Fold AUCs: {', '.join(f'{a:.3f}' for a in mv.domain_auc_folds)}."
               + "".join(f" {column} is left out: {why}." for column, why in mv.left_out.items())
               + (f" {mv.summary_note}" if mv.summary_note else ""))


multivariate()
th = queries.query(settings_catalog.thresholds, ctx.model)
st.caption(f"Thresholds for {ctx.model} (admins change them on the Settings page): PSI {th.psi:g} "
           f"({th.psi_warning:g} a moderate shift), KS p < {th.ks_p_value:g}, chi-square "
           f"p < {th.chisquare_p_value:g}, Jensen-Shannon distance {th.jensenshannon:g}, "
           f"normalised Wasserstein {th.wasserstein:g}, domain classifier AUC outside "
           f"{th.domain_classifier_band}.")
