"""The portfolio overview: one row per model, its traffic, outcome coverage and realised performance.

Every function here is pure: it takes the store (a path, or an open DuckDB connection, run through
:func:`analytics.store.run`) and a :class:`analytics.window.Window` (the time span, version and
segment value; it builds its own SQL filter), aggregates inside DuckDB, and returns a small pandas
frame or dict. Nothing here knows about Streamlit; the app caches these results keyed by their
parameters and :func:`analytics.store.data_version`.

Conventions
-----------
- Times are naive UTC ``datetime`` values, as stored. A window is ``[start, end)``; ``None`` means
  open on that side.
- The *previous window* of ``[start, end)`` is the window of equal length just before it
  (:func:`analytics.window.previous_window`); deltas compare the two.
- Predictions and outcomes are read through the ``predictions_<stem>`` and ``outcomes_<stem>``
  views, so rows of an ingest that is still running are never counted.
- Each model costs one scan of its predictions since 7 days before ``now`` (traffic counts, no
  join), one count of the previous window's predictions (:func:`analytics.performance.window_count`:
  the performance summary's cells for the whole UTC days it holds, a plain count of the log for the
  rest), and one read of the window's score cells (:func:`analytics.performance.window_cells`: the
  performance summary for the whole UTC days it holds, the log joined with the outcomes for the partial
  days at the window's edges and the days not summarised yet), aggregated once into daily counts per
  version and the score histograms per version and label, of which the ROC AUC.
- The realised ROC AUC is read off the score histogram of each label of those cells
  (:class:`analytics.performance.HistogramAuc`): every labelled row counts; pairs of a positive and a
  negative in one fine score bin count one half, so it lies within ``auc_bound`` of
  :func:`sklearn.metrics.roc_auc_score` on the same rows (exactly equal when no two distinct scores
  share a bin, e.g. scores with up to four decimals). The rows and positives behind it are returned
  with it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from analytics import performance
from analytics.errors import InvalidInputError
from analytics.logschema import LogSchema, quote
from analytics.registry import ModelInfo, get_model, list_models
from analytics.store import DbLike, predictions_view, run
from analytics.window import Window, segment_columns

#: Columns of :func:`portfolio`, in order.
PORTFOLIO_COLUMNS: tuple[str, ...] = (
    "model", "owner", "description", "champion_version", "latest_version", "latest_status", "versions",
    "predictions_24h", "predictions_prev_24h", "predictions_7d",
    "predictions", "predictions_previous", "labelled", "labelled_share",
    "last_prediction_at",
    "auc_version", "validation_auc", "realised_auc", "auc_rows", "auc_positives", "auc_bound", "auc_delta",
)


# --------------------------------------------------------------------------------------------------
# Realised ROC AUC inside DuckDB


def realised_auc(con: duckdb.DuckDBPyConnection, info: ModelInfo, window: Window = Window()) -> dict[str, Any]:
    """ROC AUC of the labelled predictions in ``window``, read off the score histogram of each label.

    Returns
    -------
    dict
        ``auc`` (NaN when fewer than one positive and one negative), ``bound`` (the most it differs from
        :func:`sklearn.metrics.roc_auc_score` on the same rows, see
        :class:`analytics.performance.HistogramAuc`), ``rows`` and ``positives``.
    """
    cells = performance.window_cells(con, info, window)
    row = con.execute(performance.auc_sql(f"({cells.sql})"), cells.params).fetchone()
    return _auc(*row)


# --------------------------------------------------------------------------------------------------
# One model: one scan for traffic, one join for outcomes, daily counts and the ROC AUC


#: Columns of the ``daily`` frame of :class:`Portfolio`, in order.
DAILY_COLUMNS: tuple[str, ...] = ("day", "model", "version", "predictions", "labelled")


@dataclass(frozen=True)
class Portfolio:
    """What the Overview draws, from one pass over each model's log.

    Attributes
    ----------
    models : DataFrame
        One row per model, :data:`PORTFOLIO_COLUMNS` (see :func:`model_summary`).
    daily : DataFrame
        Predictions and labelled predictions per UTC day and version in the window,
        :data:`DAILY_COLUMNS`, ordered by model, day and version.
    """

    models: pd.DataFrame
    daily: pd.DataFrame


def _versions(con: duckdb.DuckDBPyConnection, model: str) -> pd.DataFrame:
    return con.execute(
        "SELECT version, status, created_at, validation_metrics FROM model_versions WHERE model_name = ? "
        "ORDER BY created_at, version", [model]).df()


def _validation_auc(metrics_json: Any) -> float:
    if metrics_json is None or (isinstance(metrics_json, float) and math.isnan(metrics_json)):
        return math.nan
    metrics = json.loads(metrics_json) if isinstance(metrics_json, str) else dict(metrics_json)
    value = metrics.get("roc_auc")
    return float(value) if value is not None else math.nan


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def _empty_daily() -> pd.DataFrame:
    return pd.DataFrame({
        "day": pd.Series(dtype="datetime64[us]"), "model": pd.Series(dtype="object"),
        "version": pd.Series(dtype="object"), "predictions": pd.Series(dtype="int64"),
        "labelled": pd.Series(dtype="int64")})


#: Columns of :func:`traffic` (the part of a summary that moves with ``now``).
TRAFFIC_COLUMNS: tuple[str, ...] = (
    "model", "predictions_24h", "predictions_prev_24h", "predictions_7d", "predictions_previous",
    "last_prediction_at",
)


def _traffic_pass(con: duckdb.DuckDBPyConnection, info: ModelInfo, *, now: datetime, window: Window) -> dict[str, Any]:
    """The counts relative to ``now`` from one scan of the recent rows, and the previous window's count.

    The 24-hour and 7-day counts are not day-aligned: one scan of the prediction view from 7 days
    before ``now`` (no join) answers them, time-ordered segments pruned by their statistics; the last
    prediction time is looked up over the whole log only when no recent row exists. The previous
    window's count is :func:`analytics.performance.window_count` (its kept cells for the whole days they
    hold, a plain count of the log for the rest), not a scan of its rows.
    """
    recent = window.between(now - timedelta(days=7), None).where(info.schema)
    p24, p_prev24, p7d, last_at = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE p.predicted_at >= ?),
               count(*) FILTER (WHERE p.predicted_at >= ? AND p.predicted_at < ?),
               count(*),
               max(p.predicted_at)
        FROM {predictions_view(info.stem)} p WHERE {recent.sql}
        """,
        [now - timedelta(hours=24), now - timedelta(hours=48), now - timedelta(hours=24), *recent.params],
    ).fetchone()
    if last_at is None:
        where = window.between(None, None).where(info.schema)
        last_at = con.execute(f"SELECT max(p.predicted_at) FROM {predictions_view(info.stem)} p WHERE {where.sql}",
                              where.params).fetchone()[0]
    previous = window.previous(now)
    return {
        "model": info.name,
        "predictions_24h": int(p24),
        "predictions_prev_24h": int(p_prev24),
        "predictions_7d": int(p7d),
        "predictions_previous": performance.window_count(con, info, previous) if previous is not None else math.nan,
        "last_prediction_at": last_at,
    }


