"""The explanation sample kept in the store: each UTC day's lowest-hash predictions with their SHAP values.

A window's global explanation is SHAP on the window's first ``n`` predictions in the order of
``hash(prediction_id, seed)`` (:mod:`analytics.explain._sample`). That order is a property of each row,
so the window's first ``n`` rows are among the first ``n`` rows of each of its days. The summaries
engine (:mod:`analytics.summaries`, summary ``explain``, scope = the version) therefore keeps, per version
and UTC day, the day's first :data:`KEPT_ROWS` predictions for seed :data:`SEED` with the columns the
explanations read (the decision, the inputs and the segments, as text) and their SHAP values, and once
per version the SHAP values of the reference sample. A reader takes a window's sample from the kept rows
of the days the ledger calls fresh, and is exact by construction:

- the kept rows of a day are all of its rows whose hash is at most the day's largest kept hash
  (``explain_sample_days.max_hash``; every row when ``kept = rows``);
- let ``h`` be the ``n``-th smallest hash among the kept rows in the window (after the window's time
  bounds, segment and, for error analysis, "labelled"). The window's true first ``n`` rows all hash at
  most ``h``, so a day whose largest kept hash exceeds ``h`` holds all of them; any other day with rows
  left out (``kept < rows``) is read from the log, and so is every day not summarised yet;
- the sample is the first ``n`` rows of the kept and the log rows together: the same rows as from the
  log alone, with the same SHAP values (the kept ones were computed by the same model on the same rows).

Rows kept: ``explain.kept_rows_per_day`` (1,000 by default), the first ``explain.kept_shap_rows_per_day``
of them (250) with their SHAP values: SHAP costs about 0.65 ms a row for the demo's model, so keeping
them all would cost 2 minutes of CPU per 180 days, while the pages' windows of 30 and 90 days need
fewer than 250 rows a day for the default 5,000-row sample (a shorter window's other rows are explained
when read). The error analysis's 20,000 labelled rows need more rows a day than SHAP does, hence the two
numbers. Only the champion is kept by default, as for drift.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, time, timedelta

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from analytics import registry, settings, summaries
from analytics.explain._model import VersionInfo, can_load, load_model, version_info
from analytics.explain._sample import (HASH, SAMPLE_ROWS, observed_from, sample_reference, sample_size, sample_window,
                                       version_window)
from analytics.logschema import LogSchema, quote
from analytics.memo import Memo
from analytics.store import data_version, outcomes_view, predictions_view, store_path
from analytics.window import Window

KEPT_ROWS = settings.declare(
    "explain.kept_rows_per_day", 1000, "Predictions kept per version and UTC day (their decision, inputs and segments), "
    "from which the Explanations page draws a window's sample and the error analysis its labelled rows (0: keep "
    "none; every window is then read from the log)", unit="rows", minimum=0, maximum=50_000)
KEPT_SHAP_ROWS = settings.declare(
    "explain.kept_shap_rows_per_day", 250, "Of the predictions kept per version and day, how many (the first) are "
    "kept with their SHAP values; SHAP values of the others a window's sample needs are computed when it is read",
    unit="rows", minimum=0, maximum=50_000)
#: The seed of the kept sample (the pages' default); another seed reads the log.
SEED = 0


def kept_columns(schema: LogSchema) -> list[str]:
    """The log columns kept with each row: the decision, the inputs and the segments (what the explanations read)."""
    return list(dict.fromkeys(["decision", *(c.name for c in schema.features), *(c.name for c in schema.segments)]))


def _key(con: duckdb.DuckDBPyConnection, model: str, version: str) -> str | None:
    """What the kept rows depend on besides the log: the artifact, the columns, the rows per day, the seed and
    the reference sample's size (None: nothing kept for this version: no artifact here, or 0 rows per day)."""
    info = version_info(con, model, version)
    rows = int(settings.get(con, KEPT_ROWS.key, model=model))
    if not rows or not can_load(con, info):
        return None
    spec = [info.artifact_sha256, kept_columns(info.schema), rows, int(settings.get(con, KEPT_SHAP_ROWS.key, model=model)),
            SEED, int(settings.get(con, SAMPLE_ROWS.key, model=model))]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]


def _champion(con: duckdb.DuckDBPyConnection, model: str) -> tuple[str, ...]:
    """The versions kept by default: the champion (the page's default version)."""
    champion = registry.champion_version(con, model)
    return (champion,) if champion else ()


