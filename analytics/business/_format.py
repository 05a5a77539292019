"""KPI values as people read them: one precision per kind of measure, in the app and the command line."""

from __future__ import annotations

import math
from typing import Any

#: What a value that cannot be computed is shown as (a reason is given beside it).
NOT_COMPUTABLE = "—"


def _missing(value: Any) -> bool:
    try:
        return value is None or math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def format_measure(value: Any, unit: str, *, signed: bool = False, missing: str = NOT_COMPUTABLE) -> str:
    """A KPI value in the precision of its kind of measure.

    Parameters
    ----------
    value : float
        The value; shares as fractions.
    unit : str
        The KPI's unit (:func:`analytics.business.kpi_unit`): ``"%"`` (a share: one decimal, a change in
        percentage points), ``"predictions"`` (a count: whole numbers), ``"min/max"`` (a ratio: two
        decimals), else a currency (whole units, thousands separated).
    signed : bool
        A change: with its sign.
    missing : str
        Shown for None or NaN.

    >>> format_measure(0.1234, "%"), format_measure(1234.0, "predictions"), format_measure(0.987, "min/max")
    ('12.3%', '1,234', '0.99')
    >>> format_measure(1500.4, "NT$"), format_measure(0.012, "%", signed=True), format_measure(float("nan"), "%")
    ('NT$ 1,500', '+1.2 pp', '—')
    >>> format_measure(-0.3, "NT$"), format_measure(-0.0001, "%")
    ('NT$ 0', '0.0%')
    """
    if _missing(value):
        return missing
    value = float(value)
    sign = "+" if signed else ""
    if unit == "%":  # + 0.0: a value that rounds to zero shows no minus sign
        return f"{round(value * 100, 1) + 0.0:{sign}.1f}" + (" pp" if signed else "%")
    if unit == "predictions":
        return f"{round(value):{sign},d}"
    if unit == "min/max":
        return f"{round(value, 2) + 0.0:{sign}.2f}"
    return f"{unit} {round(value):{sign},d}"
