"""Champion against challenger on the same traffic: KPIs and cost side by side (latency per version is on
the Cost and latency page).

"Same traffic" is the period in which both versions logged predictions inside the window (a
shadow or challenger version mirrors the champion's requests from its start): from the later of
the two first predictions to the earlier of the two last, widened to whole UTC hours. When the challenger
starts mirroring at the top of an hour (as a deployment does in the demo), both versions' rows in the
period are the same requests; otherwise the first hour also holds champion requests it did not see. Each version's KPIs use its own
decisions on that period (a shadow version's are what it *would* have decided), from the same
aggregation as :func:`analytics.business.kpis`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pandas as pd

from analytics.business import _serving
from analytics.business._common import DbLike, open_model
from analytics.store import run
from analytics.window import Window, ceil_hour, floor_hour, time_bounds
from analytics.business._definitions import get_definition
from analytics.business._kpis import KPI_META, kpi_label, kpi_sums, kpi_unit, kpis_from_sums
from analytics.errors import InvalidInputError
from analytics.fairness import thresholds_for
from analytics.registry import champion_version
from analytics.store import predictions_view

_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Comparison:
    """Champion and challenger over their shared period.

    Attributes
    ----------
    table : DataFrame
        One row per measure: ``key``, ``measure``, ``unit``, ``champion``, ``challenger``,
        ``difference`` (challenger minus champion), ``higher_is_better``.
    champion, challenger : str
        The versions compared (``challenger`` None when there is none in the window).
    start, end : datetime
        The shared period (naive UTC, end exclusive).
    rows : dict
        Predictions of each version in the shared period.
    """

    table: pd.DataFrame
    champion: str | None
    challenger: str | None
    start: datetime | None
    end: datetime | None
    rows: dict[str, int]


def _spans(con: duckdb.DuckDBPyConnection, info, start: datetime | None, end: datetime | None,
           summarised: bool) -> pd.DataFrame:
    """Per version in ``[start, end)``: ``role``, ``n``, ``first_at``, ``last_at``, ``cost_usd``."""
    if summarised:
        source = _serving.hourly_source(info, start, end)
        return con.execute(
            f"""SELECT model_version AS version, any_value(deployment_role) AS role,
                       CAST(sum(predictions) AS BIGINT) AS n, min(first_at) AS first_at, max(last_at) AS last_at,
                       sum(cost) AS cost_usd
                FROM {source.sql} p GROUP BY ALL""", source.params).df()
    where = time_bounds("predicted_at", start, end)
    return con.execute(
        f"""SELECT model_version AS version, any_value(deployment_role) AS role, count(*) AS n,
                   min(predicted_at) AS first_at, max(predicted_at) AS last_at, sum(cost) AS cost_usd
            FROM {predictions_view(info.stem)} WHERE {where.sql} GROUP BY ALL""", where.params).df()


def champion_challenger(db: DbLike, model: str, *, now: datetime, window: Window = Window(),
                        challenger: str | None = None, use_summaries: bool = True) -> Comparison:
    """Compare the champion with a challenger (default: the busiest other version in the window).

    ``window`` is a time span only (the comparison names its versions; a segment is refused). Traffic,
    first and last prediction and cost per version come from the serving summaries
    (:mod:`analytics.business._serving`; partial hours from the log) unless ``use_summaries`` is false.
    """
    window.require_no_filter("the champion-challenger comparison")
    start, end = window.start, window.end

    def work(con: duckdb.DuckDBPyConnection) -> Comparison:
        info = open_model(con, model)
        summarised = use_summaries and _serving.current(con, info)
        definition = get_definition(con, model)
        champion = champion_version(con, model)
        spans = _spans(con, info, start, end, summarised).set_index("version")
        others = spans.drop(index=[champion], errors="ignore").sort_values("n", ascending=False)
        other = challenger or (str(others.index[0]) if len(others) else None)
        if champion is None or champion not in spans.index or other is None:
            return Comparison(pd.DataFrame(), champion, other, None, None, {})
        if other not in spans.index:
            raise InvalidInputError(f"version {other!r} of {model} has no predictions in this window")
        # Whole UTC hours (answered from the hourly rollup, with no partial-hour query).
        shared_start = floor_hour(max(spans.loc[champion, "first_at"], spans.loc[other, "first_at"]).to_pydatetime())
        shared_end = ceil_hour(min(spans.loc[champion, "last_at"], spans.loc[other, "last_at"]).to_pydatetime()
                               + _ONE_SECOND)
        if shared_end <= shared_start:
            return Comparison(pd.DataFrame(), champion, other, None, None, {})
        shared = _spans(con, info, shared_start, shared_end, summarised).set_index("version")
        values: dict[str, dict[str, float]] = {}
        for version in (champion, other):
            sums = kpi_sums(con, info, definition, now=now, window=Window(shared_start, shared_end, version),
                            with_previous=False)
            k = kpis_from_sums(sums, definition, thresholds_for(con, model))
            row = shared.loc[version]
            k["cost_per_1000_usd"] = float(row["cost_usd"]) / float(row["n"]) * 1000
            selected = k["selection_rate"] * k["predictions"]
            k["cost_per_selected_usd"] = float(row["cost_usd"]) / selected if selected else float("nan")
            values[version] = k
        rows = []
        for key, (_, higher, _) in KPI_META.items():
            if key == "demographic_parity_ratio" and not definition.fairness_attribute:
                continue
            rows.append((key, kpi_label(key, definition, info.schema), kpi_unit(key, definition), higher))
        rows += [("cost_per_1000_usd", "Cost per 1,000 predictions", "USD", False),
                 ("cost_per_selected_usd", f"Cost per {definition.selected_label} decision", "USD", False)]
        table = pd.DataFrame([{"key": key, "measure": label, "unit": unit, "champion": values[champion][key],
                               "challenger": values[other][key],
                               "difference": values[other][key] - values[champion][key], "higher_is_better": higher}
                              for key, label, unit, higher in rows])
        return Comparison(table, champion, other, shared_start, shared_end,
                          {v: int(shared.loc[v, "n"]) for v in (champion, other)})

    return run(db, work)
