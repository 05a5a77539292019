"""Cached calls into analytics: results keyed by store, function, parameters and a data-version token.

Any analytics function whose first parameter is the store (``db``: a path or a connection) can be
cached without writing a wrapper::

    frame = queries.query(overview.portfolio, now=ctx.now, window=ctx.as_window(filtered=False))

The key holds the store path, the function's qualified name, the arguments and
:func:`analytics.store.data_version` (the last committed ingest and the last governance change),
so a result is recomputed after an ingest or an approval and reused otherwise. The token itself is
read at most every :data:`TOKEN_SECONDS`. Arguments must be hashable by ``st.cache_data``
(strings, numbers, datetimes, tuples, frozen dataclasses such as a Window) and results picklable (frames, dicts, lists).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import streamlit as st

from analytics import config, store
from analytics.errors import VigilError

T = TypeVar("T")
TOKEN_SECONDS = 2


@st.cache_data(ttl=TOKEN_SECONDS, show_spinner=False, max_entries=16)
def data_token(db: str) -> str:
    """The store's data-version token, re-read at most every :data:`TOKEN_SECONDS` seconds."""
    return store.data_version(db)


def _resolve(name: str) -> Callable[..., Any]:
    module_name, _, qualname = name.partition(":")
    if not module_name.startswith("analytics."):
        raise ValueError(f"only analytics functions are cached, not {name}")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


@st.cache_data(ttl=3600, max_entries=512, show_spinner=False)
def _cached(name: str, db: str, token: str, args: tuple, kwargs: tuple) -> Any:  # noqa: ARG001 - token keys
    return _resolve(name)(db, *args, **dict(kwargs))


def query(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn(db, *args, **kwargs)`` on the configured store, through the cache."""
    db = str(config.db_path())
    name = f"{fn.__module__}:{fn.__qualname__}"
    return _cached(name, db, data_token(db), tuple(args), tuple(sorted(kwargs.items())))


def refresh() -> None:
    """Forget the data-version token so that the next :func:`query` sees a write this session just made
    (otherwise the token is re-read only after :data:`TOKEN_SECONDS`)."""
    data_token.clear()


def read(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn(con, *args, **kwargs)`` on the configured store for one unit of work, uncached.

    For governance state a page must show as it is now (queues, alerts, users, settings, the audit
    trail): cheap reads whose result changes with each action, sign-in included. ``fn`` is a public
    analytics function whose first parameter is an open connection.
    """
    return store.read(lambda con: fn(con, *args, **kwargs), config.db_path())


@dataclass(frozen=True)
class Step:
    """One cached query of a longer computation: what the user reads while it runs, and the call."""

    label: str
    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: An optional step warms the cache for a later part of the page: if analytics refuses it
    #: (a :class:`~analytics.errors.VigilError`), its result is None and the page says why where it needs it.
    optional: bool = False


def query_steps(steps: Sequence[Step]) -> list[Any]:
    """Run :func:`query` for each step in order under a progress bar that names the step being computed
    ("Step 2 of 3: SHAP values of the reference sample…"); the bar is removed when all are done.

    Cached steps return at once, so a page visited again shows the bar only for an instant.
    """
    bar = st.progress(0.0)
    results = []
    for i, step in enumerate(steps):
        bar.progress(i / len(steps), text=f"Step {i + 1} of {len(steps)}: {step.label}…")
        try:
            results.append(query(step.fn, *step.args, **step.kwargs))
        except VigilError:
            if not step.optional:
                bar.empty()
                raise
            results.append(None)
    bar.empty()
    return results


@dataclass(frozen=True)
class Dossier:
    """A version's governance dossier as prepared for download: its HTML, and its PDF or why none was printed."""

    model: str
    version: str
    html: str
    pdf: bytes | None
    pdf_problem: str | None


def printed_dossier(model: str, version: str, document: str) -> Dossier:
    """The dossier ``document`` of ``model`` ``version`` with its PDF, printed once per content
    (:func:`dossier_pdf`); a failure to print is kept as its reason, so the page keeps the result in
    its session and a rerun neither retries nor relaunches Chromium."""
    try:
        return Dossier(model, version, document, dossier_pdf(document), None)
    except Exception as exc:  # noqa: BLE001 - the HTML is still offered, with the reason
        return Dossier(model, version, document, None, str(exc) or type(exc).__name__)


@st.cache_data(max_entries=8, show_spinner=False)
def dossier_pdf(document: str) -> bytes:
    """The dossier printed to PDF by headless Chromium, cached by the document's content: the same
    dossier (same evidence pack, history and audit extract) is printed once, not at every rerun."""
    import tempfile
    from pathlib import Path

    from analytics import governance

    with tempfile.TemporaryDirectory() as tmp:
        return governance.html_to_pdf(document, Path(tmp) / "dossier.pdf").read_bytes()