def _daily_sql(cells: str, *, by_version: bool, bins: bool = False) -> str:
    """The query of the counts per UTC day of ``cells`` (a relation of :func:`analytics.performance.window_cells`'s
    cells): ``day`` (midnight UTC), [``version``,] ``predictions``, ``labelled``; for :func:`window_view` and
    :func:`daily_volume`.

    With ``bins`` (and ``by_version``), the same aggregate also counts the rows per version, label and score
    bin (``label``, ``bin``; ``day`` NULL), the histograms of the ROC AUC: one pass over the cells instead of
    a copy of them read twice. ``per_bin`` tells the two kinds of rows apart (1: a bin's).
    """
    split = ", version" if by_version else ""
    grouping = f"GROUP BY GROUPING SETS ((day{split}), (version, label, bin))" if bins else "GROUP BY ALL"
    per_bin = ", label, bin, grouping(day) AS per_bin" if bins else ""
    return (f"SELECT CAST(day AS TIMESTAMP) AS day{split}, sum(n) AS predictions, "
            f"coalesce(sum(n) FILTER (WHERE label IS NOT NULL), 0) AS labelled{per_bin} FROM {cells} {grouping}")


def _window_pass(con: duckdb.DuckDBPyConnection, info: ModelInfo, *, window: Window) -> tuple[dict[str, Any], pd.DataFrame]:
    """Registry state, and the window's score cells read once, in one aggregate: daily counts per version and
    the score histograms per version and label, of which the ROC AUC of one version (see :func:`realised_auc`)."""
    versions = _versions(con, info.name)
    champions = versions[versions["status"] == "champion"]
    champion = str(champions.iloc[-1]["version"]) if len(champions) else None
    latest = versions.iloc[-1] if len(versions) else None
    auc_version = window.version or champion or (str(latest["version"]) if latest is not None else None)
    cells = performance.window_cells(con, info, window)
    rows = con.execute(
        f"""
        WITH counted AS MATERIALIZED ({_daily_sql(f"({cells.sql})", by_version=True, bins=True)})
        SELECT day, version, predictions, labelled, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE
        FROM counted WHERE per_bin = 0
        UNION ALL
        SELECT NULL, NULL, NULL, NULL, * FROM ({performance.auc_sql(
            "(SELECT label, bin, predictions AS n FROM counted WHERE per_bin = 1 AND version = ?)")})
        """,
        [*cells.params, auc_version],
    ).fetchall()
    daily_rows = [r[:4] for r in rows if r[0] is not None]
    auc = _auc(*next((r[4:] for r in rows if r[0] is None), (0.0, 0.0, 0.0, 0.0)))
    daily = pd.DataFrame(daily_rows, columns=["day", "version", "predictions", "labelled"])
    daily.insert(1, "model", info.name)
    daily = (daily.sort_values(["day", "version"]).reset_index(drop=True)
             .astype({"predictions": "int64", "labelled": "int64"}) if len(daily) else _empty_daily())

    in_window, labelled = int(daily["predictions"].sum()), int(daily["labelled"].sum())
    validation = math.nan
    if auc_version is not None:
        match = versions[versions["version"] == auc_version]
        if len(match):
            validation = _validation_auc(match.iloc[0]["validation_metrics"])
    summary = {
        "model": info.name,
        "owner": info.owner,
        "description": info.description,
        "champion_version": champion,
        "latest_version": str(latest["version"]) if latest is not None else None,
        "latest_status": str(latest["status"]) if latest is not None else None,
        "versions": int(len(versions)),
        "predictions": in_window,
        "labelled": labelled,
        "labelled_share": _share(labelled, in_window),
        "auc_version": auc_version,
        "validation_auc": validation,
        "realised_auc": auc["auc"],
        "auc_rows": auc["rows"],
        "auc_positives": auc["positives"],
        "auc_bound": auc["bound"],
        "auc_delta": auc["auc"] - validation,
    }
    return summary, daily[list(DAILY_COLUMNS)]


