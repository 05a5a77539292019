"""One look for every chart: a Plotly template named ``vigil`` with a colour-blind-safe palette.

:func:`register` installs the template and makes it Plotly's default, so a page builds its figure
with plain ``plotly.express`` / ``graph_objects`` calls and draws it with
:func:`app.widgets.plot`, which keeps the template (``theme=None``) instead of Streamlit's.

The palette is Okabe and Ito's (2008), distinguishable under the common colour-vision
deficiencies; the first colour is also the app's primary colour in ``.streamlit/config.toml``.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

TEMPLATE_NAME = "vigil"

#: Okabe-Ito colours, in the order a chart uses them.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)
#: Semantic colours: good / bad / neutral (blue-orange, never red-green alone).
GOOD, BAD, NEUTRAL = "#0072B2", "#D55E00", "#999999"
#: A legend under the x-axis title, for half-width charts whose title would collide with one at the top.
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.25, "xanchor": "left", "x": 0.0}
FONT = "Source Sans Pro, Source Sans 3, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"
TEXT, GRID, AXIS = "#1F2937", "#E5E7EB", "#9CA3AF"


def _template() -> go.layout.Template:
    template = go.layout.Template(pio.templates["plotly_white"])
    template.layout.update(
        colorway=list(PALETTE),
        font={"family": FONT, "size": 13, "color": TEXT},
        title={"x": 0.0, "xanchor": "left", "font": {"size": 16}, "pad": {"b": 8}},
        margin={"l": 56, "r": 16, "t": 64, "b": 48},
        hovermode="x unified",
        hoverlabel={"font": {"family": FONT}},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0, "title": {"text": ""}},
        xaxis={"gridcolor": GRID, "linecolor": AXIS, "ticks": "outside", "tickcolor": AXIS, "zeroline": False,
               "title": {"standoff": 8}},
        yaxis={"gridcolor": GRID, "linecolor": AXIS, "zeroline": False, "rangemode": "tozero",
               "title": {"standoff": 8}},
        bargap=0.15,
        separators=".,",
    )
    return template


def register() -> None:
    """Install the ``vigil`` template and make it Plotly's default (idempotent)."""
    if TEMPLATE_NAME not in pio.templates:
        pio.templates[TEMPLATE_NAME] = _template()
    if pio.templates.default != TEMPLATE_NAME:  # setting it validates a copy of the template: ~25 ms a page run
        pio.templates.default = TEMPLATE_NAME


def chart_title(title: str, *, window: str, rows: int, unit: str = "rows") -> str:
    """A chart title that states what, over which window, and how many rows are behind it.

    >>> chart_title("Daily predictions", window="last 30 days (UTC)", rows=12345)
    'Daily predictions<br><sup>last 30 days (UTC) · 12,345 rows</sup>'
    """
    return f"{title}<br><sup>{window} · {rows:,} {unit}</sup>"
