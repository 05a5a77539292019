"""The drift calculator: loads the two sides into DuckDB temp tables and runs the methods on their summaries.

Sides:

- the store: the reference data of a version (``reference_<stem>``), or an earlier window of the
  log, against a window of the log (filtered by version and segment);
- files: two Parquet or CSV files (the ``vigil drift`` gate of a CI pipeline).

The current rows carry a ``_period`` (one constant for a summary, a day or a week for drift over
time), so the same SQL answers both. Only the columns compared are copied, once; every statistic
is then an aggregate over those temp tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from analytics import settings
from analytics.drift import _binning as binning
from analytics.drift._methods import CATEGORICAL, METHOD_OVERRIDES, auto_method, get_method, parse_overrides
from analytics.drift._result import RESULT_COLUMNS, DriftResult
from analytics.errors import InvalidInputError
from analytics.logschema import quote
from analytics.overview import DbLike, _run, _where
from analytics.registry import champion_version, get_model, get_version
from analytics.store import predictions_view, reference_table

SUMMARY = "window"
NUMERIC_TYPES = ("DOUBLE", "FLOAT", "REAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT",
                 "UINTEGER", "USMALLINT", "UTINYINT")


@dataclass(frozen=True)
class DriftConfig:
    """How to compare: which method (``auto`` or a key), per-column overrides and thresholds.

    ``thresholds`` maps a method key to its threshold; a method not named uses its declared setting.
    """

    method: str = "auto"
    overrides: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method != "auto":
            get_method(self.method)
        for key in self.overrides.values():
            get_method(key)

    def threshold(self, key: str) -> float:
        """The threshold of method ``key``."""
        return float(self.thresholds.get(key, get_method(key).threshold.default))


def config_for_model(con: duckdb.DuckDBPyConnection, model: str | None, method: str = "auto") -> DriftConfig:
    """The model's thresholds and per-column overrides from :mod:`analytics.settings`."""
    from analytics.drift._methods import METHOD_KEYS

    thresholds = {k: float(settings.get(con, get_method(k).threshold.key, model=model)) for k in METHOD_KEYS}
    overrides = parse_overrides(settings.get(con, METHOD_OVERRIDES.key, model=model))
    return DriftConfig(method=method, overrides=overrides, thresholds=thresholds)


def _choose(column: str, kind: str, n_reference: int, config: DriftConfig) -> tuple[str, str]:
    """The method for a column, and a note when a requested method did not fit its kind."""
    wanted = config.overrides.get(column) or (config.method if config.method != "auto" else None)
    if wanted is None:
        return auto_method(kind, n_reference), ""
    if kind in get_method(wanted).kinds:
        return wanted, ""
    chosen = auto_method(kind, n_reference)
    return chosen, f"{wanted} needs a numerical column; used {chosen}"


