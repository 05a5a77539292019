"""Explanations: global SHAP on a seeded sample of the window, attribution drift against the
reference, dependence of one input, and error analysis (where the model errs, leaf by leaf)."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from analytics import explain
from analytics.errors import NotFoundError
from app import auth, context, explain_views, queries, theme, widgets

actor = auth.require("investigate")
ctx = context.current()
st.title("Explanations")
if not ctx.model:
    widgets.empty_state("No model is registered yet.", hint="Build the demo with `vigil demo`.")
    st.stop()

with widgets.error_boundary("the explanations"):
    version = queries.query(explain.default_version, ctx.model, ctx.version)
    with st.expander("Sample", expanded=False):
        cols = st.columns(2)
        rows = cols[0].number_input("Rows sampled from the window", 100, 50_000, 5000, step=500, key="xp_rows",
                                    help="A bounded sample keeps SHAP fast; the default is the setting "
                                         "explain.sample_rows.")
        seed = cols[1].number_input("Seed", 0, 10_000, 0, key="xp_seed", help="The same seed draws the same rows.")
    # The first visit of a window computes SHAP once for the sample and once for the reference: a progress
    # bar names each step; later visits, and the attribution drift below, read the cache.
    sample = {"sample_rows": int(rows), "seed": int(seed)}
    window = ctx.as_window()  # its version: the champion when none is chosen
    info = queries.query(explain.version_info, ctx.model, version)
    steps = [queries.Step(f"SHAP values of up to {int(rows):,} predictions sampled from the {ctx.window_label}",
                          explain.global_explanation, (ctx.model, window), sample)]
    if info.artifact_path:
        steps.append(queries.Step("SHAP values of the reference sample, for attribution drift",
                                  explain.reference_explanation, (ctx.model, version), sample, optional=True))
    glob, reference = [*queries.query_steps(steps), None][:2]
    title = info.schema.display_name  # inputs by their titles in the model's spec, as the other pages show them
    st.caption(f"**{ctx.model}** version **{version}** ({'chosen' if ctx.version else 'the champion by default'}) "
               f"· {ctx.window_label} · SHAP values in log-odds of '{info.schema.positive_class}' "
               f"on a seeded sample of **{glob.rows:,}** of the window's **{glob.window_rows:,}** predictions "
               f"(seed {glob.seed}; source: {'the registered model, hash verified' if glob.source == 'model' else 'attributions logged by the serving system'}). "
               + glob.summary_note)
    if glob.rows == 0:
        widgets.empty_state(f"No prediction of {version} in the {ctx.window_label}.",
                            hint="Choose a longer window or another version in the sidebar.")
        st.stop()

    tab_global, tab_drift, tab_dep, tab_errors = st.tabs(
        ["Global importance", "Attribution drift", "Dependence", "Error analysis"])

    with tab_global:
        explain_views.importance_bars(glob, name=title, window=ctx.window_label, key="xp_importance")
        swarm = glob.beeswarm(top=10)  # 10 inputs x the sample's rows: each input's title looked up once
        explain_views.beeswarm(swarm.assign(feature=swarm["feature"].map({f: title(f) for f in swarm["feature"].unique()})), key="xp_swarm", title=theme.chart_title(
            "Distribution of each input's SHAP values (top 10)", window=ctx.window_label, rows=glob.rows,
            unit="sampled rows"))
        widgets.table(glob.importance.assign(input=glob.importance["feature"].map(title)), hide_index=True,
                      key="xp_importance_table", column_order=["rank", "input", "mean_abs", "share", "mean", "feature"],
                      column_config={"input": "Input", "feature": "Column in the log", "rank": st.column_config.NumberColumn("Rank", width="small"),
            "mean_abs": st.column_config.NumberColumn("Mean |SHAP|", format="%.4f"),
            "share": st.column_config.ProgressColumn("Share", format="percent", min_value=0.0, max_value=1.0),
            "mean": st.column_config.NumberColumn("Mean SHAP", format="%+.4f")})

    with tab_drift:
        if glob.source != "model":
            widgets.empty_state("Attribution drift compares with the reference data, which needs the model itself.",
                                hint="Register the version's artifact to compare with its reference data.")
        else:
            reference = reference or queries.query(explain.reference_explanation, ctx.model, version, **sample)
            drift = explain.attribution_drift(glob, reference, threshold=queries.query(
                explain.attribution_drift_threshold, ctx.model))
            cols = st.columns(3)
            cols[0].metric("Top input, reference", title(drift.top_reference), border=True)
            cols[1].metric("Top input, window", title(drift.top_window), border=True)
            cols[2].metric("Rank correlation (Spearman)", f"{drift.spearman:.3f}", border=True,
                           help="Spearman correlation of the two mean |SHAP| vectors (scipy.stats.spearmanr)")
            if drift.flagged:
                st.warning("Attribution drift: " + "; ".join(
                    f"**{title(r.feature)}** {r.reason}" for r in drift.table[drift.table["flagged"]].itertuples()),
                    icon=":material/warning:")
            else:
                st.success(f"No input became dominant or gained more than {drift.threshold:.0%} of the total "
                           "attribution against the reference.", icon=":material/check_circle:")
            explain_views.attribution_drift_bars(drift, name=title, window=ctx.window_label, rows=glob.rows,
                                                 key="xp_drift")
            st.caption(f"Reference: {reference.rows:,} rows of {version}'s validation data. A feature is flagged when "
                       f"it becomes the top input or its share rises by more than {drift.threshold:.0%} "
                       "(setting explain.drift_share_change).")
            widgets.table(drift.table.assign(feature=drift.table["feature"].map(title)), hide_index=True,
                          key="xp_drift_table", column_config={"feature": "Input",
                "share_reference": st.column_config.NumberColumn("Share ref.", format="percent"),
                "share_window": st.column_config.NumberColumn("Share window", format="percent"),
                "share_change": st.column_config.NumberColumn("Change", format="%+.3f")})

    with tab_dep:
        inputs = glob.importance["feature"].tolist()
        context.adopt("explanations_input", "xp_dep_feature", inputs[0], options=inputs)
        feature = st.selectbox("Input", inputs, key="xp_dep_feature", format_func=title)
        context.remember("explanations_input", feature)
        explain_views.dependence_scatter(glob, feature, name=title, window=ctx.window_label, key="xp_dependence")

    with tab_errors:
        cols = st.columns(2)
        target = cols[0].radio("Error", ["error", "false_negative", "false_positive"], horizontal=True,
                               key="xp_err_target", format_func=lambda t: {
                                   "error": "Any error", "false_negative": "False negatives",
                                   "false_positive": "False positives"}[t])
        depth = cols[1].slider("Tree depth", 1, 5, 3, key="xp_err_depth")
        try:
            with st.spinner("Fitting the error tree to the window's labelled predictions…", show_time=True):
                errors = queries.query(explain.error_analysis, ctx.model, window,
                                       target=target, depth=int(depth), seed=int(seed),
                                       sensitive_inputs=actor.can("see_sensitive_rows"))
        except NotFoundError as exc:  # no labels in the window
            widgets.empty_state(str(exc))
            st.stop()
        st.caption(f"A decision tree (depth {errors.depth}, scikit-learn) fitted to whether the model erred "
                   f"({explain.ERROR_TARGETS[errors.target]}), on {errors.rows:,} labelled predictions sampled from "
                   f"the {ctx.window_label} (seed {errors.seed}); overall rate **{errors.error_rate:.1%}**. Leaves "
                   "sorted by error rate. " + errors.summary_note)
        if errors.left_out:
            st.caption(f"Sensitive attributes ({', '.join(errors.left_out)}) are left out of the tree's inputs: your "
                       f"role ({actor.role}) may not see them for single rows, so no leaf is defined by one and the "
                       "predictions listed below reveal none.")
        widgets.table(errors.leaves, hide_index=True, key="xp_err_leaves", column_config={
            "leaf": st.column_config.NumberColumn("Leaf", width="small"), "rule": None,
            "rule_text": "Segment (the way to the leaf)",
            "rows": st.column_config.NumberColumn("Rows", format="localized"),
            "errors": st.column_config.NumberColumn("Errors", format="localized"),
            "error_rate": st.column_config.ProgressColumn("Error rate", format="percent", min_value=0.0, max_value=1.0),
            "share_of_rows": st.column_config.NumberColumn("Share of rows", format="percent"),
            "share_of_errors": st.column_config.NumberColumn("Share of errors", format="percent")})
        leaf = st.selectbox("Predictions in leaf", errors.leaves["leaf"].tolist(), key="xp_err_leaf",
                            format_func=lambda n: f"leaf {n}: " + errors.leaves.set_index("leaf").loc[n, "rule_text"])
        ids = errors.predictions(int(leaf))
        members = errors.assignments[errors.assignments["leaf"] == int(leaf)].head(500).assign(
            open=lambda f: [f"lookup?{urlencode({'model': ctx.model, 'prediction_id': p})}" for p in f["prediction_id"]])
        st.caption(f"{len(ids):,} sampled predictions in this leaf (first 500 shown); open one in the lookup.")
        widgets.table(members, hide_index=True, key="xp_err_members", column_config={
            "prediction_id": "Prediction", "leaf": None,
            "error": st.column_config.CheckboxColumn("Erred"),
            "open": st.column_config.LinkColumn("Trace", display_text="open in lookup")})
