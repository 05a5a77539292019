"""Admin > Users and roles: list local users, add one, change a role, disable or enable an account.

Every change goes through analytics.users with the signed-in actor, which checks the role again
and writes the audit row in the same transaction.
"""

from __future__ import annotations

import streamlit as st

from analytics import config, users
from analytics.roles import ROLES
from app import auth, queries, widgets
from app.actions import PageActions

actor = auth.require("manage_users")
actions = PageActions(config.db_path(), "users_done")
_NEW_PASSWORD = "users_new_password"

st.title("Users and roles")
st.caption("Local accounts stored in Vigil. Passwords are kept only as argon2 hashes. Every change below is "
           "checked against your role and recorded in the audit trail. Times are UTC.")

# ---- the password of a user just added, shown once ---------------------------------------------
created = st.session_state.pop(_NEW_PASSWORD, None)
if created:
    name, password = created
    st.success(f"User **{name}** was created. Give them this password now: it is shown only once and "
               "cannot be recovered (an admin can only create a new account).", icon=":material/key:")
    st.code(password, language=None)
actions.show_done()

frame = queries.read(users.list_users)

if frame.empty:
    widgets.empty_state("There are no local users yet.",
                        hint="Add the first one below, or with `vigil users add <name> --role <role>`.")
else:
    counts = frame["role"].value_counts()
    st.caption(" · ".join(f"{counts.get(r, 0)} {r}" for r in ROLES)
               + f" · {int(frame['disabled'].sum())} disabled")
    widgets.table(
        frame,
        hide_index=True,
        column_order=["username", "display_name", "email", "role", "disabled", "failed_attempts", "locked_until",
                       "last_login_at", "created_at"],
        column_config={
            "username": st.column_config.TextColumn("Username", pinned=True),
            "display_name": st.column_config.TextColumn("Name"),
            "email": st.column_config.TextColumn("E-mail"),
            "role": st.column_config.TextColumn("Role"),
            "disabled": st.column_config.CheckboxColumn("Disabled"),
            "failed_attempts": st.column_config.NumberColumn("Failed sign-ins", format="%d",
                                                              help="Consecutive failures since the last success"),
            "locked_until": st.column_config.DatetimeColumn("Locked until (UTC)", format="YYYY-MM-DD HH:mm"),
            "last_login_at": st.column_config.DatetimeColumn("Last sign-in (UTC)", format="YYYY-MM-DD HH:mm"),
            "created_at": st.column_config.DatetimeColumn("Created (UTC)", format="YYYY-MM-DD HH:mm"),
        }
    )

names = frame["username"].tolist() if not frame.empty else []
add, change, access = st.columns(3, gap="large")

# ---- add a user ---------------------------------------------------------------------------------
with add:
    st.subheader("Add a user")
    with st.form("users_add", clear_on_submit=True):
        username = st.text_input("Username", help="2-64 lower-case letters, digits, '.', '-' or '_'",
                                 key="users_add_username")
        display_name = st.text_input("Display name (optional)", key="users_add_display_name")
        email = st.text_input("E-mail (optional)", key="users_add_email")
        role = st.selectbox("Role", ROLES, key="users_add_role")
        submitted = st.form_submit_button("Create user", type="primary", key="users_add_submit")
    if submitted:
        name = username.strip()
        actions.act("adding the user", lambda con: users.add_user(con, actor, name, role,
                                                                  display_name=display_name.strip() or None,
                                                                  email=email.strip() or None),
                    "", remember=lambda password: {_NEW_PASSWORD: (name, password)})

# ---- change a role ------------------------------------------------------------------------------
with change:
    st.subheader("Change a role")
    if not names:
        st.caption("Add a user first.")
    else:
        with st.form("users_role"):
            who = st.selectbox("User", names, key="users_role_user")
            new_role = st.selectbox("New role", ROLES, key="users_role_role")
            submitted = st.form_submit_button("Set role", key="users_role_submit")
        if submitted:
            actions.act("changing the role", lambda con: users.set_role(con, actor, who, new_role),
                        f"{who} is now {new_role}.")

# ---- disable or enable --------------------------------------------------------------------------
with access:
    st.subheader("Disable or enable")
    if not names:
        st.caption("Add a user first.")
    else:
        with st.form("users_access"):
            who = st.selectbox("User", names, key="users_access_user")
            left, right = st.columns(2)
            disable = left.form_submit_button("Disable", key="users_disable_submit")
            enable = right.form_submit_button("Enable", key="users_enable_submit")
        if disable or enable:
            actions.act("changing the account", lambda con: users.set_disabled(con, actor, who,
                                                                               disabled=bool(disable)),
                        f"{who} is {'disabled' if disable else 'enabled'}.")
        st.caption("A disabled user cannot sign in. Enabling also clears a lock-out after failed sign-ins.")