def fingerprint(frame: pd.DataFrame) -> str:
    """A fingerprint of a frame's values, row by row in order (which reference rows were sampled)."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:32]


def _shap_frame(values: np.ndarray) -> pd.DataFrame:
    """SHAP values as ``row_no`` and one column per input (``s0``, ``s1``...), to be packed into a list in SQL."""
    frame = pd.DataFrame(np.asarray(values, dtype=float), columns=[f"s{j}" for j in range(values.shape[1])])
    return frame.assign(row_no=np.arange(len(frame)))


def _packed(width: int, alias: str = "s") -> str:
    return "[" + ", ".join(f"{alias}.s{j}" for j in range(width)) + "]"


def _keep_version(con: duckdb.DuckDBPyConnection, info: VersionInfo, key: str, loaded) -> None:
    """Record what the version's kept rows mean and keep the reference sample's SHAP values (when the key changed)."""
    row = con.execute("SELECT key FROM explain_versions WHERE model_name = ? AND version = ?",
                      [info.model, info.version]).fetchone()
    if row is not None and row[0] == key:
        return
    con.execute("DELETE FROM explain_versions WHERE model_name = ? AND version = ?", [info.model, info.version])
    con.execute("DELETE FROM explain_reference WHERE model_name = ? AND version = ?", [info.model, info.version])
    explained = not loaded.artifact.needs_background
    reference = sample_reference(con, info, sample_size(con, info.model, None, agnostic=not explained), SEED)
    base, mark = None, None
    if explained and not reference.empty:
        values, base = loaded.contributions(reference)
        mark = fingerprint(reference[loaded.features])
        con.register("explain_reference_in", _shap_frame(values))
        try:
            con.execute(f"INSERT INTO explain_reference (model_name, version, row_no, shap) SELECT ?, ?, s.row_no, "
                        f"{_packed(values.shape[1])} "
                        "FROM explain_reference_in s", [info.model, info.version])
        finally:
            con.unregister("explain_reference_in")
    con.execute("INSERT INTO explain_versions (model_name, version, key, columns, features, explained, base_value, "
                "reference_fingerprint, built_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
                [info.model, info.version, key, kept_columns(info.schema), loaded.features, explained,
                 None if base is None else float(base), mark])


def _build(con: duckdb.DuckDBPyConnection, model: str, version: str, days: list[date]) -> None:
    """Keep the first rows of each of ``days`` for ``version``, the first of them with their SHAP values (the engine
    dropped the old rows)."""
    info = version_info(con, model, version)
    loaded = load_model(con, model, version, info=info)
    _keep_version(con, info, _key(con, model, version), loaded)
    columns = kept_columns(info.schema)
    inputs = [c.name for c in info.schema.features]
    on_days = summaries.days_filter(days)
    kept, explained = (int(settings.get(con, s.key, model=model)) for s in (KEPT_ROWS, KEPT_SHAP_ROWS))
    order = f"{{'hash': hash(p.prediction_id, {SEED}), 'id': p.prediction_id}}"
    view = predictions_view(info.stem)
    # The first rows of each day by a top-n aggregate (no sort of the day), then only those rows are read whole.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE explain_kept_in AS
        WITH firsts AS (
            SELECT CAST(p.predicted_at AS DATE) AS day, count(*) AS day_rows, min_by({order}, {order}, ?) AS kept
            FROM {view} p WHERE p.model_version = ? AND {on_days.sql} GROUP BY 1),
             ids AS (SELECT day, day_rows, unnest(kept, recursive := true) FROM firsts)
        SELECT row_number() OVER (ORDER BY i.day, i.hash, i.id) AS row_no,
               row_number() OVER (PARTITION BY i.day ORDER BY i.hash, i.id) AS place,
               i.day, p.prediction_id, p.predicted_at, i.hash, i.day_rows,
               [{", ".join(f"CAST(p.{quote(c)} AS VARCHAR)" for c in columns)}] AS "values",
               {", ".join(f"p.{quote(c)}" for c in inputs)}
        FROM {view} p JOIN ids i ON p.prediction_id = i.id
        WHERE p.model_version = ? AND {on_days.sql}
        """, [kept, version, *on_days.params, version, *on_days.params])
    registered = False
    try:
        shap, join = "NULL", ""
        frame = con.execute(f"SELECT row_no, {', '.join(quote(c) for c in inputs)} FROM explain_kept_in "
                            "WHERE place <= ? ORDER BY row_no", [explained]).df()
        if len(frame) and not loaded.artifact.needs_background:
            values, base = loaded.contributions(frame)
            con.register("explain_shap_in", _shap_frame(values).assign(row_no=frame["row_no"].to_numpy()))
            registered = True
            shap = f"CASE WHEN s.row_no IS NULL THEN NULL ELSE {_packed(values.shape[1])} END"
            join = "LEFT JOIN explain_shap_in s USING (row_no)"
            con.execute("UPDATE explain_versions SET base_value = ? WHERE model_name = ? AND version = ? "
                        "AND base_value IS NULL", [float(base), model, version])
        con.execute(f"""INSERT INTO explain_sample (model_name, version, day, prediction_id, predicted_at, hash, "values",
                        shap) SELECT ?, ?, k.day, k.prediction_id, k.predicted_at, k.hash,
                        k."values", {shap} FROM explain_kept_in k {join}""", [model, version])
        con.execute("INSERT INTO explain_sample_days (model_name, version, day, rows, kept, max_hash) "
                    "SELECT ?, ?, day, max(day_rows), count(*), max(hash) "
                    "FROM explain_kept_in GROUP BY day", [model, version])
    finally:
        if registered:
            con.unregister("explain_shap_in")
        con.execute("DROP TABLE IF EXISTS explain_kept_in")


