"""Drift results: the verdicts (plain rows; a frame on demand), histograms per column, the JSON the CLI prints."""

from __future__ import annotations

import math
from datetime import date
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from analytics.summaries import unsummarised_note

if TYPE_CHECKING:
    import pandas as pd

#: Columns of :attr:`DriftResult.table`, in order. The first nine are the CLI's JSON fields.
RESULT_COLUMNS: tuple[str, ...] = (
    "column", "kind", "method", "statistic", "p_value", "threshold", "drifted", "n_reference", "n_current",
    "period", "role", "missing_reference", "missing_current", "unseen_categories", "note", "tolerance",
)
JSON_FIELDS: tuple[str, ...] = RESULT_COLUMNS[:9]
#: The words a person reads for a column's verdict (the ``drifted`` field: True, False or None), in the
#: app and the command line alike, in the order of importance.
VERDICT_WORDS: dict[bool | None, str] = {True: "drift", False: "no drift", None: "not computable"}


def verdict_word(drifted: Any) -> str:
    """``"drift"``, ``"no drift"`` or ``"not computable"`` for a ``drifted`` value (None or NaN: not computable)."""
    if drifted is None or (isinstance(drifted, float) and math.isnan(drifted)):
        return VERDICT_WORDS[None]
    return VERDICT_WORDS[bool(drifted)]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


@dataclass(frozen=True)
class DriftResult:
    """The drift of a set of columns between a reference and one or more current periods.

    Attributes
    ----------
    rows : tuple of dict
        One row per column (and period), a plain dict with :data:`RESULT_COLUMNS` as keys. ``drifted``
        is True, False, or None when the statistic is undefined (a column without values on one side);
        ``note`` says why. ``tolerance`` bounds the distance of a binned statistic (KS D, normalised
        Wasserstein) to its exact value: zero when exact (see :mod:`analytics.drift._binning`).
        :attr:`table` holds them as a frame.
    histograms : dict of str to pandas.DataFrame
        Per column (summaries only): ``bin``, ``reference_count``, ``current_count``,
        ``reference_share``, ``current_share`` on the reference's fixed bins or categories.
    reference_label, current_label : str
        What was compared, in words (stated on the page and in the CLI table).
    n_reference_rows, n_current_rows : int
        Rows on each side (missing values included).
    left_out : dict of str to str
        Declared columns left out of the comparison, each with the reason (a segment filter's own
        column: see :mod:`analytics.drift._segment`).
    unsummarised_days : tuple of date
        Whole UTC days of the window read from the log because the daily rollups did not summarise
        them yet (the next refresh does; the numbers are the same, only slower to get).
    """

    rows: tuple[dict[str, Any], ...]
    histograms: dict[str, pd.DataFrame] = field(default_factory=dict)
    reference_label: str = "reference"
    current_label: str = "current"
    n_reference_rows: int = 0
    n_current_rows: int = 0
    left_out: dict[str, str] = field(default_factory=dict)
    unsummarised_days: tuple[date, ...] = ()

    @property
    def summary_note(self) -> str:
        """A sentence for the page when some whole days were read from the log (empty when none were)."""
        return unsummarised_note(self.unsummarised_days)

    @cached_property
    def table(self) -> pd.DataFrame:
        """:attr:`rows` as a frame, one column per entry of :data:`RESULT_COLUMNS` (``drifted`` of object
        type: True, False or None), made when first asked for: the command line's gate needs none (pandas
        costs its start about a quarter of a second)."""
        import pandas as pd

        table = pd.DataFrame(list(self.rows), columns=list(RESULT_COLUMNS))
        table["drifted"] = table["drifted"].astype(object)
        return table

    @property
    def drifted_columns(self) -> list[str]:
        """Columns whose verdict is drifted (in any period)."""
        return sorted({row["column"] for row in self.rows if row["drifted"] is True})

    @property
    def not_computable_columns(self) -> list[str]:
        """Columns whose drift cannot be judged (no values on a side: no rows, or all missing)."""
        return sorted({row["column"] for row in self.rows if verdict_word(row["drifted"]) == VERDICT_WORDS[None]})

    @property
    def any_drift(self) -> bool:
        """Whether at least one column drifted."""
        return bool(self.drifted_columns)

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-ready object per column with exactly :data:`JSON_FIELDS` (NaN as null)."""
        return [{k: _clean(row[k]) for k in JSON_FIELDS} for row in self.rows]
