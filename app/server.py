"""Vigil's server: ``streamlit run app/server.py`` (from the repository root).

The app itself is ``app/main.py``; this file serves it as an ``st.App`` so that it can add one HTTP
route of its own, the one that sets the HttpOnly session cookie (see :mod:`app.session_cookie`).
"""

from __future__ import annotations

import streamlit as st

from app import session_cookie

app = st.App("main.py", routes=session_cookie.routes())
