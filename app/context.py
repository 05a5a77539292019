"""One context for every page: model, version, time window and segment, kept in the URL.

The entry script calls :func:`render_sidebar` on every run; pages call :func:`current` and read
the :class:`Context` (``ctx.model``, ``ctx.version``, ``ctx.start``/``ctx.end``, ``ctx.segment`` ...).

The context lives in the URL's query parameters, so a copied link reproduces the view:

=================  =================================================================
``model``          a registered model (default: the first by name)
``version``        one version; absent = all versions
``window``         ``24h``, ``7d``, ``30d``, ``90d`` (default), ``all`` or ``custom``
``start``/``end``  first and last day (``YYYY-MM-DD``, inclusive, UTC) of a custom window
``segment``        a segment column of the model; with ``segment_value``, rows whose
                   segment equals that value; absent = all rows
=================  =================================================================

Each page keeps its own choices in the URL too (per day or week, the baseline, the chosen
prediction ...), so a link reproduces what the sender saw: before drawing such a widget the page
calls :func:`adopt` (the URL's value when it is new to this session, else the session's kept
choice, else the default) and after it :func:`remember` (writes the URL and keeps the choice
across page switches). Page parameters are named after their page (``drift_per``, ``lookup_prediction``).

How it is kept: on each run the parameters in the URL are compared with the ones this session
wrote last. Different ones (a pasted link, a link from another page, the browser's back button)
are adopted; none at all (Streamlit clears them when the user switches page in the menu) means
"keep the session's context"; then the sidebar pickers are drawn and the URL is rewritten from
them. Times are UTC throughout; a preset window starts on the hour and runs to "now" (floored to
the minute).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import streamlit as st

from analytics import clock, overview, registry
from analytics.timebounds import FIRST_DAY
from analytics.window import Window
from app import queries

KEYS: tuple[str, ...] = ("model", "version", "window", "start", "end", "segment", "segment_value")
DEFAULT_WINDOW = "90d"

#: Window key -> (label, length); ``all`` and ``custom`` have no fixed length.
WINDOWS: dict[str, tuple[str, timedelta | None]] = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "90d": ("Last 90 days", timedelta(days=90)),
    "all": ("All time", None),
    "custom": ("Custom range", None),
}

# Widget keys (session state) of the sidebar pickers.
W_MODEL, W_VERSION, W_WINDOW = "ctx_model", "ctx_version", "ctx_window"
W_RANGE, W_SEGMENT, W_SEGMENT_VALUE = "ctx_range", "ctx_segment", "ctx_segment_value"
_LAST = "ctx_last_query"
_CURRENT = "ctx_current"
_PAGE_WRITTEN = "ctx_page_written"  # page parameter -> the text this session last wrote to the URL
_PAGE_KEPT = "ctx_page_kept"  # page parameter -> the choice, kept while the user visits other pages


def utc_now() -> datetime:
    """The current time (:func:`analytics.clock.utc_now`, naive UTC) floored to the minute, so cached
    queries are reused within it."""
    return clock.utc_now().replace(second=0, microsecond=0)


def resolve_window(window: str, now: datetime, date_from: date | None = None,
                   date_to: date | None = None) -> tuple[datetime | None, datetime | None]:
    """The ``[start, end)`` of a window (naive UTC); ``None`` is an open side.

    A preset runs from the start of the current hour minus its length, open-ended, so that its
    costly queries are cached for the hour (the 24-hour and 7-day traffic counts still move with
    ``now``); ``custom`` runs from midnight of ``date_from`` to midnight after ``date_to``; ``all``
    is unbounded.
    """
    if window == "custom":
        if date_from is None or date_to is None:
            raise ValueError("a custom window needs a first and a last day")
        return datetime.combine(date_from, time()), datetime.combine(date_to + timedelta(days=1), time())
    if window == "all":
        return None, None
    length = WINDOWS[window][1]
    return now.replace(minute=0, second=0, microsecond=0) - length, None


@dataclass(frozen=True)
class Context:
    """The view every page shows: which model, version, window and segment (all UTC)."""

    now: datetime
    window: str = DEFAULT_WINDOW
    model: str | None = None
    version: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    segment: str | None = None
    segment_value: str | None = None

    @property
    def start(self) -> datetime | None:
        """Start of the window (inclusive, naive UTC), or None for all time."""
        return resolve_window(self.window, self.now, self.date_from, self.date_to)[0]

    @property
    def end(self) -> datetime | None:
        """End of the window (exclusive, naive UTC), or None when it runs to now."""
        return resolve_window(self.window, self.now, self.date_from, self.date_to)[1]

    def as_window(self, *, filtered: bool = True) -> Window:
        """The rows this context shows, as the :class:`~analytics.window.Window` the readers take.

        Parameters
        ----------
        filtered : bool
            Keep the version and segment filter (default); ``False`` gives the time span alone, for
            views of every model (the portfolio).

        Returns
        -------
        Window
            Built here, at the edge, from the pickers' values (which :func:`from_query_params` and the
            pickers already restrict to the registry's versions and segments).
        """
        if not filtered:
            return Window(self.start, self.end)
        return Window(self.start, self.end, self.version, self.segment, self.segment_value)

    @property
    def window_label(self) -> str:
        """``'last 30 days (UTC)'``, ``'2026-05-01 to 2026-05-31 (UTC)'`` or ``'all time (UTC)'``."""
        if self.window == "custom":
            return f"{self.date_from:%Y-%m-%d} to {self.date_to:%Y-%m-%d} (UTC)"
        return f"{WINDOWS[self.window][0].lower()} (UTC)"

    @property
    def previous_label(self) -> str:
        """How the window before this one is called in deltas."""
        if self.window == "custom" and self.date_from and self.date_to:
            return f"vs prior {(self.date_to - self.date_from).days + 1} days"
        if self.window in ("all", "custom"):
            return ""
        return f"vs prior {WINDOWS[self.window][0].lower().removeprefix('last ')}"

    @property
    def filter_label(self) -> str:
        """``'all versions · all rows'``, ``'version v2 · region = north'`` ..."""
        version = f"version {self.version}" if self.version else "all versions"
        segment = f"{self.segment} = {self.segment_value}" if self.segment else "all rows"
        return f"{version} · {segment}"

    def query_params(self, **changes: Any) -> dict[str, str]:
        """The URL parameters of this context (with ``changes`` applied), defaults left out.

        Changing the model drops the version and segment, which belong to the old model.
        """
        ctx = self
        if "model" in changes and changes["model"] != self.model:
            ctx = replace(ctx, version=None, segment=None, segment_value=None)
        ctx = replace(ctx, **changes)
        params: dict[str, str] = {}
        if ctx.model:
            params["model"] = ctx.model
        if ctx.version:
            params["version"] = ctx.version
        params["window"] = ctx.window
        if ctx.window == "custom" and ctx.date_from and ctx.date_to:
            params["start"] = ctx.date_from.isoformat()
            params["end"] = ctx.date_to.isoformat()
        if ctx.segment and ctx.segment_value is not None:
            params["segment"] = ctx.segment
            params["segment_value"] = ctx.segment_value
        return params


def _parse_day(text: Any) -> date | None:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        return None


def last_pickable_day(now: datetime) -> date:
    """The last day the custom-range picker offers (tomorrow, UTC: a log may run a little ahead)."""
    return now.date() + timedelta(days=1)


def custom_range_problem(params: Mapping[str, str], now: datetime) -> str | None:
    """Why the custom window of a link cannot be shown (None when it can, or is not custom): its days must lie
    from :data:`analytics.timebounds.FIRST_DAY` to :func:`last_pickable_day`, as the picker allows."""
    if params.get("window") != "custom":
        return None
    date_from, date_to = _parse_day(params.get("start")), _parse_day(params.get("end"))
    if date_from is None or date_to is None or date_from > date_to:
        return (f"The link's custom window ({params.get('start', '?')} to {params.get('end', '?')}) is not two days "
                "in order (YYYY-MM-DD); showing the default window instead.")
    last = last_pickable_day(now)
    if date_from < FIRST_DAY or date_to > last:
        return (f"The link's custom window {date_from.isoformat()} to {date_to.isoformat()} is out of range: "
                f"choose days from {FIRST_DAY.isoformat()} to {last.isoformat()} (UTC). Showing the default "
                "window instead.")
    return None


def from_query_params(params: Mapping[str, str], options: list[dict[str, Any]], now: datetime) -> Context:
    """Read a context from URL parameters, replacing anything unknown or malformed by its default.

    ``options`` is :func:`analytics.overview.context_options` (models with versions and segments).
    """
    by_model = {o["model"]: o for o in options}
    model = params.get("model")
    if model not in by_model:
        model = next(iter(by_model), None)
    option = by_model.get(model, {"versions": [], "segments": []})
    version = params.get("version") if params.get("version") in option["versions"] else None
    window = params.get("window") if params.get("window") in WINDOWS else DEFAULT_WINDOW
    date_from = date_to = None
    if window == "custom":
        date_from, date_to = _parse_day(params.get("start")), _parse_day(params.get("end"))
        if custom_range_problem(params, now):
            window, date_from, date_to = DEFAULT_WINDOW, None, None
    segment = params.get("segment") if params.get("segment") in option["segments"] else None
    segment_value = params.get("segment_value") if segment else None
    if segment and segment_value is None:
        segment = None
    return Context(now=now, window=window, model=model, version=version, date_from=date_from, date_to=date_to,
                   segment=segment, segment_value=segment_value)


def current() -> Context:
    """The context of this run (set by the entry script); a default one when there is none yet."""
    ctx = st.session_state.get(_CURRENT)
    return ctx if isinstance(ctx, Context) else Context(now=utc_now())


# --------------------------------------------------------------------------------------------------
# The sidebar pickers


def _seed(ctx: Context) -> None:
    """Put a context into the pickers' session state (before they are drawn in this run)."""
    st.session_state[W_MODEL] = ctx.model
    st.session_state[W_VERSION] = ctx.version or ""
    st.session_state[W_WINDOW] = ctx.window
    if ctx.date_from and ctx.date_to:
        st.session_state[W_RANGE] = (ctx.date_from, ctx.date_to)
    else:
        st.session_state.pop(W_RANGE, None)
    st.session_state[W_SEGMENT] = ctx.segment or ""
    if ctx.segment_value is not None:
        st.session_state[W_SEGMENT_VALUE] = ctx.segment_value
    else:
        st.session_state.pop(W_SEGMENT_VALUE, None)


