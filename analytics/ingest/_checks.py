"""Row-level validation written as DuckDB SQL over one Arrow batch.

:func:`typed_select` builds one query that casts every expected column to its declared type and
collects, per row, the list of reasons the row cannot be loaded (missing value, unparseable value,
NaN or infinity, out of range, unknown model version, future timestamp). Messages name the column
and quote the offending value between single quotes (so that a report can count problems of one kind
by dropping the quoted parts); the row number is kept beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from analytics.logschema import quote, text_literal

_TRUE = "('1','1.0','true','t','yes','y')"
_FALSE = "('0','0.0','false','f','no','n')"


@dataclass(frozen=True)
class Rules:
    """What a kind of row must satisfy, beyond its column types.

    Attributes
    ----------
    columns : dict
        Expected column -> DuckDB type.
    required : frozenset
        Columns that may not be missing.
    allowed : dict
        Column -> allowed text values (e.g. registered model versions).
    ranges : dict
        Column -> (low, high) inclusive bounds; None for an open side.
    not_in_future : frozenset
        Timestamp columns that may not lie after the ingest's start (plus a tolerance).
    """

    columns: dict[str, str]
    required: frozenset[str]
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    not_in_future: frozenset[str] = frozenset()


def _is_text(arrow_type: pa.DataType) -> bool:
    """Whether Arrow stores the column as text (pandas >= 3 gives ``large_string`` for ``str`` columns)."""
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type)


def _typed(name: str, sql_type: str, arrow_type: pa.DataType) -> str:
    src = quote(name)
    if sql_type == "VARCHAR":
        return f"NULLIF(trim(CAST({src} AS VARCHAR)), '')" if not _is_text(arrow_type) else f"NULLIF(trim({src}), '')"
    if sql_type == "DOUBLE":
        return f"TRY_CAST({src} AS DOUBLE)"
    if sql_type in ("BIGINT", "TINYINT"):
        if pa.types.is_integer(arrow_type) or pa.types.is_boolean(arrow_type):
            return f"TRY_CAST({src} AS {sql_type})"
        if sql_type == "TINYINT" and _is_text(arrow_type):
            lowered = f"lower(trim({src}))"
            return f"(CASE WHEN {lowered} IN {_TRUE} THEN 1 WHEN {lowered} IN {_FALSE} THEN 0 END)::TINYINT"
        # DuckDB rounds 3.5 to 4 when casting to an integer: accept whole numbers only.
        as_double = f"TRY_CAST({src} AS DOUBLE)"
        return f"(CASE WHEN {as_double} = floor({as_double}) THEN TRY_CAST({as_double} AS {sql_type}) END)"
    if sql_type == "BOOLEAN":
        if pa.types.is_boolean(arrow_type):
            return src
        lowered = f"lower(trim(CAST({src} AS VARCHAR)))"
        return f"(CASE WHEN {lowered} IN {_TRUE} THEN TRUE WHEN {lowered} IN {_FALSE} THEN FALSE END)"
    if sql_type == "TIMESTAMP":
        if pa.types.is_timestamp(arrow_type):
            return f"timezone('UTC', CAST({src} AS TIMESTAMPTZ))" if arrow_type.tz else f"CAST({src} AS TIMESTAMP)"
        if pa.types.is_date(arrow_type):
            return f"CAST({src} AS TIMESTAMP)"
        # Text (and anything else, e.g. a categorical): parse it; what does not parse is reported.
        return f"timezone('UTC', TRY_CAST(CAST({src} AS VARCHAR) AS TIMESTAMPTZ))"
    raise ValueError(f"no cast for {sql_type}")


_TYPE_WORDS = {
    "VARCHAR": "text",
    "DOUBLE": "number",
    "BIGINT": "whole number",
    "TINYINT": "0 or 1",
    "BOOLEAN": "true or false",
    "TIMESTAMP": "timestamp (ISO 8601, e.g. 2026-01-31T12:00:00Z)",
}


def typed_select(rules: Rules, arrow_schema: pa.Schema, source: str, *, now_literal: str) -> str:
    """Return SQL selecting ``__row``, every typed column and ``__reasons`` from ``source``.

    Parameters
    ----------
    rules : Rules
        What the rows must satisfy.
    arrow_schema : pyarrow.Schema
        Schema of the source batch (decides how each column is cast).
    source : str
        Name of the registered relation holding the batch (with a ``__row`` column).
    now_literal : str
        SQL timestamp literal of the latest acceptable time for ``not_in_future`` columns.
    """
    typed_cols = []
    checks: list[tuple[str, str]] = []  # (condition, message) per possible problem
    for name, sql_type in rules.columns.items():
        col = quote(name)
        raw = f't."__src_{name}"'
        arrow_type = arrow_schema.field(name).type
        typed_cols.append(f'src.{col} AS "__src_{name}"')
        typed_cols.append(f"{_typed(name, sql_type, arrow_type)} AS {col}")
        value = f"'''' || CAST(t.{col} AS VARCHAR) || ''''"
        # Only text can hold an empty value; other types are missing only when NULL.
        blank = f" OR trim(CAST({raw} AS VARCHAR)) = ''" if _is_text(arrow_type) else ""
        filled = f" AND trim(CAST({raw} AS VARCHAR)) <> ''" if _is_text(arrow_type) else ""
        if name in rules.required:
            checks.append((f"t.{col} IS NULL AND ({raw} IS NULL{blank})", text_literal(name + ": missing value")))
        checks.append((
            f"t.{col} IS NULL AND {raw} IS NOT NULL{filled}",
            f"{text_literal(name + ': ')} || '''' || left(CAST({raw} AS VARCHAR), 60) || '''' || "
            f"{text_literal(' is not a valid ' + _TYPE_WORDS[sql_type])}",
        ))
        if sql_type == "DOUBLE":
            checks.append((
                f"NOT isfinite(t.{col})",
                f"{text_literal(name + ': ')} || {value} || "
                + text_literal(" is not allowed (NaN and infinity are not values; "
                               "leave the cell empty if it is missing)"),
            ))
        if name in rules.ranges:
            low, high = rules.ranges[name]
            conds = []
            if low is not None:
                conds.append(f"t.{col} < {low!r}")
            if high is not None:
                conds.append(f"t.{col} > {high!r}")
            bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
            checks.append((" OR ".join(conds),
                           f"{text_literal(name + ': ')} || {value} || {text_literal(' is outside ' + bounds)}"))
        if name in rules.allowed:
            values = rules.allowed[name]
            # With no allowed value at all, every value is refused (NOT IN (NULL) would accept all).
            condition = (f"t.{col} NOT IN ({', '.join(text_literal(v) for v in values)})" if values
                         else f"t.{col} IS NOT NULL")
            hint = ", ".join(values[:10]) or "none registered"
            checks.append((condition,
                           f"{text_literal(name + ': ')} || {value} || {text_literal(' is not one of: ' + hint)}"))
        if name in rules.not_in_future:
            checks.append((f"t.{col} > {now_literal}",
                           f"{text_literal(name + ': ')} || {value} || {text_literal(' is in the future')}"))
    outputs = ", ".join(f"t.{quote(name)}" for name in rules.columns)
    # The list of reasons is built only for rows that fail some check: most rows pass, and building a
    # list per row would cost more than all the checks together.
    failing = " OR ".join(f"coalesce({condition}, FALSE)" for condition, _ in checks)
    listed = ", ".join(f"CASE WHEN {condition} THEN {message} END" for condition, message in checks)
    reasons = f"CASE WHEN {failing} THEN list_filter([{listed}], r -> r IS NOT NULL) ELSE []::VARCHAR[] END"
    return (
        f"SELECT t.__row, {outputs}, {reasons} AS __reasons "
        f"FROM (SELECT src.__row, {', '.join(typed_cols)} FROM {source} AS src) AS t"
    )
