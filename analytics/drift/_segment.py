"""The baseline of a segment: which reference rows a segment's rows are compared with.

With a segment filter (``region = Kaohsiung``) the current side holds one value of the segment
column. Compared with the whole reference, that column would always drift (one value against all
of them), and every other column would be judged against the mix of every segment. So:

- when the version's reference data hold rows of that segment value, the segment's rows are
  compared with the reference rows of the same segment;
- when they do not (the column is empty in the reference, or the value is new), they are compared
  with the whole reference, and the result says so;
- either way the segment column is left out: it holds one value on the current side (and on a
  filtered baseline), so its "drift" says nothing. :attr:`SegmentBaseline.left_out` says why, and
  the page and the CLI show it.

An earlier window of the log as baseline is filtered by the same segment (the log always holds
the segment column), so there too the column is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from analytics.drift._binning import Side
from analytics.window import Window
from analytics.store import reference_table


@dataclass(frozen=True)
class SegmentBaseline:
    """The reference side of a (possibly segment-filtered) comparison.

    Attributes
    ----------
    reference : Side
        The reference rows compared with.
    label : str
        What they are, in words (``"reference data of v1, region = Kaohsiung"``).
    left_out : dict of str to str
        Columns left out of the comparison, each with the reason.
    filtered : bool
        Whether the reference rows are those of the segment.
    """

    reference: Side
    label: str
    left_out: dict[str, str] = field(default_factory=dict)
    filtered: bool = False


def segment_baseline(con: duckdb.DuckDBPyConnection, info, window: Window) -> SegmentBaseline:
    """The reference data of ``window``'s version for its segment filter (see the module docstring).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open store.
    info : analytics.registry.ModelInfo
        The model.
    window : Window
        The current side: its version (required) names the reference data read, its segment (if any)
        the rows compared; its time span does not apply to the reference.
    """
    version, segment, segment_value = window.version, window.segment, window.segment_value
    table = reference_table(info.stem)
    whole = Side(table, "model_version = ?", (version,))
    if segment is None:
        return SegmentBaseline(whole, f"reference data of {version}")
    rows = Window(version=version, segment=segment, segment_value=segment_value).where(info.schema, alias=table)
    where, params = rows.sql, rows.params
    held = con.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()[0]
    if held:
        return SegmentBaseline(Side(table, where, tuple(params)),
                               f"reference data of {version}, {segment} = {segment_value}",
                               {segment: f"the segment filter: {segment} is {segment_value} on both sides"}, True)
    return SegmentBaseline(
        whole, f"reference data of {version}, all of it (it holds no rows of {segment} = {segment_value})",
        {segment: f"the reference data hold no rows of {segment} = {segment_value}: the segment's rows are "
                  f"compared with the whole reference, without {segment}"})


def window_left_out(window: Window) -> dict[str, str]:
    """What an earlier window of the log as baseline leaves out: the segment column ``window`` is filtered by."""
    if window.segment is None:
        return {}
    return {window.segment: f"the segment filter: {window.segment} is {window.segment_value} on both sides"}