def _valid(key: str, options: list[Any], default: Any) -> None:
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


def _write_url(params: dict[str, str]) -> None:
    for key in KEYS:
        if key in params:
            if st.query_params.get(key) != params[key]:
                st.query_params[key] = params[key]
        elif key in st.query_params:
            del st.query_params[key]


def render_sidebar() -> Context:
    """Draw the context pickers in the sidebar, keep them and the URL in step, return the context."""
    now = utc_now()
    st.session_state[_CURRENT] = Context(now=now)  # a usable default, should anything below fail
    options = queries.query(overview.context_options)
    by_model = {o["model"]: o for o in options}

    in_url = {k: st.query_params[k] for k in KEYS if k in st.query_params}
    problem = None
    if W_WINDOW not in st.session_state or (in_url and in_url != st.session_state.get(_LAST)):
        _seed(from_query_params(in_url, options, now))
        problem = custom_range_problem(in_url, now)

    with st.sidebar:
        st.caption("**Context** · all times UTC")
        if problem:
            st.warning(problem)
        model = None
        option: dict[str, Any] = {"versions": [], "segments": [], "statuses": {}, "champion": None}
        if by_model:
            _valid(W_MODEL, list(by_model), next(iter(by_model)))
            model = st.selectbox("Model", list(by_model), key=W_MODEL)
            option = by_model[model]
        else:
            st.selectbox("Model", ["(no model registered)"], disabled=True, key="ctx_model_none")

        versions = ["", *option["versions"]]
        _valid(W_VERSION, versions, "")

        def version_label(v: str) -> str:
            if not v:
                return "All versions"
            status = option["statuses"].get(v, "")
            return f"{v} ({registry.status_text(status)})" if status else v

        version = st.selectbox("Version", versions, key=W_VERSION, format_func=version_label,
                               disabled=not option["versions"])

        _valid(W_WINDOW, list(WINDOWS), DEFAULT_WINDOW)
        window = st.selectbox("Time window", list(WINDOWS), key=W_WINDOW, format_func=lambda w: WINDOWS[w][0])
        date_from = date_to = None
        if window == "custom":
            today = now.date()
            default_range = (today - timedelta(days=29), today)
            picked = st.date_input("From – to (UTC days, inclusive)", value=st.session_state.get(W_RANGE, default_range),
                                   key=W_RANGE, min_value=FIRST_DAY, max_value=last_pickable_day(now),
                                   format="YYYY-MM-DD")
            picked = tuple(picked) if isinstance(picked, (tuple, list)) else (picked,)
            if len(picked) == 2:
                date_from, date_to = picked
            elif len(picked) == 1 and picked[0] is not None:
                date_from = date_to = picked[0]
            else:
                window = DEFAULT_WINDOW

        segments = ["", *option["segments"]]
        _valid(W_SEGMENT, segments, "")
        segment = st.selectbox("Segment", segments, key=W_SEGMENT, format_func=lambda s: s or "All rows",
                               disabled=not option["segments"],
                               help=None if option["segments"] else "This model declares no segment column.")
        segment_value = None
        if segment and model:
            values = queries.query(overview.segment_values, model, segment)
            if values:
                _valid(W_SEGMENT_VALUE, values, values[0])
                segment_value = st.selectbox(f"{segment} is", values, key=W_SEGMENT_VALUE)
            else:
                st.caption(f"No rows carry a value of {segment} yet.")
                segment = ""

    ctx = Context(now=now, window=window, model=model, version=version or None, date_from=date_from,
                  date_to=date_to, segment=segment or None, segment_value=segment_value if segment else None)
    params = ctx.query_params()
    _write_url(params)
    st.session_state[_LAST] = params
    st.session_state[_CURRENT] = ctx
    return ctx


