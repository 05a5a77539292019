"""Whether two stores hold the same summary rows: what the parity test asserts and the benchmark prints.

Two engines summing the same doubles in another order agree to rounding, not to the bit, so each
table's sums (:data:`SUMS`) are compared within a relative tolerance; every other column (keys,
counts, minima, maxima, percentiles, the ledger's segments and keys) must be identical.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics import drift, fairness, performance
from analytics.business import KPI, SERVING, SUM_COLUMNS
from analytics.store import DbLike, read

#: The summaries both engines build (the ledger's other summaries, such as the kept samples of
#: multivariate drift and explanations, are built by DuckDB's refresh alone and are not compared).
SUMMARIES: tuple[str, ...] = (drift.DRIFT_ROLLUPS.name, SERVING.name, KPI.name, fairness.FAIRNESS_CELLS.name,
                              performance.PERFORMANCE_CELLS.name)

#: Per summary table, its columns that are sums of doubles (compared within a tolerance).
SUMS: dict[str, tuple[str, ...]] = {
    "drift_rollup": ("total",),
    "serving_hourly": ("cost_usd",),
    "serving_latency": (),
    "serving_latency_daily": (),
    "kpi_hourly": tuple(c for c in SUM_COLUMNS if c.startswith(("exp_", "amount_"))),
    "kpi_cells_daily": ("amount", "exp_bad_amount", "exp_good_amount"),
    "fairness_cells": ("value",),
    "performance_cells": ("score_sum", "sq_error_sum", "log_loss_sum"),
}
#: List columns, compared as text.
_LISTS = {"kpi_hourly": "dims", "fairness_cells": "groups"}


def summary_rows(db: DbLike, model: str) -> dict[str, pd.DataFrame]:
    """Every summary table's rows of ``model`` (lists as text), sorted, and its ledger rows of :data:`SUMMARIES`
    (without ``built_at``)."""
    def work(con) -> dict[str, pd.DataFrame]:
        out = {}
        for table in SUMS:
            listed = f" REPLACE (CAST({_LISTS[table]} AS VARCHAR) AS {_LISTS[table]})" if table in _LISTS else ""
            keys = [c for c in con.execute(f"SELECT * FROM {table} LIMIT 0").df().columns if c not in SUMS[table]]
            out[table] = con.execute(f"SELECT *{listed} FROM {table} WHERE model_name = ? ORDER BY "
                                     f"{', '.join(f'{chr(34)}{k}{chr(34)}' for k in keys)}", [model]).df()
        out["summary_ledger"] = con.execute("SELECT * EXCLUDE (built_at) FROM summary_ledger WHERE model_name = ? "
                                            "AND list_contains(?, summary) ORDER BY ALL",
                                            [model, list(SUMMARIES)]).df()
        return out
    return read(work, db)


def difference(table: str, a: pd.DataFrame, b: pd.DataFrame, rtol: float = 1e-9) -> str:
    """``identical``, or what differs between two stores' rows of ``table`` (:func:`summary_rows`)."""
    if len(a) != len(b):
        return f"{len(a):,} vs {len(b):,} rows"
    sums = SUMS.get(table, ())
    exact = [c for c in a.columns if c not in sums]
    unequal = [c for c in exact if not a[c].reset_index(drop=True).equals(b[c].reset_index(drop=True))]
    if unequal:
        return f"different {', '.join(unequal)}"
    for column in sums:
        x, y = a[column].to_numpy(float), b[column].to_numpy(float)
        off = ~np.isclose(x, y, rtol=rtol, atol=0, equal_nan=True)
        if off.any():
            worst = np.nanmax(np.abs(x - y)[off] / np.abs(x)[off])
            return f"{int(off.sum())} sums of {column} beyond {rtol:g} relative (worst {worst:.1e})"
    return "identical"


def differences(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame], rtol: float = 1e-9) -> dict[str, str]:
    """:func:`difference` of every table of two :func:`summary_rows`."""
    return {table: difference(table, a[table], b[table], rtol) for table in a}
