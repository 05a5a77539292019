"""Writes from a page: run the audited write, remember what was done, rerun, and say it on the next run.

A page acts through :class:`PageActions` so that every write shows its outcome the same way: the
write runs inside :func:`app.widgets.error_boundary` (a refused or invalid action becomes a message,
never a traceback), and the confirmation survives the rerun that redraws the page with the new state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from analytics.store import write
from app import queries, widgets


@dataclass(frozen=True)
class PageActions:
    """The writes of one page: its store and the session key its confirmation is kept under.

    Parameters
    ----------
    db : Path
        The store the page writes to.
    done_key : str
        Session-state key of the confirmation shown after the rerun (one per page).
    after : callable, optional
        Called with ``db`` after each committed write (e.g. sending the notifications it queued).
    """

    db: Path
    done_key: str
    after: Callable[[Path], Any] | None = None

    def show_done(self) -> None:
        """Show the confirmation of the action that caused this run, once."""
        done = st.session_state.pop(self.done_key, None)
        if done:
            st.success(done, icon=":material/task_alt:")

    def act(self, what: str, work: Callable[[Any], Any], message: str | Callable[[Any], str], *,
            remember: Mapping[str, Any] | Callable[[Any], Mapping[str, Any]] | None = None) -> None:
        """Run ``work(con)`` as one audited write, then rerun the page showing ``message``.

        Parameters
        ----------
        what : str
            Names the action in an error message ("saving the setting").
        work : callable
            ``work(con)``, the analytics write; it checks the permission and audits in its transaction.
        message : str or callable
            The confirmation shown after the rerun, or a function of ``work``'s result that returns it
            (an empty text shows nothing).
        remember : mapping or callable, optional
            Session-state values to set for the rerun (e.g. which item stays selected), or a function of
            ``work``'s result that returns them.

        Cached queries (:mod:`app.queries`) see the write on the rerun.
        """
        with widgets.error_boundary(what):
            result = write(work, self.db)
            if self.after is not None:
                self.after(self.db)
            queries.refresh()
            st.session_state[self.done_key] = message(result) if callable(message) else message
            st.session_state.update((remember(result) if callable(remember) else remember) or {})
            st.rerun()

    def attempt(self, what: str, effect: Callable[[Path], str]) -> None:
        """Run ``effect(db)``, an action that writes nothing to the store, and show what it returns now.

        For an action that must not hold the store while it waits on something else, such as a test
        notification sent to a channel (analytics reads what it needs from ``db`` and lets go before
        it sends). Nothing in the store changed, so the page is not rerun.

        Parameters
        ----------
        what : str
            Names the action in an error message ("the test notification").
        effect : callable
            ``effect(db)`` with the page's store; returns the confirmation to show.
        """
        with widgets.error_boundary(what):
            st.success(effect(self.db), icon=":material/task_alt:")
