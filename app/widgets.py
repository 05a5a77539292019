"""Small shared pieces of UI: the friendly error boundary, charts, empty states, number formats.

Use :func:`error_boundary` around anything that reads the store: a
:class:`~analytics.errors.VigilError` (wrong input, busy store, missing model, permission) is
shown as its message; any other exception as a short apology with a reference that is also
written, with its traceback, to the server log. The browser never sees a traceback.
"""

from __future__ import annotations

import logging
import math
import numbers
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import streamlit as st

from analytics.business import format_measure
from analytics.errors import PermissionDeniedError, VigilError

LOG = logging.getLogger("vigil.app")


def report_unexpected(exc: BaseException, what: str) -> str:
    """Log ``exc`` with a fresh reference and show an apology quoting it; return the reference."""
    reference = secrets.token_hex(4)
    LOG.error("unexpected error while showing %s [ref %s]", what, reference, exc_info=exc)
    st.error(
        f"Sorry, something went wrong while showing {what}. It has been logged with reference "
        f"**{reference}**; please quote it if you report the problem.",
        icon=":material/sentiment_dissatisfied:",
    )
    return reference


@contextmanager
def error_boundary(what: str = "this page") -> Iterator[None]:
    """Show errors raised in the block in plain words instead of a traceback.

    Streamlit's own control flow (``st.stop``, ``st.rerun``, ``st.switch_page``) derives from
    ``BaseException`` and passes through untouched.
    """
    try:
        yield
    except PermissionDeniedError as exc:
        st.error(f"Not allowed: {exc}", icon=":material/block:")
    except VigilError as exc:
        st.error(str(exc), icon=":material/error:")
    except Exception as exc:  # noqa: BLE001 - the boundary's purpose
        report_unexpected(exc, what)


def plot(fig: Any, *, key: str | None = None) -> None:
    """Draw a Plotly figure full width with the ``vigil`` template (not Streamlit's chart theme)."""
    st.plotly_chart(fig, width="stretch", theme=None, key=key,
                    config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]})


def header(name: str) -> str:
    """A column header for a reader: ``'submitted_by'`` -> ``'Submitted by'``; names with capitals
    (model inputs such as ``PAY_AMT1``) are kept as they are."""
    return name.replace("_", " ").capitalize() if name == name.lower() else name


def table(data: Any, *, column_config: dict | None = None, **kwargs: Any):
    """``st.dataframe`` as every page shows a table: readable headers for the columns the page does not
    label itself (:func:`header`), and an em dash for a missing value instead of ``None``.

    Sorting, filtering (search) and CSV download come with ``st.dataframe``'s toolbar. A frame's ``attrs``
    (what analytics says about where its rows came from) are not sent: the page words them itself.
    """
    if isinstance(data, pd.DataFrame) and data.attrs:
        data = data.copy(deep=False)
        data.attrs = {}
    config = {c: header(str(c)) for c in getattr(data, "columns", ()) if str(c) != header(str(c))}
    config.update(column_config or {})
    kwargs.setdefault("placeholder", "—")
    return st.dataframe(data, column_config=config, **kwargs)


def empty_state(message: str, *, hint: str | None = None, icon: str = ":material/info:") -> None:
    """Say that there is nothing to show, and what to do about it."""
    st.info(f"{message}" + (f"  \n{hint}" if hint else ""), icon=icon)


def is_missing(value: Any) -> bool:
    """True for None and NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_int(value: Any) -> str:
    """``12345`` -> ``'12,345'``; missing -> an en dash."""
    return "–" if is_missing(value) else f"{int(value):,}"


def fmt_pct(value: Any, digits: int = 1) -> str:
    """``0.1234`` -> ``'12.3%'``; missing -> an en dash."""
    return "–" if is_missing(value) else f"{value * 100:.{digits}f}%"


def fmt_num(value: Any, digits: int = 3) -> str:
    """A float with ``digits`` decimals; missing -> an en dash."""
    return "–" if is_missing(value) else f"{value:.{digits}f}"


def fmt_measure(value: Any, unit: str, *, compact: bool = False, signed: bool = False) -> str:
    """A KPI as :func:`analytics.business.format_measure` writes it (the CLI's words too), with the
    pages' en dash for a missing value and, with ``compact``, money short enough for a card
    (``'NT$ 54.9 M'``).

    >>> fmt_measure(0.1234, "%"), fmt_measure(1234.0, "predictions"), fmt_measure(0.987, "min/max")
    ('12.3%', '1,234', '0.99')
    >>> fmt_measure(-54_902_100, "NT$", compact=True), fmt_measure(1500.4, "NT$"), fmt_measure(0.012, "%", signed=True)
    ('NT$ -54.9 M', 'NT$ 1,500', '+1.2 pp')
    """
    if compact and not signed and not is_missing(value) and unit not in ("%", "predictions", "min/max"):
        return fmt_compact(value, unit)
    return format_measure(value, unit, signed=signed, missing="–")


def dollars_as_text(markdown: str) -> str:
    """Markdown whose dollar signs stay dollar signs: "NT$ 5 ... NT$ 7" would otherwise open a LaTeX formula.

    >>> dollars_as_text("NT$ 5 and NT$ 7")
    'NT\\\\$ 5 and NT\\\\$ 7'
    """
    return markdown.replace("$", "\\$")


def fmt_compact(value: Any, prefix: str = "") -> str:
    """An amount short enough for a card: ``-54902100`` -> ``'-54.9 M'`` (k, M, bn above 10,000; whole
    numbers below); ``prefix`` (a currency) goes first; missing -> an en dash.

    >>> fmt_compact(-54_902_100, "NT$"), fmt_compact(1_222.4), fmt_compact(2.5e9)
    ('NT$ -54.9 M', '1,222', '2.5 bn')
    """
    if is_missing(value):
        return "–"
    for above, size, suffix in ((1e9, 1e9, "bn"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(value) >= above:
            text = f"{value / size:,.1f} {suffix}"
            break
    else:
        text = f"{value:,.0f}"
    return f"{prefix} {text}" if prefix else text


def fmt_value(value: Any) -> str:
    """An input's value as a reader wants it: numbers to six significant digits with thousands separators
    (``13519.910000000009`` -> ``'13,519.9'``, ``1200.0`` -> ``'1,200'``; never in exponent notation),
    text as it is; missing -> an en dash.

    >>> fmt_value(13519.910000000009), fmt_value(1200.0), fmt_value(0.00341), fmt_value(12345678.9), fmt_value("single")
    ('13,519.9', '1,200', '0.00341', '12,345,679', 'single')
    """
    if is_missing(value):
        return "–"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        whole_digits = len(f"{abs(float(value)):.0f}") if abs(value) >= 1 else 0
        text = f"{float(value):,.{max(0, 6 - whole_digits)}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def pct_change(current: Any, previous: Any) -> str | None:
    """Relative change as a signed percentage (``'+12.3%'``), or None when undefined."""
    if is_missing(current) or is_missing(previous) or not previous:
        return None
    return f"{(current - previous) / previous * 100:+.1f}%"


def pp_change(current: Any, previous: Any) -> str | None:
    """Change of a share in percentage points (``'+1.2 pp'``), or None when undefined."""
    if is_missing(current) or is_missing(previous):
        return None
    return f"{(current - previous) * 100:+.1f} pp"


def diff(current: Any, reference: Any, digits: int = 3) -> str | None:
    """Signed difference (``'-0.012'``), or None when undefined."""
    if is_missing(current) or is_missing(reference):
        return None
    return f"{current - reference:+.{digits}f}"
