"""Fixtures of the Investigate page tests: the credit-lite store of tests/explain, with users."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "explain"))

from explain_support import MODEL, lite_db, lite_template  # noqa: E402,F401 - fixtures


def table_with(at, *columns: str):
    """The first st.dataframe on the page whose frame has all ``columns`` (read-only tables carry no key)."""
    for element in at.dataframe:
        frame = element.value
        if all(c in frame.columns for c in columns):
            return frame
    raise AssertionError(f"no table with columns {columns}")