def _auc(positives: Any, negatives: Any, auc_pairs: Any, tied_pairs: Any) -> dict[str, Any]:
    """The ROC AUC, its bound, labelled rows and positives from the sums of :func:`analytics.performance.auc_sql`."""
    positives, negatives = float(positives or 0), float(negatives or 0)
    auc = performance.HistogramAuc.of(positives, negatives, auc_pairs, tied_pairs)
    return {"auc": float(auc.auc), "bound": float(auc.bound), "rows": int(positives + negatives),
            "positives": int(positives)}


def model_summary(db: DbLike, model: str, *, now: datetime, window: Window = Window()) -> dict[str, Any]:
    """Summarise one model: registry state, traffic, outcome coverage and realised ROC AUC.

    Parameters
    ----------
    db : path or connection
        The store.
    model : str
        A registered model.
    now : datetime
        The reference time (naive UTC) of "last 24 hours" and "last 7 days".
    window : Window
        The window ``[start, end)`` of the window figures, and the version or segment value every
        figure is restricted to (see :class:`analytics.window.Window`); all rows by default.

    Returns
    -------
    dict
        The keys of :data:`PORTFOLIO_COLUMNS`. ``predictions`` and ``labelled`` count the window;
        ``predictions_previous`` the window of equal length before it (NaN when the window is
        unbounded). ``realised_auc`` is read off the score histograms of the labelled rows of
        ``auc_version`` in the window (the chosen version, else the champion, else the latest
        version): ``auc_rows`` rows of which ``auc_positives`` positive; it lies within
        ``auc_bound`` of the exact ROC AUC of those rows; ``validation_auc`` is that
        version's ``validation_metrics['roc_auc']`` in the registry; NaN where undefined.
    """
    return model_view(db, model, now=now, window=window).models.iloc[0].to_dict()


def model_view(db: DbLike, model: str, *, now: datetime, window: Window = Window()) -> Portfolio:
    """:func:`model_summary` and the model's daily volume by version, in one unit of work."""

    def work(con: duckdb.DuckDBPyConnection) -> Portfolio:
        return combine(traffic(con, now=now, window=window, model=model),
                       window_view(con, window=window, model=model))

    return run(db, work)