#: The kept explanation sample, declared to the summaries engine: scoped by version (the champion by default).
EXPLAIN_SAMPLE = summaries.register(summaries.Declaration(
    name="explain", tables=(summaries.SummaryTable("explain_sample", scope_column="version"),
                            summaries.SummaryTable("explain_sample_days", scope_column="version")),
    build=_build, key=_key, scopes=_champion))


@dataclass(frozen=True)
class KeptVersion:
    """What a version's kept rows mean: the columns of ``values``, the inputs of ``shap``, the base value."""

    key: str
    columns: tuple[str, ...]
    features: tuple[str, ...]
    explained: bool
    base_value: float | None
    reference_fingerprint: str | None


def kept_version(con: duckdb.DuckDBPyConnection, info: VersionInfo, seed: int) -> KeptVersion | None:
    """The version's kept sample when it answers ``seed`` and was built with the current key, else None."""
    if seed != SEED or not summaries.has_segments(con, info.model):
        return None
    key = _key(con, info.model, info.version)
    row = con.execute("SELECT key, columns, features, explained, base_value, reference_fingerprint FROM explain_versions "
                      "WHERE model_name = ? AND version = ?", [info.model, info.version]).fetchone()
    if key is None or row is None or row[0] != key:
        return None
    return KeptVersion(row[0], tuple(row[1]), tuple(row[2]), bool(row[3]), row[4], row[5])


def kept_reference_shap(con: duckdb.DuckDBPyConnection, info: VersionInfo, kept: KeptVersion,
                        frame: pd.DataFrame) -> np.ndarray | None:
    """The kept SHAP values of the reference sample ``frame`` when it is the sample they were computed on, else None."""
    if not kept.explained or kept.reference_fingerprint != fingerprint(frame[list(kept.features)]):
        return None
    rows = con.execute("SELECT shap FROM explain_reference WHERE model_name = ? AND version = ? ORDER BY row_no",
                       [info.model, info.version]).fetchall()
    return np.array([r[0] for r in rows], dtype=float).reshape(len(rows), len(kept.features))


@dataclass(frozen=True)
class WindowSample:
    """A window's seeded sample and where each part came from.

    Attributes
    ----------
    rows : DataFrame
        The sampled predictions in sample order: :data:`~analytics.explain._sample.HASH`, ``prediction_id``,
        the columns asked for, and ``label`` when labelled.
    shap : ndarray, optional
        The kept SHAP values of each row (rows x :attr:`features`; NaN for rows read from the log and
        kept rows beyond ``explain.kept_shap_rows_per_day``), or None when none were asked for or none are kept.
    features : tuple of str
        The inputs of :attr:`shap`, in the model's order.
    base_value : float, optional
        The kept base value (log-odds).
    kept : bool
        Whether the version keeps a sample for this seed (else everything was read from the log).
    log_days : tuple of date
        With :attr:`kept`: the UTC days of the window read from the log (not summarised yet, or with
        too few rows kept for this window).
    """

    rows: pd.DataFrame
    shap: np.ndarray | None = None
    features: tuple[str, ...] = ()
    base_value: float | None = None
    kept: bool = False
    log_days: tuple[date, ...] = ()

    @property
    def unexplained(self) -> np.ndarray:
        """Which rows have no kept SHAP values (read from the log, or kept without): computed when explained."""
        if self.shap is None:
            return np.ones(len(self.rows), dtype=bool)
        return np.isnan(self.shap).any(axis=1) if self.shap.size else np.zeros(len(self.rows), dtype=bool)


