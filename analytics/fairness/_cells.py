"""Confusion-matrix cells per sensitive group, counted inside DuckDB.

A *cell* is one combination of (version, UTC day, sensitive groups, true label, decision) with its
row count and summed business value. Every fairness number is a ratio of sums of cells, so a window
is answered by summing cells, never by re-reading the log.

``y_true`` and ``y_pred`` are recoded so that 1 is the **favourable** outcome (see
:func:`favourable_decision`); ``y_true = -1`` marks a prediction whose outcome has not arrived.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from analytics import config, summaries
from analytics.input_files import check_csv_header, first_line
from analytics.errors import InvalidInputError
from analytics.logschema import LogSchema, quote_any
from analytics.memo import Memo
from analytics.store import outcomes_view, predictions_view

MISSING = "(missing)"
#: Age bands for numeric sensitive attributes (ages): lower edges and labels, as in the demo's AGE_BAND.
AGE_EDGES: tuple[int, ...] = (25, 35, 45, 60)
AGE_LABELS: tuple[str, ...] = ("<25", "25-34", "35-44", "45-59", "60+")
CELL_COLUMNS = ("y_true", "y_pred", "n", "value")


@dataclass(frozen=True)
class Attribute:
    """A sensitive attribute as fairness groups it: its key, source column and bands (numeric only)."""

    key: str
    column: str
    banded: bool = False

    def sql(self, alias: str = "p") -> str:
        """SQL expression of the group label (text; NULL becomes ``(missing)``)."""
        col = f"{alias}.{quote_any(self.column)}"
        if not self.banded:
            return f"coalesce(CAST({col} AS VARCHAR), '{MISSING}')"
        whens = " ".join(f"WHEN {col} < {edge} THEN '{label}'" for edge, label in zip(AGE_EDGES, AGE_LABELS))
        return f"CASE WHEN {col} IS NULL THEN '{MISSING}' {whens} ELSE '{AGE_LABELS[-1]}' END"


def sensitive_attributes(schema: LogSchema) -> list[Attribute]:
    """The model's declared sensitive attributes, numeric ones (ages) put into age bands.

    A numeric attribute whose banded twin is declared too (``AGE`` and ``AGE_BAND``) is left out.
    """
    names = {c.name.upper() for c in schema.sensitive}
    out = []
    for c in schema.sensitive:
        if c.dtype in ("integer", "double"):
            if f"{c.name.upper()}_BAND" in names:
                continue
            out.append(Attribute(f"{c.name}_band", c.name, banded=True))
        else:
            out.append(Attribute(c.name, c.name))
    return out


def favourable_decision(schema: LogSchema, model: str = "the model") -> int:
    """The decision value that is favourable to the person (0 or 1), as the model's spec declares it.

    Raises
    ------
    InvalidInputError
        If the schema does not declare ``favourable_decision``: it is never guessed.
    """
    if schema.favourable_decision is None:
        raise InvalidInputError(
            f"{model} does not declare which decision is favourable to the person: add "
            "favourable_decision = 0 or 1 to its model spec and run 'vigil models register SPEC.toml'")
    return int(schema.favourable_decision)


def _recode(frame: pd.DataFrame, favourable: int) -> pd.DataFrame:
    """Turn raw ``decision``/``label`` into favourable-coded ``y_pred``/``y_true`` (-1 = unlabelled)."""
    label = frame.pop("label")
    decision = frame.pop("decision")
    frame["y_pred"] = (decision.astype("int64") == favourable).astype("int8")
    known = label.notna()
    y_true = np.full(len(frame), -1, dtype="int8")
    y_true[known.to_numpy()] = (label[known].astype("int64") == favourable).astype("int8").to_numpy()
    frame["y_true"] = y_true
    frame["n"] = frame["n"].astype("int64")
    frame["value"] = frame["value"].astype("float64").fillna(0.0)
    return frame


def _categorical(values: pd.Series, banded: bool) -> pd.Series:
    """Group labels as a categorical; age bands in age order, ``(missing)`` last."""
    values = values.astype(object)
    if banded:
        return pd.Categorical(values, categories=[*AGE_LABELS, MISSING], ordered=True)
    return values.astype("category")


def _cells_sql(stem: str, attrs: list[Attribute], where: str = "TRUE") -> str:
    """The cells of the log (``p``) joined with its outcomes (``o``): per version, UTC day, group of each
    attribute (a list, in ``attrs`` order), raw decision and label, the rows and the summed business value."""
    groups = "[" + ", ".join(a.sql() for a in attrs) + "]"
    return f"""
        SELECT p.model_version AS version, CAST(p.predicted_at AS DATE) AS day, {groups} AS groups,
               p.decision AS decision, o.label AS label, count(*) AS n, sum(o.business_value) AS value
        FROM {predictions_view(stem)} p LEFT JOIN {outcomes_view(stem)} o ON o.prediction_id = p.prediction_id
        WHERE p.decision IS NOT NULL AND {where}
        GROUP BY ALL"""


def _summary_key(con: duckdb.DuckDBPyConnection, model: str, scope: str) -> str | None:
    """What the kept cells depend on besides the log: the attributes and their bands (None: none declared)."""
    row = con.execute("SELECT log_schema FROM models WHERE model_name = ?", [model]).fetchone()
    attrs = sensitive_attributes(LogSchema.from_json(row[0])) if row else []
    if not attrs:
        return None
    spec = [[a.key, a.column, a.banded] for a in attrs] + [list(AGE_EDGES), list(AGE_LABELS), MISSING]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]


def _build(con: duckdb.DuckDBPyConnection, model: str, scope: str, days: list[date]) -> None:
    """Insert the cells of ``days`` computed from the log (the engine dropped the old ones)."""
    stem, schema = con.execute("SELECT table_stem, log_schema FROM models WHERE model_name = ?", [model]).fetchone()
    on_days = summaries.days_filter(days)
    con.execute(f"INSERT INTO fairness_cells (model_name, version, day, groups, decision, label, n, value) "
                f"SELECT ?, * FROM ({_cells_sql(stem, sensitive_attributes(LogSchema.from_json(schema)), on_days.sql)})",
                [model, *on_days.params])


#: The cells kept per UTC day in the store, declared to the summaries engine (outcomes arrive late).
FAIRNESS_CELLS = summaries.register(summaries.Declaration(
    name="fairness", tables=(summaries.SummaryTable("fairness_cells"),), build=_build, key=_summary_key,
    outcomes=True))


def daily_cells(con: duckdb.DuckDBPyConnection, stem: str, schema: LogSchema, favourable: int,
                model: str | None = None) -> pd.DataFrame:
    """Cells per version and UTC day over a model's whole log.

    Given the ``model``, the days the store keeps summarised (:data:`FAIRNESS_CELLS`) are read from
    ``fairness_cells`` and only the others from the log (one join of predictions with outcomes over
    those days); else the whole log is joined.

    Returns
    -------
    DataFrame
        ``version``, ``day`` and ``week`` (UTC midnight starting the day and its ISO week), one column per :func:`sensitive_attributes` key, ``y_true``, ``y_pred``,
        ``n`` (rows) and ``value`` (summed business value of the labelled rows).
    """
    attrs = sensitive_attributes(schema)
    parts, params = [], []
    cover = (summaries.coverage(con, FAIRNESS_CELLS.name, model)
             if model is not None and attrs and summaries.has_segments(con, model) else None)
    if cover is not None and cover.summarised:
        parts.append("SELECT version, day, groups, decision, label, n, value FROM fairness_cells "
                     "WHERE model_name = ? AND list_contains(?, day)")
        params += [model, sorted(cover.summarised)]
        if cover.unsummarised:
            on_days = summaries.days_filter(list(cover.unsummarised))
            parts.append(_cells_sql(stem, attrs, on_days.sql))
            params += on_days.params
    else:
        parts.append(_cells_sql(stem, attrs))
    groups = ", ".join(f"groups[{i + 1}] AS {quote_any(a.key)}" for i, a in enumerate(attrs))
    frame = con.execute(
        f"""
        SELECT version, CAST(day AS TIMESTAMP) AS day, CAST(date_trunc('week', day) AS TIMESTAMP) AS week, {groups},
               decision, label, n, value
        FROM ({" UNION ALL ".join(f"({p})" for p in parts)})
        """, params).df()
    for a in attrs:
        frame[a.key] = _categorical(frame[a.key], a.banded)
    frame["version"] = frame["version"].astype(object).astype("category")
    return _recode(frame, favourable)


# A process-wide cache of daily cells, keyed by store, model and data-version token: the first
# request after an ingest pays one join over the log; every window after that sums cells.
_CELLS: Memo[pd.DataFrame] = Memo(8)


def cells_token(con: duckdb.DuckDBPyConnection, model: str) -> str:
    """A token that changes when a committed ingest (predictions or outcomes) of ``model`` lands.

    Governance changes (approvals, recommendations) leave it alone, so they do not force a recount.
    """
    row = con.execute("SELECT count(*), max(ingest_id), max(finished_at) FROM ingests "
                      "WHERE model_name = ? AND status = 'committed'", [model]).fetchone()
    return f"{row[0]}-{row[1]}-{row[2]}"


def cached_daily_cells(con: duckdb.DuckDBPyConnection, db_key: str, model: str, stem: str, schema: LogSchema,
                       favourable: int) -> pd.DataFrame:
    """:func:`daily_cells`, reused while :func:`cells_token` is unchanged."""
    return _CELLS.get((db_key, model, favourable, cells_token(con, model)),
                      lambda: daily_cells(con, stem, schema, favourable, model))


def day_range(start: datetime | None, end: datetime | None) -> tuple[date | None, date | None]:
    """Whole UTC days covering ``[start, end)``: the first day (inclusive) and the day after the last."""
    first = start.date() if start is not None else None
    if end is None:
        return first, None
    stop = end.date() + (timedelta(days=1) if end.time() != datetime.min.time() else timedelta())
    return first, stop


def window(cells: pd.DataFrame, *, start: datetime | None, end: datetime | None,
           version: str | None) -> pd.DataFrame:
    """The cells of one version over the whole UTC days covering ``[start, end)``."""
    first, stop = day_range(start, end)
    keep = np.ones(len(cells), dtype=bool)
    if version:
        keep &= (cells["version"] == version).to_numpy()
    if first is not None:
        keep &= (cells["day"] >= pd.Timestamp(first)).to_numpy()
    if stop is not None:
        keep &= (cells["day"] < pd.Timestamp(stop)).to_numpy()
    return cells[keep]


def _open_file(path: str | Path, needed: list[str]) -> tuple[duckdb.DuckDBPyConnection, str, Path]:
    """An in-memory DuckDB connection, the table function reading ``path``, and the path; columns checked."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        source = "read_parquet(?)"
    elif suffix in (".csv", ".txt"):
        source = "read_csv(?, header = true)"
    else:
        raise InvalidInputError(f"{path.name}: use a .parquet or .csv file")
    if suffix != ".parquet":
        check_csv_header(path)
    con = config.cap_threads(duckdb.connect())
    try:
        columns = set(con.execute(f"SELECT * FROM {source} LIMIT 0", [str(path)]).df().columns)
    except duckdb.Error as exc:
        con.close()
        raise InvalidInputError(f"{path.name} cannot be read: {first_line(exc)}") from None
    missing = [c for c in needed if c not in columns]
    if missing:
        con.close()
        raise InvalidInputError(f"{path.name} has no column {', '.join(missing)}; it has {', '.join(sorted(columns))}")
    return con, source, path


