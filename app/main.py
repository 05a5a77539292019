"""Vigil's entry script, served by ``streamlit run app/server.py`` (from the repository root).

On every run: check the store exists, find the signed-in actor, build the navigation for that
actor's role from :data:`app.navigation.PAGES` (a page the role may not see is not registered),
draw the shared context in the sidebar and run the chosen page inside the error boundary.
A visitor who is not signed in sees only the sign-in page, whatever the URL.
"""

from __future__ import annotations

import streamlit as st

from analytics import config, store
from app import auth, context, navigation, theme, widgets

config.share_cores()

st.set_page_config(page_title="Vigil", page_icon=":material/monitoring:", layout="wide",
                   initial_sidebar_state="expanded")
theme.register()


def _signed_out() -> None:
    """Register the sign-in page under every page's URL, so a deep link survives signing in."""
    pages = [st.Page(auth.sign_in_page, title="Sign in", icon=":material/login:", url_path=spec.url_path,
                     default=spec.default) for spec in navigation.PAGES]
    st.navigation(pages, position="hidden").run()


def main() -> None:
    db = config.db_path()
    if not db.is_file():
        st.title("Vigil")
        widgets.empty_state(
            f"There is no Vigil database at `{db}` yet.",
            hint="Build the demo portfolio with `make run` (or `vigil demo`), or point the `VIGIL_DB` "
                 "environment variable at an existing Vigil database, then reload this page.",
            icon=":material/database:")
        return
    actor = auth.current_actor()
    if actor is None:
        _signed_out()
        return
    page = st.navigation(navigation.build(actor), position="sidebar", expanded=True)
    with widgets.error_boundary("the context picker"):
        context.render_sidebar()
    auth.render_account(actor)
    with widgets.error_boundary(f"the {page.title} page"):
        page.run()


# One DuckDB instance for the whole run: a page's units of work connect to it instead of opening the file each.
with widgets.error_boundary("Vigil"), store.held(config.db_path()):  # the boundary: never a traceback in the browser
    main()