def sample_note(kept: bool, log_days: tuple[date, ...]) -> str:
    """One sentence for a reader: was a window's sample taken from the kept sample, the log, or both."""
    if not kept:
        return ("Sampled from the log: the store keeps an explanation sample of the champion for seed 0 "
                "(built by 'vigil refresh' and after each ingest).")
    if log_days:
        shown = ", ".join(f"{d:%Y-%m-%d}" for d in log_days[:3]) + (f" and {len(log_days) - 3} more" if len(log_days) > 3 else "")
        return (f"{len(log_days)} day(s) of the window ({shown}) were read from the log: not summarised yet "
                "(run 'vigil refresh'), or too few rows kept for this window; the rest from the kept sample.")
    return "Sampled from the explanation sample the store keeps per day: the same rows as from the log."


def window_days(window: Window) -> tuple[date | None, date | None]:
    """The UTC days covering ``[start, end)``: the first (inclusive) and the day after the last (None: open)."""
    first = window.start.date() if window.start is not None else None
    if window.end is None:
        return first, None
    return first, window.end.date() + (timedelta(days=1) if window.end.time() != time() else timedelta())


def _log_types(con: duckdb.DuckDBPyConnection, stem: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {predictions_view(stem)}").fetchall()}


# The labels of the kept rows of some days, kept in this process while the store's data (its last ingest and audited
# change: a retention is audited) and the kept rows' key are unchanged. Finding them probes the id of every outcome
# observed since the first day (24.8 M ids, 0.7-1 CPU-s, for 90 days at 100 M rows); the window's sample joined with them
# costs 0.3 s. Kept as Arrow: DuckDB scans it without converting it. The next hour's window (the same days) and the
# other targets reuse them.
_LABELS: Memo[pa.Table] = Memo(8)


def _kept_labels(con: duckdb.DuckDBPyConnection, info: VersionInfo, kept: KeptVersion, days: list[date]) -> pa.Table:
    """The labelled kept rows of ``days``: ``prediction_id`` and ``label``."""

    def find() -> pa.Table:
        # The outcomes of the kept rows only: a join of the whole outcome log hashed it (1.2 s at 10 M rows), the
        # semi-join hashes the kept ids (0.2 s). Outcomes observed before the first day cannot be theirs: their row
        # groups are skipped.
        return con.execute(
            f"SELECT prediction_id, label FROM {outcomes_view(info.stem)} WHERE label IS NOT NULL AND observed_at >= ? "
            "AND prediction_id IN (SELECT prediction_id FROM explain_sample WHERE model_name = ? AND version = ? "
            "AND list_contains(?, day))", [observed_from(None, days), info.model, info.version, days]).to_arrow_table()

    return _LABELS.get((str(store_path(con)), data_version(con), info.model, info.version, kept.key, tuple(days)), find)


def _kept_rows(con: duckdb.DuckDBPyConnection, info: VersionInfo, kept: KeptVersion, window: Window, days: list[date],
               n: int, columns: list[str], labelled: bool, with_shap: bool) -> pd.DataFrame:
    """The first ``n`` kept rows of ``days`` in the window, decoded to the log's types."""
    types = _log_types(con, info.stem)
    position = {c: i + 1 for i, c in enumerate(kept.columns)}
    decoded = [f"CAST(s.\"values\"[{position[c]}] AS {types[c]}) AS {quote(c)}" for c in columns if c != "prediction_id"]
    clauses, params = ["s.model_name = ?", "s.version = ?", "list_contains(?, s.day)"], [info.model, info.version, days]
    if window.start is not None:
        clauses.append("s.predicted_at >= ?")
        params.append(window.start)
    if window.end is not None:
        clauses.append("s.predicted_at < ?")
        params.append(window.end)
    if window.segment is not None:
        clauses.append(f"s.\"values\"[{position[window.segment]}] = ?")
        params.append(window.segment_value)
    where, order = " AND ".join(clauses), "ORDER BY s.hash, s.prediction_id"
    picked = ", ".join([f"s.hash AS {HASH}", "s.day AS kept_day", "s.prediction_id", *decoded])
    if labelled:
        con.register("explain_labels_in", _kept_labels(con, info, kept, days))
        try:
            return con.execute(f"SELECT {picked}, o.label{', s.shap' if with_shap else ''} FROM explain_sample s "
                               f"JOIN explain_labels_in o ON o.prediction_id = s.prediction_id WHERE {where} {order} "
                               "LIMIT ?", [*params, int(n)]).df()
        finally:
            con.unregister("explain_labels_in")
    # The n-th hash first (the hash and id of the window's kept rows), then only the rows up to it are read whole
    # (their values and SHAP values): 0.33-0.5 -> 0.11-0.18 CPU-s for the default sample at 10 M rows.
    cut = con.execute(f"SELECT max(h) FROM (SELECT s.hash AS h FROM explain_sample s WHERE {where} {order} LIMIT ?)",
                      [*params, int(n)]).fetchone()[0]
    return con.execute(f"SELECT {picked}{', s.shap' if with_shap else ''} FROM explain_sample s WHERE {where} "
                       f"AND s.hash <= CAST(? AS UBIGINT) {order} LIMIT ?", [*params, cut, int(n)]).df()


def window_sample(con: duckdb.DuckDBPyConnection, info: VersionInfo, window: Window | None, n: int, seed: int, *,
                  columns: list[str], labelled: bool = False, with_shap: bool = False) -> WindowSample:
    """The window's first ``n`` rows for ``seed`` (``prediction_id`` and ``columns``), from the kept sample where it
    answers and from the log elsewhere: the rows :func:`~analytics.explain._sample.sample_window` reads from the log.

    Parameters
    ----------
    columns : list of str
        Log columns wanted (``prediction_id`` and kept columns: decision, inputs, segments).
    labelled : bool
        Only labelled predictions, with their ``label``.
    with_shap : bool
        Return the kept SHAP values (only when the version's kept rows have them).
    """
    window = version_window(info, window)
    columns = list(dict.fromkeys(["prediction_id", *columns]))
    kept = kept_version(con, info, seed)
    if kept is None or not set(columns) <= {"prediction_id", *kept.columns} or (with_shap and not kept.explained):
        return WindowSample(sample_window(con, info, window, n, seed, labelled=labelled, columns=columns))
    first, stop = window_days(window)
    cover = summaries.coverage(con, EXPLAIN_SAMPLE.name, info.model, scope=info.version, key=kept.key,
                               start=first, end=stop)
    days = sorted(cover.summarised)
    rows = _kept_rows(con, info, kept, window, days, n, columns, labelled, with_shap) if days else pd.DataFrame()
    cut = int(rows[HASH].iloc[-1]) if len(rows) == n else None
    short = [r[0] for r in con.execute(
        "SELECT day FROM explain_sample_days WHERE model_name = ? AND version = ? AND list_contains(?, day) "
        "AND kept < rows AND (CAST(? AS UBIGINT) IS NULL OR max_hash <= CAST(? AS UBIGINT)) ORDER BY day",
        [info.model, info.version, days, cut, cut]).fetchall()] if days else []
    log_days = sorted({*cover.unsummarised, *short})
    parts = []
    if len(rows):
        parts.append(rows[~pd.to_datetime(rows["kept_day"]).dt.date.isin(set(short))].drop(columns="kept_day"))
    if log_days:
        parts.append(sample_window(con, info, window, n, seed, labelled=labelled, columns=columns, days=log_days))
    merged = (pd.concat(parts, ignore_index=True) if parts else
              sample_window(con, info, window, 0, seed, labelled=labelled, columns=columns))
    merged = merged.sort_values([HASH, "prediction_id"], kind="stable").head(n).reset_index(drop=True)
    shap = None
    if with_shap:
        width = len(kept.features)
        shap = np.full((len(merged), width), np.nan)
        if "shap" in merged:
            stored = merged["shap"].notna().to_numpy()
            if stored.any():
                shap[stored] = np.vstack([np.asarray(v, dtype=float) for v in merged.loc[stored, "shap"]])
            merged = merged.drop(columns="shap")
    return WindowSample(merged, shap, kept.features, kept.base_value, True, tuple(log_days))