def file_cells(path: str | Path, *, y_true: str, y_pred: str, sensitive: list[str]) -> pd.DataFrame:
    """Cells of a Parquet or CSV file of predictions (``y_true``/``y_pred`` coded 0/1, 1 favourable)."""
    con, source, path = _open_file(path, [y_true, y_pred, *sensitive])
    try:
        groups = ", ".join(f"{Attribute(s, s).sql('f')} AS {quote_any(s)}" for s in sensitive)
        frame = con.execute(
            f"""SELECT {groups}, CAST(f.{quote_any(y_pred)} AS INTEGER) AS decision, CAST(f.{quote_any(y_true)} AS INTEGER) AS label,
                       count(*) AS n, 0.0 AS value
                FROM {source} f GROUP BY ALL""", [str(path)]).df()
    except duckdb.Error as exc:
        raise InvalidInputError(f"{path.name} cannot be read: {first_line(exc)}") from None
    finally:
        con.close()
    bad = set(frame["decision"].dropna().unique()) - {0, 1} | set(frame["label"].dropna().unique()) - {0, 1}
    if bad or frame["decision"].isna().any():
        raise InvalidInputError(f"{y_true} and {y_pred} must hold 0 or 1 ({y_pred} never empty); found {', '.join(str(v) for v in sorted(bad)[:5])}"
                                + (f" and {len(bad) - 5} more values" if len(bad) > 5 else ""))
    for name in sensitive:
        frame[name] = frame[name].astype(object).astype("category")
    return _recode(frame, 1)


