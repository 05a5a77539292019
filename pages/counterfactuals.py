"""Counterfactuals: for one prediction, the smallest changes that flip the decision under the
schema's constraints (several diverse answers, each re-scored by the model), and a what-if editor."""

from __future__ import annotations

import streamlit as st

from analytics import explain, overview
from app import auth, context, explain_views, queries, widgets

actor = auth.require("investigate")
ctx = context.current()
st.title("Counterfactuals")
if not ctx.model:
    widgets.empty_state("No model is registered yet.", hint="Build the demo with `vigil demo`.")
    st.stop()

with widgets.error_boundary("the counterfactuals"):
    version = queries.query(explain.default_version, ctx.model, ctx.version)
    declined = queries.query(overview.model_schema, ctx.model).decision_text(1)
    recent = queries.query(explain.find_predictions, ctx.model, version=version, start=ctx.start, end=ctx.end,
                           decision=1, limit=50)
    context.adopt("prediction_id", "cf_prediction", recent["prediction_id"].iloc[0] if not recent.empty else "")
    pid = st.text_input("Prediction id", key="cf_prediction",
                        help=f"Defaults to the latest prediction of this version in the window whose decision was "
                             f"'{declined}' (decision 1).").strip()
    context.remember("prediction_id", pid or None)
    if not pid:
        widgets.empty_state(f"No prediction of {version} with decision '{declined}' (1) in the {ctx.window_label}.",
                            hint="Enter a prediction id, or choose a longer window in the sidebar.")
        st.stop()
    row = queries.query(explain.prediction_row, ctx.model, pid)
    served = str(row["model_version"])
    ref = explain.reference_space(None, ctx.model, served)
    model, space = ref.model, ref.space
    info = model.info
    answers = st.slider("Answers", 1, 5, 3, key="cf_answers", help="Diverse answers: each later one may not use the "
                        "input changed most by an earlier one.")
    result = queries.query(explain.counterfactuals_for, ctx.model, pid, answers=int(answers))
    masked = not actor.can("see_sensitive_rows")
    decision_note = info.schema.notes.get("decision", f"1 = {info.schema.positive_class}")
    cols = st.columns(3)
    cols[0].metric("Score", f"{result.original_score:.4f}", border=True, help="Re-scored by the registered model")
    cols[1].metric("Threshold", f"{result.threshold:.3f}", border=True)
    cols[2].metric("Decision", info.schema.decision_text(result.original_decision), border=True,
                   help=f"Logged decision {result.original_decision}. {decision_note}")
    st.caption(f"{ctx.model} {served} · prediction {pid} · constraints from the schema: immutable "
               f"{', '.join(n for n, f in space.items() if f.mutability == 'immutable') or 'none'}; may only rise "
               f"{', '.join(n for n, f in space.items() if f.mutability == 'increase_only') or 'none'}; changed values "
               "stay within the reference data's range.")
    shown = explain.CounterfactualSet(result.answers, explain.mask_sensitive(
        result.changes, info.schema, actor, feature_column="feature", value_columns=("before", "after")),
        result.rows, result.original_score, result.original_decision, result.threshold)
    st.subheader("Smallest changes that flip the decision")
    explain_views.counterfactual_tables(shown, key="cf", schema=info.schema)

    st.subheader("What if")
    sensitive = {c.name for c in info.schema.sensitive}
    editable = [f for f in model.features if not (masked and f in sensitive)]
    st.caption("Edit the inputs and see the new score and explanation." + (
        f" Sensitive inputs ({', '.join(sorted(sensitive & set(model.features)))}) keep their logged values and are "
        "hidden for your role." if masked else ""))
    original = row[model.features].to_frame().T.reset_index(drop=True)
    config = {}
    for name in editable:
        feature = space[name]
        if feature.kind == "categorical":
            config[name] = st.column_config.SelectboxColumn(name, options=list(feature.candidates))
        else:
            config[name] = st.column_config.NumberColumn(name, help=f"reference range {feature.low:g} to {feature.high:g}")
    edited = st.data_editor(original[editable].astype({n: str for n in editable if space[n].kind == "categorical"}),
                            hide_index=True, key=f"cf_editor_{pid}", column_config=config, num_rows="fixed")
    changes = {n: edited[n].iloc[0] for n in editable if str(edited[n].iloc[0]) != str(original[n].iloc[0])}
    result_if = explain.what_if(model, row, changes, space)
    cols = st.columns(3)
    cols[0].metric("New score", f"{result_if.score:.4f}", delta=f"{result_if.score - result.original_score:+.4f}",
                   delta_color="off", border=True)
    cols[1].metric("New decision", info.schema.decision_text(result_if.decision), border=True,
                   help=f"Decision {result_if.decision}. {decision_note}")
    cols[2].metric("Inputs changed", str(len(changes)), border=True)
    for note in result_if.violations:
        st.warning(f"Outside the counterfactual constraints: {note}", icon=":material/rule:")
    shown_if = explain.LocalExplanation(
        explain.mask_sensitive(result_if.explanation.table, info.schema, actor, feature_column="feature"),
        result_if.explanation.base_value, result_if.explanation.raw_output, result_if.explanation.score)
    explain_views.waterfall(shown_if, key="cf_waterfall", schema=info.schema,
                            title=f"Why the edited row scores {result_if.score:.3f}<br><sup>SHAP, log-odds · 1 row</sup>")
