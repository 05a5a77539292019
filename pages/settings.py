"""Admin > Settings: every threshold and target with its meaning, default, global value and per-model
overrides. Admins change or reset a value here (globally or for one model); others read them.

Every change goes through analytics.settings with the signed-in actor, which checks the role and the
allowed range again and writes the audit row (old and new value) in the same transaction.
"""

from __future__ import annotations

import streamlit as st

from analytics import config, registry, settings, settings_catalog
from app import auth, queries, widgets
from app.actions import PageActions

actor = auth.require("read")
actions = PageActions(config.db_path(), "settings_done")

st.title("Settings")
st.caption("Thresholds and targets the pages and checks use. A model's own value wins over the global value, "
           "which wins over the default. "
           + ("You are an admin: change or reset values below; each change is audited with its old and new value."
              if actor.can("change_settings") else "Read-only: only admins change settings."))

actions.show_done()

with widgets.error_boundary("the settings"):
    table = queries.read(settings_catalog.overview)
    widgets.table(table, hide_index=True, key="settings_table",
                  column_order=["key", "global_value", "default", "overrides", "allowed", "description"],
                  column_config={"key": st.column_config.TextColumn("Setting", pinned=True),
                                 "global_value": "Global value", "default": "Default",
                                 "overrides": st.column_config.TextColumn("Per-model values"),
                                 "allowed": "Allowed", "description": st.column_config.TextColumn("Meaning",
                                                                                                  width="large")})

    if actor.can("change_settings"):
        st.subheader("Change a setting")
        known = settings_catalog.catalog()
        models = [m.name for m in queries.read(registry.list_models)]
        left, right = st.columns(2)
        key = left.selectbox("Setting", sorted(known), key="settings_key")
        scope = right.selectbox("For", ["all models (global)", *models], key="settings_scope")
        model = None if scope.startswith("all models") else scope
        setting = known[key]
        current = queries.read(settings.get, key, model=model)
        st.caption(f"{setting.description}. Allowed: {setting.allowed()}. Now "
                   f"{settings.format_value(setting, current)}; default {settings.format_value(setting, setting.default)}.")
        text = st.text_input("New value", key="settings_value", placeholder=str(current))
        set_col, unset_col = st.columns(2)
        if set_col.button("Save", key="settings_save", type="primary"):
            with widgets.error_boundary("the setting"):
                value = setting.parse(text)
                actions.act("the setting", lambda con: settings.set_value(con, actor, key, value, model=model),
                            f"{key} = {settings.format_value(setting, value)} "
                            f"{'for ' + model if model else 'globally'} (audited).")
        if unset_col.button("Reset", key="settings_unset", help="remove this value: a model falls back to the global "
                            "value, the global value to the default"):
            actions.act("the setting", lambda con: settings.unset(con, actor, key, model=model),
                        lambda after: f"{key} reset {'for ' + model if model else 'globally'}; now "
                                      f"{settings.format_value(setting, after)} (audited).")