def score_histogram(con: duckdb.DuckDBPyConnection, stem: str, attribute: Attribute, *, start: datetime | None,
                    end: datetime | None, version: str | None, favourable: int, bins: int = 1000) -> pd.DataFrame:
    """Labelled predictions per group, true label and score bin (``floor(score * bins)``), for the what-if.

    Returns ``group``, ``y_true`` (1 = favourable), ``bin``, ``decision`` (raw), ``n`` and ``value``.
    """
    first, stop = day_range(start, end)
    where, params = ["p.score IS NOT NULL", "o.label IS NOT NULL"], []
    if version:
        where.append("p.model_version = ?")
        params.append(version)
    if first is not None:
        where.append("p.predicted_at >= ?")
        params.append(datetime.combine(first, datetime.min.time()))
        where.append("o.observed_at >= ?")  # an outcome is observed after its prediction: prunes the join
        params.append(datetime.combine(first, datetime.min.time()))
    if stop is not None:
        where.append("p.predicted_at < ?")
        params.append(datetime.combine(stop, datetime.min.time()))
    frame = con.execute(
        f"""
        SELECT {attribute.sql()} AS "group", o.label AS label,
               least(CAST(floor(p.score * {int(bins)}) AS INTEGER), {int(bins) - 1}) AS bin,
               p.decision AS decision, count(*) AS n, sum(o.business_value) AS value
        FROM {predictions_view(stem)} p JOIN {outcomes_view(stem)} o ON o.prediction_id = p.prediction_id
        WHERE {' AND '.join(where)}
        GROUP BY ALL
        """, params).df()
    frame["y_true"] = (frame.pop("label").astype("int64") == favourable).astype("int8")
    frame["n"] = frame["n"].astype("int64")
    frame["value"] = frame["value"].astype("float64").fillna(0.0)
    return frame