def compute(con: duckdb.DuckDBPyConnection, columns: list[tuple[str, bool, str]], config: DriftConfig, *,
            cache_key: tuple | None = None, histograms: bool = True) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Drift of ``columns`` (name, numeric type, role) between the temp tables, per period.

    Returns the result table (:data:`RESULT_COLUMNS`) and, if asked, the histograms of the single
    period (a summary).
    """
    sizes = binning.period_sizes(con, [c for c, _, _ in columns])
    periods = sorted(sizes, key=lambda p: (p is None, p))
    rows: list[dict[str, Any]] = []
    hists: dict[str, pd.DataFrame] = {}
    for column, numeric, role in columns:
        prof = binning.profile(con, column, numeric=numeric, cache_key=cache_key)
        method_key, note = _choose(column, prof.kind, prof.n, config)
        method = get_method(method_key)
        if prof.kind == CATEGORICAL:
            cur_counts, labels, ref_counts = binning.current_category_counts(con, prof)
        else:
            cur_counts, labels, ref_counts = binning.current_bin_counts(con, prof), prof.bin_labels(), prof.counts
        ecdf = binning.ecdf_distances(con, column, prof.n) if method_key in ("ks", "wasserstein") else {}
        ref_arr = np.asarray(ref_counts, dtype=np.int64)
        seen = len(prof.categories)
        for period in periods:
            n_cur, missing_cur = sizes[period][column]
            cur_arr = cur_counts.get(period, np.zeros(len(labels), dtype=np.int64))
            d, w1 = ecdf.get(period, (math.nan, math.nan))
            summary = binning_summary(prof, ref_arr, cur_arr, labels, n_cur, d, w1)
            statistic, p_value = method.compute(summary)
            threshold = config.threshold(method_key)
            unseen = [labels[i] for i in range(seen, len(labels)) if cur_arr[i] > 0 and labels[i] != binning.OTHER] \
                if prof.kind == CATEGORICAL else []
            notes = [note] if note else []
            if prof.n == 0:
                notes.append("no reference values (all missing)")
            if n_cur == 0:
                notes.append("no current values (all missing or no rows)")
            if unseen:
                notes.append(f"{len(unseen)} categories not in the reference")
            rows.append({
                "column": column, "kind": prof.kind, "method": method_key, "statistic": statistic,
                "p_value": p_value if method.uses_p_value else math.nan, "threshold": threshold,
                "drifted": method.drifted(statistic, p_value, threshold), "n_reference": prof.n, "n_current": n_cur,
                "period": period, "role": role, "missing_reference": prof.missing, "missing_current": missing_cur,
                "unseen_categories": ", ".join(unseen), "note": "; ".join(notes),
            })
            if histograms and len(periods) == 1:
                hists[column] = pd.DataFrame({
                    "bin": list(labels), "reference_count": ref_arr, "current_count": cur_arr,
                    "reference_share": ref_arr / ref_arr.sum() if ref_arr.sum() else np.nan,
                    "current_share": cur_arr / cur_arr.sum() if cur_arr.sum() else np.nan})
    table = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    table["drifted"] = table["drifted"].astype(object)
    return table, hists


def binning_summary(prof: binning.Profile, ref: np.ndarray, cur: np.ndarray, labels: tuple[str, ...], n_cur: int,
                    d: float, w1: float):
    """The :class:`~analytics.drift._methods.Summary` of one column and period."""
    from analytics.drift._methods import Summary

    return Summary(prof.kind, prof.n, n_cur, ref, cur, labels, d, w1, prof.std)


# --------------------------------------------------------------------------------------------------
# Loading the sides


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    for table in (binning.REF, binning.CUR):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _file_source(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        return "read_parquet(?)"
    if suffix in (".csv", ".tsv", ".txt"):
        return "read_csv(?, auto_detect = true)"
    raise InvalidInputError(f"{path}: use a .parquet or .csv file")


def compare_files(reference: str | Path, current: str | Path, *, columns: list[str] | None = None,
                  config: DriftConfig | None = None) -> DriftResult:
    """Drift of every shared column (or of ``columns``) between two Parquet or CSV files.

    Runs in a private in-memory DuckDB; the files are read once, by DuckDB, never into pandas.
    """
    config = config or DriftConfig()
    for path in (reference, current):
        if not Path(path).is_file():
            raise InvalidInputError(f"{path}: no such file")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # stdout carries the JSON of the CI gate
    try:
        types = []
        for name, path in (("_vigil_ref_file", reference), ("_vigil_cur_file", current)):
            con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {_file_source(path)} LIMIT 0", [str(path)])
            types.append(dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {name})").fetchall()))
        ref_types, cur_types = types
        shared = [c for c in ref_types if c in cur_types]
        if columns:
            missing = [c for c in columns if c not in shared]
            if missing:
                raise InvalidInputError(f"columns not in both files: {', '.join(missing)}; shared: {', '.join(shared)}")
            shared = list(columns)
        if not shared:
            raise InvalidInputError("the two files share no column")
        cols = ", ".join(quote(c) for c in shared)
        con.execute(f"CREATE TEMP TABLE {binning.REF} AS SELECT {cols} FROM {_file_source(reference)}",
                    [str(reference)])
        con.execute(f"CREATE TEMP TABLE {binning.CUR} AS SELECT '{SUMMARY}' AS _period, {cols} "
                    f"FROM {_file_source(current)}", [str(current)])
        spec = [(c, ref_types[c].split("(")[0] in NUMERIC_TYPES or ref_types[c].startswith("DECIMAL"), "column")
                for c in shared]
        table, hists = compute(con, spec, config)
        n_ref = con.execute(f"SELECT count(*) FROM {binning.REF}").fetchone()[0]
        n_cur = con.execute(f"SELECT count(*) FROM {binning.CUR}").fetchone()[0]
    finally:
        con.close()
    return DriftResult(table.drop(columns=[]), hists, str(reference), str(current), n_ref, n_cur)


def _columns(info, columns: list[str] | None) -> list[tuple[str, bool, str]]:
    declared = [(c.name, c.dtype in ("double", "integer"), c.role) for c in info.schema.columns]
    declared.append(("score", True, "score"))
    if columns:
        known = {c[0]: c for c in declared}
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise InvalidInputError(f"columns not declared by {info.name}: {', '.join(unknown)}")
        return [known[c] for c in columns]
    return declared


def _label(start: datetime | None, end: datetime | None) -> str:
    a = f"{start:%Y-%m-%d %H:%M}" if start else "the first prediction"
    b = f"{end:%Y-%m-%d %H:%M}" if end else "now"
    return f"{a} to {b} UTC"


def load_store_sides(con: duckdb.DuckDBPyConnection, model: str, *, version: str | None, start: datetime | None,
                     end: datetime | None, segment: str | None = None, segment_value: str | None = None,
                     baseline: tuple[datetime, datetime] | None = None, columns: list[str] | None = None,
                     period: str | None = None) -> tuple[list[tuple[str, bool, str]], tuple | None, str, str, str]:
    """Create the two temp tables for a model; return the column spec, profile cache key, labels and version.

    ``period``: ``None`` for one summary, ``"day"`` or ``"week"`` for drift over time.
    """
    info = get_model(con, model)
    version = version or champion_version(con, model)
    if version is None:
        raise InvalidInputError(f"{model} has no champion version; choose a version")
    get_version(con, model, version)
    con.execute("SET enable_progress_bar = false")  # never print into the CLI's JSON
    spec = _columns(info, columns)
    cols = ", ".join(quote(c) for c, _, _ in spec)
    _drop_temp(con)
    if baseline is None:
        con.execute(f"CREATE TEMP TABLE {binning.REF} AS SELECT {cols} FROM {reference_table(info.stem)} "
                    "WHERE model_version = ?", [version])
        if not con.execute(f"SELECT count(*) FROM {binning.REF}").fetchone()[0]:
            raise InvalidInputError(f"{model}:{version} has no reference data; compare against an earlier window")
        ref_label, cache_key = f"reference data of {version}", (str(con_path(con)), model, version)
    else:
        where, params = _where(info.schema, start=baseline[0], end=baseline[1], version=version, segment=segment,
                               segment_value=segment_value)
        con.execute(f"CREATE TEMP TABLE {binning.REF} AS SELECT {cols} FROM {predictions_view(info.stem)} p "
                    f"WHERE {where}", params)
        ref_label, cache_key = f"{version}, {_label(*baseline)}", None
    where, params = _where(info.schema, start=start, end=end, version=version, segment=segment,
                           segment_value=segment_value)
    period_sql = {None: f"'{SUMMARY}'", "day": "date_trunc('day', predicted_at)",
                  "week": "date_trunc('week', predicted_at)"}[period]
    con.execute(f"CREATE TEMP TABLE {binning.CUR} AS SELECT {period_sql} AS _period, {cols} "
                f"FROM {predictions_view(info.stem)} p WHERE {where}", params)
    segment_text = f", {segment} = {segment_value}" if segment else ""
    return spec, cache_key, ref_label, f"{version}, {_label(start, end)}{segment_text}", version


def con_path(con: duckdb.DuckDBPyConnection) -> str:
    """The file of the open store (the profile cache is per store)."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return row[0] if row else ""