# --------------------------------------------------------------------------------------------------
# The portfolio, and its two halves (cached separately by the app)


def portfolio(db: DbLike = None, *, now: datetime, window: Window = Window()) -> Portfolio:
    """Every registered model, by name: one summary row each and the daily volume by version.

    The same as ``combine(traffic(...), window_view(...))``: per model one scan (traffic) and one
    join (the window); see :func:`model_summary` for the columns. With no model registered both
    frames are empty, with their documented columns. ``window`` gives the time span only (a version
    or segment belongs to one model: see :func:`model_view`).
    """

    def work(con: duckdb.DuckDBPyConnection) -> Portfolio:
        return combine(traffic(con, now=now, window=window),
                       window_view(con, window=window))

    return run(db, work)


def _one_or_all(con: duckdb.DuckDBPyConnection, model: str | None, window: Window) -> list[ModelInfo]:
    _check_filter_has_model(model, window)
    return [get_model(con, model)] if model else list_models(con)


def _check_filter_has_model(model: str | None, window: Window) -> None:
    if model is None and window.filtered:
        raise InvalidInputError("a version or segment filter needs a model: choose a model, or drop the filter")


def traffic(db: DbLike = None, *, now: datetime, window: Window = Window(), model: str | None = None) -> pd.DataFrame:
    """The cheap half of a summary, which moves with ``now``: per model one scan of its recent rows, no join.

    The previous window's count is read by :func:`analytics.performance.window_count`.

    Returns
    -------
    DataFrame
        :data:`TRAFFIC_COLUMNS`, one row per model (all, or ``model``): predictions in the 24 hours
        before ``now``, in the 24 hours before those, in the 7 days before ``now``, in the window
        before ``window`` (NaN when unbounded), and the last prediction time; each restricted to the
        window's version and segment value.
    """

    def work(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        rows = [_traffic_pass(con, info, now=now, window=window) for info in _one_or_all(con, model, window)]
        return pd.DataFrame(rows, columns=list(TRAFFIC_COLUMNS))

    return run(db, work)


def window_view(db: DbLike = None, *, window: Window = Window(), model: str | None = None) -> Portfolio:
    """The costly half, which depends only on the window: one join of predictions and outcomes per model.

    Returns
    -------
    Portfolio
        ``models`` holds the registry columns and the window's counts, outcome share and ROC AUC
        (the traffic columns are NaN until :func:`combine`); ``daily`` the window's counts per day
        and version.
    """
    def work(con: duckdb.DuckDBPyConnection) -> Portfolio:
        rows, days = [], []
        for info in _one_or_all(con, model, window):
            summary, daily = _window_pass(con, info, window=window)
            rows.append(summary)
            days.append(daily)
        models = pd.DataFrame(rows, columns=list(PORTFOLIO_COLUMNS))
        daily = pd.concat([d for d in days if len(d)], ignore_index=True) if any(len(d) for d in days) \
            else _empty_daily()
        return Portfolio(models, daily[list(DAILY_COLUMNS)])

    return run(db, work)


def combine(traffic_frame: pd.DataFrame, window: Portfolio) -> Portfolio:
    """Fill a :func:`window_view`'s traffic columns from a :func:`traffic` frame (matched by model)."""
    models = window.models.drop(columns=[c for c in TRAFFIC_COLUMNS if c != "model"])
    models = models.merge(traffic_frame, on="model", how="left")[list(PORTFOLIO_COLUMNS)]
    return Portfolio(models.reset_index(drop=True), window.daily)


def totals(frame: pd.DataFrame) -> dict[str, Any]:
    """Portfolio totals of the ``models`` frame of a :class:`Portfolio`.

    Returns
    -------
    dict
        ``models``, ``with_champion``, ``predictions``, ``predictions_previous``,
        ``predictions_24h``, ``predictions_prev_24h``, ``labelled``, ``labelled_share``
        (NaN where undefined).
    """
    if frame.empty:
        return {"models": 0, "with_champion": 0, "predictions": 0, "predictions_previous": math.nan,
                "predictions_24h": 0, "predictions_prev_24h": 0, "labelled": 0, "labelled_share": math.nan}
    has_previous = bool(frame["predictions_previous"].notna().all())
    predictions = int(frame["predictions"].sum())
    labelled = int(frame["labelled"].sum())
    return {
        "models": int(len(frame)),
        "with_champion": int(frame["champion_version"].notna().sum()),
        "predictions": predictions,
        "predictions_previous": int(frame["predictions_previous"].sum()) if has_previous else math.nan,
        "predictions_24h": int(frame["predictions_24h"].sum()),
        "predictions_prev_24h": int(frame["predictions_prev_24h"].sum()),
        "labelled": labelled,
        "labelled_share": _share(labelled, predictions),
    }


def daily_by_model(daily: pd.DataFrame) -> pd.DataFrame:
    """Sum a ``daily`` frame over versions: ``day``, ``model``, ``predictions``, ``labelled``."""
    if daily.empty:
        return pd.DataFrame({"day": pd.Series(dtype="datetime64[us]"), "model": pd.Series(dtype="object"),
                             "predictions": pd.Series(dtype="int64"), "labelled": pd.Series(dtype="int64")})
    return (daily.groupby(["model", "day"], as_index=False)[["predictions", "labelled"]].sum()
            [["day", "model", "predictions", "labelled"]])


# --------------------------------------------------------------------------------------------------
# Volume over time


def daily_volume(db: DbLike = None, *, window: Window = Window(), model: str | None = None,
                 by_version: bool = False) -> pd.DataFrame:
    """Predictions and labelled predictions per UTC day, per model (and per version if asked).

    Parameters
    ----------
    window : Window
        The rows counted (see :class:`analytics.window.Window`); all rows by default.
    model : str, optional
        One model; all registered models when omitted (then the window may not name a version or
        segment, since they belong to one model).
    by_version : bool
        Split each day by ``model_version``.

    Returns
    -------
    DataFrame
        ``day`` (midnight UTC), ``model``, [``version``,] ``predictions``, ``labelled``, ordered by
        model, day (and version). Days without predictions are absent.
    """
    _check_filter_has_model(model, window)

    def work(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        frames = []
        for info in _one_or_all(con, model, window):
            cells = performance.window_cells(con, info, window)
            frames.append(con.execute(
                f"SELECT ? AS model, * FROM ({_daily_sql(f'({cells.sql})', by_version=by_version)}) ORDER BY ALL",
                [info.name, *cells.params],
            ).df())
        columns = ["day", "model", *(["version"] if by_version else []), "predictions", "labelled"]
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype="int64") for c in columns}).astype(
                {"day": "datetime64[us]", "model": "object", **({"version": "object"} if by_version else {})})
        out = pd.concat(frames, ignore_index=True)[columns]
        return out.astype({"predictions": "int64", "labelled": "int64"})

    return run(db, work)


