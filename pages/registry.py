"""Govern > Registry: every model and version with status, lineage, risk tier, model card, deployment
history, and each version's governance dossier (HTML, PDF) to download."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import config, governance, registry
from app import auth, context, governance_views, queries, theme, widgets
from app.actions import PageActions

actor = auth.require("read")
ctx = context.current()
actions = PageActions(config.db_path(), "registry_card_done")

st.title("Registry")
st.caption("Every registered model and version: lifecycle status, lineage, risk tier, model card and which version "
           "served which role when. Lifecycle steps are taken on the Approvals page. Times are UTC.")

with widgets.error_boundary("the registry"):
    table = queries.read(governance.registry_table)
    if table.empty:
        widgets.empty_state("No model is registered yet.",
                            hint="Build the demo with `vigil demo`, or register a model with the `vigil` CLI.",
                            icon=":material/inventory_2:")
        st.stop()

    models = sorted(table["model"].unique())
    model = st.selectbox("Model", models, index=models.index(ctx.model) if ctx.model in models else 0,
                         key="registry_model")
    versions = table[table["model"] == model]

    tier = queries.read(governance.risk_tier, model)
    card = queries.read(governance.model_card, model)
    deployments = queries.read(governance.deployment_history, model)
    history = queries.read(governance.approval_history, model)

    cols = st.columns(4)
    champion = versions[versions["status"] == "champion"]["version"].tolist()
    cols[0].metric("Risk tier", tier["risk_tier"] if tier else "not set", border=True,
                   help=(tier["rationale"] if tier else "An approver or admin sets the tier with its rationale."))
    cols[1].metric("Champion", ", ".join(champion) or "none", border=True)
    cols[2].metric("Versions", len(versions), border=True)
    cols[3].metric("Waiting for a decision", int(versions["status"].isin(["submitted", "in_review"]).sum()),
                   border=True, help="Versions submitted or in review")

    st.subheader("Versions")
    widgets.table(
        versions.assign(status=versions["status"].map(registry.status_text)), hide_index=True, key="registry_versions",
        column_order=["version", "status", "serving_role", "traffic_share", "validation_roc_auc", "parent_version",
                       "owner", "created_at", "threshold", "training_fingerprint", "artifact_sha256", "description"],
        column_config={
            "version": st.column_config.TextColumn("Version", pinned=True),
            "status": st.column_config.TextColumn("Status", help="Lifecycle state"),
            "serving_role": st.column_config.TextColumn("Serving as"),
            "traffic_share": st.column_config.NumberColumn("Traffic share", format="percent"),
            "validation_roc_auc": st.column_config.NumberColumn("Validation ROC AUC", format="%.4f"),
            "parent_version": st.column_config.TextColumn("Parent"),
            "owner": st.column_config.TextColumn("Owner"),
            "created_at": st.column_config.DatetimeColumn("Registered (UTC)", format="YYYY-MM-DD"),
            "threshold": st.column_config.NumberColumn("Decision threshold", format="%.3f"),
            "training_fingerprint": st.column_config.TextColumn("Training-data fingerprint"),
            "artifact_sha256": st.column_config.TextColumn("Artifact sha256"),
            "description": st.column_config.TextColumn("Description"),
        })

    st.subheader("Deployment history")
    if deployments.empty:
        widgets.empty_state("No version of this model has served traffic yet.",
                            hint="Promote an approved version on the Approvals page.")
    else:
        theme.register()
        widgets.plot(governance_views.deployment_timeline(deployments, now=ctx.now), key="registry_timeline")
        widgets.table(deployments, hide_index=True, key="registry_deployments",
                      column_order=["version", "role", "traffic_share", "started_at", "ended_at", "started_by",
                                    "ended_by"],
                      column_config={"version": "Version", "role": "Role",
                                     "traffic_share": st.column_config.NumberColumn("Traffic share", format="percent"),
                                     "started_at": st.column_config.DatetimeColumn("From (UTC)"),
                                     "ended_at": st.column_config.DatetimeColumn("Until (UTC)"),
                                     "started_by": "Started by", "ended_by": "Ended by"})

    st.subheader("Model card")
    if not card:
        widgets.empty_state("No model card has been written for this model.",
                            hint="Write it below (roles that register models), or with `vigil models card "
                                 f"{model} --file card.toml` (docs/model-card.md).")
    else:
        for key in ("intended_use", "out_of_scope", "limitations", "evaluation", "ethical_considerations"):
            if card.get(key):
                st.markdown(f"**{key.replace('_', ' ').capitalize()}.** {card[key]}")
        if card.get("data"):
            st.markdown("**Data**")
            data = pd.DataFrame(card["data"])
            widgets.table(data, hide_index=True, key="registry_card_data",
                          column_config={c: c.replace("_", " ").capitalize() for c in data.columns})

    if actor.can("register_model") or actor.can("approve"):
        with st.expander("Edit the model card and risk tier", icon=":material/edit:"):
            st.caption("The card as a card file (TOML; fields and an example in docs/model-card.md, the same file "
                       f"`vigil models card {model} --file card.toml` reads). The card needs a role that registers "
                       "models, the [risk] table one that approves; every change is audited.")
            text = st.text_area("Card file", queries.read(governance.card_to_toml, model), height=320,
                                key=f"registry_card_text_{model}")
            if st.button("Save the card", key="registry_card_save", type="primary"):
                with widgets.error_boundary("the model card"):
                    checked = governance.parse_card(text)
                    actions.act("the model card", lambda con: governance.apply_card(con, actor, model, checked),
                                lambda changed: ("; ".join(changed) + " (audited)") if changed else
                                "Nothing changed: the stored card is already as written.")
    actions.show_done()

    st.subheader("Lifecycle history")
    widgets.table(history.assign(from_status=history["from_status"].map(registry.status_text, na_action="ignore"),
                                 to_status=history["to_status"].map(registry.status_text, na_action="ignore")),
                  hide_index=True, key="registry_history",
                  column_order=["occurred_at", "version", "from_status", "to_status", "actor", "role", "comment",
                                "audit_seq"],
                  column_config={"occurred_at": st.column_config.DatetimeColumn("When (UTC)"), "version": "Version",
                                 "from_status": "From", "to_status": "To", "actor": "By", "role": "Role",
                                 "comment": "Comment",
                                 "audit_seq": st.column_config.NumberColumn("Audit row", format="%d")})

    st.subheader("Governance dossier")
    version = st.selectbox("Version", versions["version"].tolist()[::-1], key="registry_dossier_version")
    st.caption("Model card, evidence pack with its charts, approval and deployment history, audit extract and the "
               "audit chain's status, as one self-contained HTML file or as PDF.")
    if st.button("Prepare the dossier", key="registry_dossier_prepare"):
        with st.status(f"Preparing the dossier of {model} {version}…", expanded=True) as progress:
            st.write("Reading the model card, the stored evidence pack, the approval and deployment history and "
                     "the audit extract, and verifying the audit chain…")
            document = queries.read(governance.dossier_html, model, version)
            st.write("Printing the PDF with headless Chromium…")
            prepared = queries.printed_dossier(model, version, document)
            st.session_state["registry_dossier"] = prepared
            if prepared.pdf is not None:
                progress.update(label=f"The dossier of {model} {version} is ready", state="complete",
                                expanded=False)
            else:
                progress.update(label=f"The HTML dossier of {model} {version} is ready; the PDF could not be "
                                      "printed", state="error", expanded=False)
    # Reruns offer what was prepared; only the button above reads the store for it and prints it.
    prepared = st.session_state.get("registry_dossier")
    if prepared and (prepared.model, prepared.version) == (model, version):
        left, right = st.columns(2)
        left.download_button("Download HTML", prepared.html, file_name=f"dossier-{model}-{version}.html",
                             mime="text/html", key="registry_dossier_html")
        if prepared.pdf is not None:
            right.download_button("Download PDF", prepared.pdf, file_name=f"dossier-{model}-{version}.pdf",
                                  mime="application/pdf", key="registry_dossier_pdf")
        else:
            right.warning(f"The PDF could not be printed here ({prepared.pdf_problem}); the HTML prints to PDF "
                          "from any browser.")
