"""Vigil's Streamlit plumbing: the entry script, sign-in and roles, the shared context, theme and widgets.

``app`` sits between the pages and the engine: ``pages -> app -> analytics``. Nothing in
``analytics`` imports it.
"""