def file_score_histogram(path: str | Path, *, y_true: str, y_pred: str, score: str, sensitive: str,
                         bins: int = 1000) -> pd.DataFrame:
    """:func:`score_histogram` for a file: labelled rows per group, outcome and score bin (no business value).

    The file's decisions must be ``score >= threshold`` (1 = favourable), as the what-if assumes.
    """
    con, source, path = _open_file(path, [y_true, y_pred, score, sensitive])
    try:
        frame = con.execute(
            f"""SELECT {Attribute(sensitive, sensitive).sql('f')} AS "group", CAST(f.{quote_any(y_true)} AS INTEGER) AS y_true,
                       least(CAST(floor(f.{quote_any(score)} * {int(bins)}) AS INTEGER), {int(bins) - 1}) AS bin,
                       CAST(f.{quote_any(y_pred)} AS INTEGER) AS decision, count(*) AS n, 0.0 AS value
                FROM {source} f WHERE f.{quote_any(y_true)} IS NOT NULL AND f.{quote_any(score)} IS NOT NULL
                GROUP BY ALL""", [str(path)]).df()
    except duckdb.Error as exc:
        raise InvalidInputError(f"{path.name} cannot be read: {first_line(exc)}") from None
    finally:
        con.close()
    frame["n"] = frame["n"].astype("int64")
    return frame