# --------------------------------------------------------------------------------------------------
# A page's own choices in the URL


def adopt(param: str, key: str, default: Any, *, options: Sequence[Any] | None = None,
          parse: Callable[[str], Any] = str) -> None:
    """Put a page's choice into the session state of widget ``key`` before the widget is drawn.

    The widget must then be drawn without a default of its own (no ``index``/``default``/``value``).

    Parameters
    ----------
    param : str
        The URL parameter that carries the choice (``"drift_per"``).
    key : str
        The widget's key.
    default : object
        The choice when neither the URL nor the session has one (or theirs is not among ``options``).
    options : sequence, optional
        The valid choices; a value from the URL outside them is ignored.
    parse : callable
        Turns the URL's text into a choice (raise ``ValueError`` for a malformed one).
    """
    written = st.session_state.setdefault(_PAGE_WRITTEN, {})
    kept = st.session_state.setdefault(_PAGE_KEPT, {})

    def valid(value: Any) -> bool:
        return options is None or value in options

    raw = st.query_params.get(param)
    if raw is not None and raw != written.get(param):  # a pasted link, another page's link, the back button
        try:
            value = parse(raw)
        except (TypeError, ValueError):
            value = None
        if value is not None and valid(value):
            st.session_state[key] = value
            return
    if key in st.session_state and valid(st.session_state[key]):
        return
    st.session_state[key] = kept[param] if param in kept and valid(kept[param]) else default


def remember(param: str, value: Any) -> None:
    """After the widget is drawn: write its choice to the URL (``None`` removes it) and keep it for the session."""
    written = st.session_state.setdefault(_PAGE_WRITTEN, {})
    kept = st.session_state.setdefault(_PAGE_KEPT, {})
    if value is None:
        kept.pop(param, None)
        written.pop(param, None)
        if param in st.query_params:
            del st.query_params[param]
        return
    text = str(value)
    if st.query_params.get(param) != text:
        st.query_params[param] = text
    written[param] = text
    kept[param] = value