# --------------------------------------------------------------------------------------------------
# Options for the context pickers


def context_options(db: DbLike = None) -> list[dict[str, Any]]:
    """For each registered model: its name, versions (oldest first), champion and segment columns."""

    def work(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
        out = []
        for info in list_models(con):
            versions = _versions(con, info.name)
            champions = versions[versions["status"] == "champion"]
            out.append({
                "model": info.name,
                "versions": [str(v) for v in versions["version"]],
                "statuses": {str(v): str(s) for v, s in zip(versions["version"], versions["status"])},
                "champion": str(champions.iloc[-1]["version"]) if len(champions) else None,
                "segments": segment_columns(info.schema),
            })
        return out

    return run(db, work)


def segment_values(db: DbLike, model: str, segment: str, *, limit: int = 200) -> list[str]:
    """The most frequent values of a segment column in a model's log (at most ``limit``), as text."""
    if limit < 1:
        raise InvalidInputError("limit must be a positive number")

    def work(con: duckdb.DuckDBPyConnection) -> list[str]:
        info = get_model(con, model)
        if segment not in segment_columns(info.schema):
            raise InvalidInputError(
                f"{segment!r} is not a segment column of {model!r}; segment columns: "
                f"{', '.join(segment_columns(info.schema)) or 'none declared'}")
        col = quote(segment)
        rows = con.execute(
            f"SELECT CAST({col} AS VARCHAR) AS v, count(*) AS n FROM {predictions_view(info.stem)} "
            f"WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY n DESC, v LIMIT ?", [limit]).fetchall()
        return [r[0] for r in rows]

    return run(db, work)


def model_schema(db: DbLike, model: str) -> LogSchema:
    """The declared log schema of ``model``: its columns' titles and its words for decisions and outcomes."""
    return run(db, lambda con: get_model(con, model).schema)