def drift_summary(db: DbLike, model: str, *, start: datetime | None, end: datetime | None,
                  version: str | None = None, segment: str | None = None, segment_value: str | None = None,
                  baseline_start: datetime | None = None, baseline_end: datetime | None = None,
                  columns: tuple[str, ...] | None = None, method: str = "auto") -> DriftResult:
    """Drift of every declared column and the score in ``[start, end)`` against the reference.

    Parameters
    ----------
    db : path or connection
        The store.
    model : str
        A registered model.
    start, end : datetime or None
        The window (naive UTC, ``[start, end)``; None is open).
    version : str, optional
        The version whose rows and reference are compared; default the champion.
    segment, segment_value : str, optional
        Only rows of one segment.
    baseline_start, baseline_end : datetime, optional
        Compare against this earlier window of the log instead of the version's reference data.
    columns : tuple of str, optional
        Only these columns (default: every declared column and ``score``).
    method : str, default "auto"
        A method key for every column, or ``auto`` (per-column overrides from the settings still apply).
    """
    baseline = (baseline_start, baseline_end) if baseline_start is not None and baseline_end is not None else None

    def work(con: duckdb.DuckDBPyConnection) -> DriftResult:
        config = config_for_model(con, model, method)
        spec, key, ref_label, cur_label, _ = load_store_sides(
            con, model, version=version, start=start, end=end, segment=segment, segment_value=segment_value,
            baseline=baseline, columns=list(columns) if columns else None)
        try:
            table, hists = compute(con, spec, config, cache_key=key)
            n_ref = con.execute(f"SELECT count(*) FROM {binning.REF}").fetchone()[0]
            n_cur = con.execute(f"SELECT count(*) FROM {binning.CUR}").fetchone()[0]
        finally:
            _drop_temp(con)
        table = table.drop(columns=[])
        if n_cur == 0:
            table = table.iloc[0:0]
        return DriftResult(table, hists, ref_label, cur_label, n_ref, n_cur)

    return _run(db, work)
